"""The rejection file of an XML upload is PARS learner XML: the rejected records as they were read, each with
its error code and description, re-readable so that the corrected file dropped back is a new batch.

Schema validity of these files is checked in tests/test_xml_schema.py (it needs ../shared).
"""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

from lxml import etree
from PySide6.QtCore import Qt
from sqlalchemy import select

from app.cli import main as cli_main
from app.models import CompletionRow
from app.pars.batch import load_batch
from app.pars.domain import BoardPart, Status
from app.pars.xml_codec import NS_HX, REJECTION_CODE, REJECTION_DESCRIPTION, VALUE_AS_READ
from app.ui.batch_upload import BatchUploadTab
from tests.batch_support import AS_OF, add_activity, completion, statuses, write_xml
from tests.test_batch_upload_tab import attest_and_queue, drop_and_wait_summary, save_rejections
from tests.ui_support import make_context, make_window

# Only ABIM is registered for the activity: a record also reporting ABP fails (and keeps both boards).
TWO_BOARDS = replace(completion(2, credit_id="ccid:lms:two-boards"), boards=[
    BoardPart("ABIM", "100002", Decimal("4"), {"Medical Knowledge": Decimal("4")}),
    BoardPart("ABP", "200002", Decimal("3"), {"Lifelong Learning & Self-Assessment": Decimal("3")}),
])
# A completion date that is not a date: the schema cannot hold it where it belongs.
BAD_DATE = replace(completion(3, credit_id="ccid:lms:bad-date"), completion_date="13-45-2026")
VALID = completion(1, credit_id="ccid:lms:valid")


def lms_export(tmp_path: Path) -> Path:
    return write_xml(tmp_path / "lms.xml", [VALID, TWO_BOARDS, BAD_DATE])


def extension_values(path: Path, name: str) -> list[str]:
    root = etree.parse(str(path)).getroot()
    return [element.text for element in root.iter(f"{{{NS_HX}}}{name}")]


def correct(path: Path, out: Path) -> Path:
    """What the coordinator does in an editor: drop ABP from the two-board record, give the other a date."""
    text = path.read_text(encoding="utf-8")
    root = etree.fromstring(text.encode("utf-8"))
    for certificate in list(root.iter("{*}CreditCertificate")):
        certification = certificate.find("{*}CreditReceived/{*}activityCertification")
        if certification is not None and certification.text.startswith("ABP"):
            certificate.getparent().remove(certificate)
    for unique in list(root.iter("{*}UniqueID")):
        if unique.get("domain", "").endswith("ABP"):
            unique.getparent().remove(unique)
    for module in root.iter("{*}Module"):
        if module.find("{*}CompletedDateTime") is None:
            completed = etree.Element(module.find("{*}Status").tag.replace("Status", "CompletedDateTime"))
            completed.text = "2026-01-06T00:00:00"
            module.find("{*}Status").addnext(completed)
    out.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    return out


def test_import_of_xml_writes_an_xml_rejection_file_with_only_the_rejected_records_as_read(store, tmp_path):
    add_activity(store)
    source = lms_export(tmp_path)
    assert cli_main(["import", str(source), "--db", store.location, "--as-of", AS_OF.isoformat()]) == 1

    rejections = tmp_path / "lms-rejections.xml"
    assert rejections.is_file() and not (tmp_path / "lms-rejections.xlsx").exists()
    assert stat.S_IMODE(os.stat(rejections).st_mode) == 0o600
    read_back = load_batch(rejections)
    assert read_back.format == "xml"
    # exactly the rejected records, as read: both boards of the first, everything of the second but the date
    assert [r.completion.credit_id for r in read_back.records] == ["ccid:lms:two-boards", "ccid:lms:bad-date"]
    assert read_back.records[0].completion == replace(TWO_BOARDS, permission=True)
    assert read_back.records[1].completion == replace(BAD_DATE, completion_date=None, permission=True)
    # the reason travels with each record: code, description, and the value the schema cannot hold
    codes = extension_values(rejections, REJECTION_CODE)
    with store.session() as s:
        from app.models.schema import UploadLine

        stored = s.execute(select(UploadLine.error_code, UploadLine.error_message)
                           .where(UploadLine.error_code.is_not(None)).order_by(UploadLine.row_number)).all()
    assert codes == [str(code) for code, _ in stored]
    assert extension_values(rejections, REJECTION_DESCRIPTION) == [message for _, message in stored]
    assert extension_values(rejections, VALUE_AS_READ) == ["13-45-2026"]
    comments = [c.text for c in etree.parse(str(rejections)).getroot().iter(etree.Comment)]
    assert [c.split("rejected ")[1].split(":")[0] for c in comments] == codes
    assert "record 2 of lms.xml" in comments[0] and "record 3 of lms.xml" in comments[1]

    # The coordinator corrects the file and drops it back: a new batch, both records queued as they now read.
    fixed = correct(rejections, tmp_path / "lms-fixed.xml")
    assert cli_main(["import", str(fixed), "--db", store.location, "--as-of", AS_OF.isoformat()]) == 0
    assert not (tmp_path / "lms-fixed-rejections.xml").exists()
    queued = {credit: status for credit, status in statuses(store).items()}
    assert queued == {"ccid:lms:valid": "Queued", "ccid:lms:two-boards": "Queued", "ccid:lms:bad-date": "Queued"}
    with store.session() as s:
        record = s.scalars(select(CompletionRow).where(CompletionRow.credit_id == "ccid:lms:bad-date")).one()
        assert record.completion_date == date(2026, 1, 6) and [b.board for b in record.boards] == ["ABIM"]


