"""`parsdesk check` and `parsdesk activities`: the user's round trip from template to a clean file."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.cli import main
from app.models import Store
from app.models.schema import ActivityRow
from app.pars.activities_json import read_activities, write_activities
from app.pars.domain import Activity, BoardPart, BoardRegistration, CmePart, Completion, Learner, Status
from app.pars.excel import F_ERROR_CODE, HEADERS, completion_to_values, write_template
from app.services import records
from app.services.activities import import_activities
from app.services.history import load_domain_activities, load_history

ROOT = Path(__file__).resolve().parent.parent
AS_OF = "2026-06-30"
ACTIVITY = Activity(
    activity_id="123456789",
    title="Cardiology Update",
    activity_type="Course",
    start_date=date(2026, 1, 1),
    end_date=date(2026, 12, 31),
    cme_credits=Decimal("10"),
    boards=(BoardRegistration("ABIM", Decimal("10"), ("Medical Knowledge",), date(2027, 1, 31)),),
)


@pytest.fixture
def activities_file(tmp_path: Path) -> Path:
    path = tmp_path / "activities.json"
    write_activities(path, [ACTIVITY])
    return path


def learner_row(index: int, **changes: str) -> list[str]:
    completion = Completion(
        activity_id="123456789",
        learner=Learner(f"First{index}", f"Last{index}", "04/15", "CA", f"A{index}"),
        completion_date=date(2026, 3, 14),
        cme=CmePart(Decimal("2")),
        boards=[BoardPart("ABIM", f"{100000 + index}", Decimal("2"), {"Medical Knowledge": Decimal("2")})],
    )
    values = completion_to_values(completion)
    for header, value in changes.items():
        values[HEADERS.index(header.replace("_", " "))] = value
    return values


def fill_template(path: Path, rows: list[list[str]]) -> Path:
    write_template(path)
    workbook = load_workbook(path)
    sheet = workbook.active
    sheet.delete_rows(3)  # the example row
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["check", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_template_round_trip_to_a_clean_file(tmp_path: Path, activities_file: Path, capsys) -> None:
    learners = fill_template(
        tmp_path / "learners.xlsx",
        [
            learner_row(1),
            learner_row(2, Completion_Date="13-45-2026"),
            learner_row(3, Total_Board_Credits="2.3"),
            learner_row(4),
        ],
    )
    rejections = tmp_path / "rejected.xlsx"
    code, out, err = check(capsys, learners, "--activities", activities_file, "--as-of", AS_OF,
                           "--format", "json", "--rejections", rejections)
    assert code == 1, err
    report = json.loads(out)
    assert (report["records"], report["valid"], report["invalid"]) == (4, 2, 2)
    assert [row["row"] for row in report["rows"]] == [4, 5]
    assert [e["code"] for e in report["rows"][0]["errors"]] == [671]
    assert report["rows"][0]["errors"][0]["field"] == "Completion Date"
    assert "13-45-2026" in report["rows"][0]["errors"][0]["message"]
    assert [e["code"] for e in report["rows"][1]["errors"]] == [675]

    # The user fixes the rejection workbook in place and checks it again.
    workbook = load_workbook(rejections)
    sheet = workbook.active
    headers = [cell.value for cell in sheet[2]]
    assert headers[-2] == F_ERROR_CODE
    assert [sheet.cell(r, len(headers) - 1).value for r in (3, 4)] == [671, 675]
    sheet.cell(3, HEADERS.index("Completion Date") + 1).value = "03-15-2026"
    sheet.cell(4, HEADERS.index("Total Board Credits") + 1).value = "2.25"
    workbook.save(rejections)
    code, out, err = check(capsys, rejections, "--activities", activities_file, "--as-of", AS_OF)
    assert code == 0, out + err
    assert out.strip().endswith("rejected.xlsx: 2 records, 2 valid, 0 invalid.")


def test_text_report_names_row_code_and_field(tmp_path: Path, activities_file: Path, capsys) -> None:
    learners = fill_template(tmp_path / "l.xlsx", [learner_row(1, Record_Action="Update", First_Name="")])
    code, out, _ = check(capsys, learners, "--activities", activities_file, "--as-of", AS_OF)
    assert code == 1
    assert "Row 3:" in out
    assert "602  Record Action:" in out
    assert "622  First Name:" in out
    assert out.strip().endswith("l.xlsx: 1 record, 0 valid, 1 invalid.")


def test_duplicates_within_the_file_are_caught(tmp_path: Path, activities_file: Path, capsys) -> None:
    learners = fill_template(tmp_path / "dup.xlsx", [learner_row(1, Credit_ID="ccid:1:same"),
                                                       learner_row(2, Credit_ID="ccid:1:same")])
    code, out, _ = check(capsys, learners, "--activities", activities_file, "--as-of", AS_OF, "--format", "json")
    assert code == 1
    assert [e["code"] for e in json.loads(out)["rows"][0]["errors"]] == [603]


def _stored_store(path: Path) -> Store:
    """A store with the activity and one accepted record of learner 1."""
    store = Store.open(path)
    with store.transaction() as session:
        import_activities(session, [ACTIVITY])
        activity = session.scalar(select(ActivityRow))
        original = Completion(
            activity_id="123456789",
            credit_id="ccid:1234567:sent-1",
            learner=Learner("First1", "Last1", "04/15", "CA", "A1"),
            completion_date=date(2026, 3, 14),
            cme=CmePart(Decimal("2")),
            boards=[BoardPart("ABIM", "100001", Decimal("2"), {"Medical Knowledge": Decimal("2")})],
        )
        row = records.store_completion(session, original, activity, source="test")
        records.set_status(session, row, Status.ACCEPTED, source="PARS")
    return store


def test_db_history_catches_reuse_points_and_matches_excel_deletes(tmp_path: Path, capsys) -> None:
    db = tmp_path / "store.sqlite3"
    _stored_store(db).close()
    learners = fill_template(
        tmp_path / "db.xlsx",
        [
            learner_row(9, Credit_ID="ccid:1234567:sent-1"),  # creditID already used: 603
            # learner 1 already has 2 of the activity's 10 points: 2 + 9 > 10 is 711
            learner_row(1, Completion_Date="03-20-2026", Total_Board_Credits="9", Credits_Awarded_for_Credit_Type="9"),
            learner_row(1, Record_Action="Delete"),  # the same row as sent: matched by content
            learner_row(5, Record_Action="Delete"),  # never sent: nothing to match
            # after that delete, learner 1's 9 points fit again
            learner_row(1, Completion_Date="03-20-2026", Total_Board_Credits="9", Credits_Awarded_for_Credit_Type="9"),
        ],
    )
    code, out, err = check(capsys, learners, "--db", db, "--as-of", AS_OF, "--format", "json")
    assert code == 1, err
    verdicts = {row["row"]: [e["code"] for e in row["errors"]] for row in json.loads(out)["rows"]}
    assert verdicts[3] == [603]
    assert 711 in verdicts[4]
    assert 5 not in verdicts
    assert verdicts[6] == [605]  # an Excel delete that matches nothing sent
    assert 7 not in verdicts


def test_history_service_reflects_statuses(store: Store) -> None:
    store.close()
    store = _stored_store(store.path)
    with store.session() as session:
        history = load_history(session)
        assert set(load_domain_activities(session)) == {"123456789"}
        assert history.used_credit_ids == {"ccid:1234567:sent-1"}
        assert set(history.sent) == {"ccid:1234567:sent-1"}
        assert all(prior.counts for prior in history.priors)
    with store.transaction() as session:
        from app.models.schema import CompletionRow

        row = session.scalar(select(CompletionRow))
        records.set_status(session, row, Status.REJECTED, source="board")
    with store.session() as session:
        history = load_history(session)
        assert not any(prior.counts for prior in history.priors)
        assert history.used_credit_ids == {"ccid:1234567:sent-1"}
    store.close()


def test_xml_file_rows_are_report_indexes(tmp_path: Path, activities_file: Path, capsys) -> None:
    from datetime import datetime

    from app.pars.xml_codec import render_document

    good = Completion(activity_id="123456789", credit_id="ccid:1:a", learner=Learner("A", "B", "01/02", "CA", "X1"),
                      completion_date=date(2026, 3, 1), cme=CmePart(Decimal("1")))
    bad = Completion(activity_id="123456789", credit_id="ccid:1:b", learner=Learner("A", "B", "01/02", "CA", "X1"),
                     completion_date="2026-13-01", cme=CmePart(Decimal("1")))
    path = tmp_path / "batch.xml"
    path.write_bytes(render_document([good, bad], "1234567", datetime(2026, 3, 2)))
    code, out, _ = check(capsys, path, "--activities", activities_file, "--as-of", AS_OF, "--format", "json")
    assert code == 1
    assert [(r["row"], [e["code"] for e in r["errors"]]) for r in json.loads(out)["rows"]] == [(2, [671])]


def test_bad_activities_file_exits_2_with_item_and_field(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "acts.json"
    bad.write_text(json.dumps([{"activity_id": "123456789", "title": "T", "type": "Course",
                                "start_date": "2026-01-01", "end_date": "someday"}]))
    learners = fill_template(tmp_path / "l.xlsx", [learner_row(1)])
    code, out, err = check(capsys, learners, "--activities", bad)
    assert code == 2 and out == ""
    assert err.strip() == ("parsdesk check: activities file acts.json: activity #1, field 'end_date': "
                           "'someday' is not an ISO date (YYYY-MM-DD)")


@pytest.mark.parametrize("broken", ["not a zip", "no header row", "sheet unreadable"])
def test_a_batch_file_that_cannot_be_read_is_reported_before_a_bad_activities_file(
    tmp_path: Path, capsys, broken: str
) -> None:
    # The activities file is read while the sheet is parsed; which one failed first must not change.
    bad_activities = tmp_path / "acts.json"
    bad_activities.write_text("[{")
    learners = tmp_path / "l.xlsx"
    if broken == "not a zip":
        learners.write_bytes(b"PK\x03\x04 truncated")
        expected = "l.xlsx is not a valid .xlsx workbook"
    elif broken == "no header row":
        from openpyxl import Workbook

        workbook = Workbook()
        workbook.active.append(["just", "some", "cells"])
        workbook.save(learners)
        expected = "l.xlsx has no header row"
    else:
        import zipfile

        fill_template(learners, [learner_row(1)])
        with zipfile.ZipFile(learners) as source:
            parts = {name: source.read(name) for name in source.namelist()}
        sheet = parts["xl/worksheets/sheet1.xml"]
        parts["xl/worksheets/sheet1.xml"] = sheet.replace(b"</sheetData>", b"</sheetDat>")  # not XML any more
        with zipfile.ZipFile(learners, "w") as target:
            for name, data in parts.items():
                target.writestr(name, data)
        expected = "l.xlsx could not be read as an Excel workbook"
    code, out, err = check(capsys, learners, "--activities", bad_activities)
    assert code == 2 and out == ""
    assert err.startswith(f"parsdesk check: {expected}"), err
    assert "activities file" not in err

    fill_template(learners, [learner_row(1)])
    code, out, err = check(capsys, learners, "--activities", bad_activities)
    assert code == 2 and out == ""
    assert err.startswith("parsdesk check: activities file acts.json"), err


def test_bad_as_of_is_a_usage_error(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["check", str(tmp_path / "x.xlsx"), "--as-of", "30/06/2026"])
    assert exited.value.code == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_activities_import_is_all_or_nothing_and_upserts(tmp_path: Path, capsys) -> None:
    db = tmp_path / "store.sqlite3"
    good = tmp_path / "good.json"
    write_activities(good, [ACTIVITY])
    assert main(["activities", "import", str(good), "--db", str(db)]) == 0
    assert "1 new, 0 updated" in capsys.readouterr().out

    changed = json.loads(good.read_text())
    changed[0]["title"] = "Cardiology Update 2026"
    changed.append({**changed[0], "activity_id": "987654321", "end_date": "2025-01-01"})  # ends before it starts
    mixed = tmp_path / "mixed.json"
    mixed.write_text(json.dumps(changed))
    assert main(["activities", "import", str(mixed), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "activity #2, field 'end_date'" in err and "\n" not in err.strip()

    store = Store.open(db)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(ActivityRow)) == 1
        assert session.scalar(select(ActivityRow.title)) == "Cardiology Update"
    store.close()

    changed.pop()
    mixed.write_text(json.dumps(changed))
    assert main(["activities", "import", str(mixed), "--db", str(db)]) == 0
    assert "0 new, 1 updated" in capsys.readouterr().out
    exported = tmp_path / "out.json"
    assert main(["activities", "export", str(exported), "--db", str(db)]) == 0
    [activity] = read_activities(exported)
    assert activity.title == "Cardiology Update 2026"
    assert activity.boards == ACTIVITY.boards


def test_check_runs_as_a_process_without_qt_or_sqlalchemy(tmp_path: Path, activities_file: Path) -> None:
    learners = fill_template(tmp_path / "p.xlsx", [learner_row(1)])
    script = (
        "import sys; from app.cli import main; code = main(sys.argv[1:]); "
        "assert not any(m.startswith(('PySide6', 'sqlalchemy')) for m in sys.modules), 'heavy import'; "
        "raise SystemExit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "check", str(learners), "--activities", str(activities_file),
         "--as-of", AS_OF],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "p.xlsx: 1 record, 1 valid, 0 invalid." in done.stdout


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ({"title": "x"}, "expected a JSON list of activities"),
        ([{"activity_id": "123456789", "type": "Course", "start_date": "2026-01-01", "end_date": "2026-02-01"}],
         "activity #1, field 'title': missing"),
        ([{"activity_id": 123456789, "title": "T", "type": "Course", "start_date": "2026-01-01",
           "end_date": "2026-02-01", "cme_credits": -1}],
         "activity #1, field 'cme_credits': '-1' is not a non-negative number"),
        ([{"activity_id": "123456789", "title": "T", "type": "Course", "start_date": "2026-01-01",
           "end_date": "2026-02-01", "boards": [{"board": "ABIM", "max_points": "2"}, {"board": "abim",
                                                                                       "max_points": "1"}]}],
         "activity #1, field 'boards': a board is listed twice"),
        ([{"activity_id": "123456789", "title": "T", "type": "Course", "start_date": "2026-01-01",
           "end_date": "2026-02-01", "boards": [{"board": "ABIM"}]}],
         "activity #1, boards[0], field 'max_points': missing"),
        ([{"activity_id": "123456789", "title": "T", "type": "Course", "start_date": "2026-01-01",
           "end_date": "2026-02-01"}] * 2,
         "activity #2, field 'activity_id': 123456789 is listed twice"),
    ],
)
def test_activities_json_errors_name_item_and_field(items: object, expected: str) -> None:
    from app.pars.activities_json import ActivitiesFileError, parse_activities

    with pytest.raises(ActivitiesFileError) as caught:
        parse_activities(json.dumps(items))
    assert str(caught.value) == expected


def test_xml_delete_without_credit_id_is_not_matched_by_content(tmp_path: Path, capsys) -> None:
    from datetime import datetime

    from app.pars.domain import RecordAction
    from app.pars.xml_codec import render_document

    db = tmp_path / "store.sqlite3"
    _stored_store(db).close()
    delete = Completion(
        action=RecordAction.DELETE,
        activity_id="123456789",
        learner=Learner("First1", "Last1", "04/15", "CA", "A1"),
        completion_date=date(2026, 3, 14),
        cme=CmePart(Decimal("2")),
        boards=[BoardPart("ABIM", "100001", Decimal("2"), {"Medical Knowledge": Decimal("2")})],
    )
    path = tmp_path / "delete.xml"
    path.write_bytes(render_document([delete], "1234567", datetime(2026, 3, 20)))
    code, out, _ = check(capsys, path, "--db", db, "--as-of", AS_OF, "--format", "json")
    assert code == 1
    assert [e["code"] for e in json.loads(out)["rows"][0]["errors"]] == [650]
    # the same delete as an Excel row is matched to the record sent earlier
    learners = fill_template(tmp_path / "delete.xlsx", [completion_to_values(delete)])
    code, out, err = check(capsys, learners, "--db", db, "--as-of", AS_OF)
    assert code == 0, out + err


def test_activities_import_applies_activity_validation(tmp_path: Path, capsys) -> None:
    path = tmp_path / "seminar.json"
    path.write_text(json.dumps([{"activity_id": "123456789", "title": "T", "type": "Seminar",
                                 "start_date": "2026-01-01", "end_date": "2026-02-01"}]))
    db = tmp_path / "store.sqlite3"
    assert main(["activities", "import", str(path), "--db", str(db)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("parsdesk activities: seminar.json: activity 123456789: Activity Type:")
    assert err.endswith("nothing was imported")
    store = Store.open(db)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(ActivityRow)) == 0
    store.close()