def test_check_writes_xml_rejections_for_an_xml_file_and_a_workbook_on_request(tmp_path, capsys):
    from app.pars.activities_json import write_activities
    from tests.batch_support import ACTIVITY

    activities = tmp_path / "activities.json"
    write_activities(activities, [ACTIVITY])
    source = lms_export(tmp_path)
    base = ["check", str(source), "--activities", str(activities), "--as-of", AS_OF.isoformat()]
    assert cli_main([*base, "--rejections", str(tmp_path / "out.xml")]) == 1
    read_back = load_batch(tmp_path / "out.xml")
    assert [r.completion.credit_id for r in read_back.records] == ["ccid:lms:two-boards", "ccid:lms:bad-date"]
    assert stat.S_IMODE(os.stat(tmp_path / "out.xml").st_mode) == 0o600
    assert cli_main([*base, "--rejections", str(tmp_path / "out.xlsx")]) == 1
    assert load_batch(tmp_path / "out.xlsx").format == "xlsx"
    # a clean file: nothing rejected, no (schema-invalid, empty) XML file
    clean = write_xml(tmp_path / "clean.xml", [VALID])
    capsys.readouterr()
    assert cli_main(["check", str(clean), "--activities", str(activities), "--as-of", AS_OF.isoformat(),
                     "--rejections", str(tmp_path / "none.xml")]) == 0
    assert not (tmp_path / "none.xml").exists() and "not written" in capsys.readouterr().err


def test_download_rejections_in_the_window_saves_xml_for_an_xml_upload_and_the_fixed_file_queues(
    qtbot, store, tmp_path
):
    add_activity(store)
    window = make_window(qtbot, make_context(store))
    upload: BatchUploadTab = window.upload_tab
    upload.as_of = AS_OF
    window.tabs.setCurrentWidget(upload)
    drop_and_wait_summary(qtbot, upload, lms_export(tmp_path))
    assert (upload.analysis.adds, upload.analysis.with_errors) == (1, 2)
    attest_and_queue(qtbot, upload)
    assert upload.last_rejections_button.isVisible()

    offered: list[tuple[str, str]] = []

    def save_path(_caption: str, suggested: str, file_filter: str) -> Path:
        offered.append((suggested, file_filter))
        return tmp_path / suggested

    upload.save_path = save_path
    save_rejections(qtbot, upload, lambda: qtbot.mouseClick(upload.last_rejections_button, Qt.MouseButton.LeftButton))
    assert offered == [("lms-rejections.xml", "PARS learner XML (*.xml);;Excel workbook (*.xlsx)")]
    saved = tmp_path / "lms-rejections.xml"
    assert "2 rejected records saved" in upload.message_label.text()
    assert stat.S_IMODE(os.stat(saved).st_mode) == 0o600
    assert [r.completion.credit_id for r in load_batch(saved).records] == ["ccid:lms:two-boards", "ccid:lms:bad-date"]

    # The workbook stays on offer: choosing .xlsx in the dialog writes the rejection workbook.
    upload.save_path = lambda *_args: tmp_path / "as-workbook.xlsx"
    save_rejections(qtbot, upload, lambda: upload.download_rejections(window.upload_tab.history[0].upload_id))
    assert load_batch(tmp_path / "as-workbook.xlsx").format == "xlsx"

    drop_and_wait_summary(qtbot, upload, correct(saved, tmp_path / "lms-fixed.xml"))
    assert (upload.analysis.adds, upload.analysis.with_errors) == (2, 0), upload.analysis.problems()
    attest_and_queue(qtbot, upload)
    assert set(statuses(store).values()) == {Status.QUEUED.value}
    assert len(statuses(store)) == 3


def test_an_xml_upload_rejected_on_the_pars_website_comes_back_in_its_xml_rejection_file(store, tmp_path):
    """XML in → upload-file route (XML upload file) → PARS's rejection workbook taken in → the import's XML
    rejection file holds the record PARS rejected (as sent, with its creditID) beside the one that failed
    locally (as read) → corrected and dropped back: a resubmission and a new record."""
    import httpx

    from app.services.batch_import import write_upload_rejections
    from app.services.pars_upload import prepare_upload, store_runner
    from tests.sync_support import add_activity as add_route_activity
    from tests.sync_support import running_sandbox

    # ParsDesk believes the activity has 10 CME credits; PARS knows 8, so it rejects 9 with 674.
    add_route_activity(store, accme_id="123456789", cme_credits=Decimal("10"))
    fits, too_many = (replace(completion(n, credit_id=f"ccid:lms:r{n}", cme=cme), boards=[])
                      for n, cme in ((1, "4"), (2, "9")))
    unreadable = replace(completion(3, credit_id="ccid:lms:r3"), boards=[], completion_date="13-45-2026")
    source = write_xml(tmp_path / "lms.xml", [fits, too_many, unreadable])
    db = ["--db", store.location, "--as-of", AS_OF.isoformat()]
    assert cli_main(["import", str(source), *db]) == 1
    folder = tmp_path / "for PARS"
    folder.mkdir()
    [upload_file] = prepare_upload(store_runner(store), folder, file_format="xml").files
    with running_sandbox() as website:
        answer = httpx.post(f"{website.url}/_sandbox/batch-upload", params={"name": upload_file.path.name},
                            content=upload_file.path.read_bytes(), auth=("demo", "demo-sandbox"))
    assert answer.status_code == 200 and answer.headers["X-PARS-Rejected"] == "1"
    (tmp_path / "PARS rejections.xlsx").write_bytes(answer.content)
    assert cli_main(["upload-results", str(tmp_path / "PARS rejections.xlsx"), "--db", store.location]) == 0
    assert statuses(store)["ccid:lms:r2"] == Status.REJECTED.value

    with store.session() as s:
        from app.models.schema import UploadRow

        upload_id = s.scalars(select(UploadRow.id).where(UploadRow.file_name == "lms.xml")).one()
        assert write_upload_rejections(s, upload_id, tmp_path / "again.xml") == 2
    again = load_batch(tmp_path / "again.xml").records
    assert [r.completion.credit_id for r in again] == ["ccid:lms:r2", "ccid:lms:r3"]
    assert extension_values(tmp_path / "again.xml", REJECTION_CODE)[0] == "674"
    assert again[0].completion.cme.credits == Decimal("9")

    text = (tmp_path / "again.xml").read_text(encoding="utf-8").replace(
        "<hx:numberOfCredits>9</hx:numberOfCredits>", "<hx:numberOfCredits>8</hx:numberOfCredits>")
    fixed = correct_text(text, tmp_path / "fixed.xml")
    assert cli_main(["import", str(fixed), *db]) == 0
    with store.session() as s:
        rows = {row.credit_id: row for row in s.scalars(select(CompletionRow))}
    resubmission = next(row for row in rows.values() if row.replaces_id == rows["ccid:lms:r2"].id)
    assert (resubmission.status, resubmission.cme_credits) == (Status.QUEUED.value, Decimal("8"))
    assert resubmission.credit_id != "ccid:lms:r2"  # PARS never takes a creditID twice
    assert rows["ccid:lms:r3"].status == Status.QUEUED.value


def correct_text(text: str, out: Path) -> Path:
    out.write_text(text, encoding="utf-8")
    return correct(out, out)
