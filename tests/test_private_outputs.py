"""Every file ParsDesk writes with learner data is owner-only (0600), whatever the umask, and a failed
write leaves nothing; and Learner Search says why filters it cannot run match nothing."""

from __future__ import annotations

import os
import stat
from datetime import date, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QDate, Qt

from app.cli import main
from app.models import Store
from app.pars.files import OutputError, private_output
from app.pars.domain import Status
from app.ui.learner_search import LearnerSearchTab
from learner_support import completion, recent_activity, store_record
from tests.batch_support import add_activity, row, write_xlsx
from ui_support import make_context


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask():
    previous = os.umask(0o022)  # the usual desktop umask: files come out 0644 unless made private
    yield
    os.umask(previous)


def test_export_check_rejections_and_import_rejections_are_owner_only(tmp_path, ready_store, open_umask, capsys):
    out = tmp_path / "learners.xlsx"
    out.write_bytes(b"an older export, readable by all")
    out.chmod(0o644)
    assert main(["export", str(out), "--db", str(ready_store)]) == 0
    assert _mode(out) == 0o600  # replaced by a new owner-only file, not chmod-ed

    bad = write_xlsx(tmp_path / "bad.xlsx", [row(1, Last_Name="")])
    rejections = tmp_path / "check-rejections.xlsx"
    assert main(["check", str(bad), "--db", str(ready_store), "--as-of", "2026-02-15",
                 "--rejections", str(rejections)]) == 1
    assert _mode(rejections) == 0o600

    assert main(["import", str(bad), "--db", str(ready_store), "--as-of", "2026-02-15"]) == 1
    assert _mode(tmp_path / "bad-rejections.xlsx") == 0o600
    assert _mode(bad) == 0o644  # the user's own file is left as it was
    capsys.readouterr()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_a_failed_write_leaves_neither_a_partial_file_nor_the_old_one_damaged(tmp_path, open_umask):
    target = tmp_path / "out.xlsx"
    target.write_bytes(b"previous")
    with pytest.raises(RuntimeError):
        with private_output(target) as handle:
            handle.write(b"half")
            raise RuntimeError("the writer failed")
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.xlsx"]
    with pytest.raises(OutputError, match="does not exist"):
        with private_output(tmp_path / "missing" / "x.xlsx"):
            pass
    assert not (tmp_path / "missing").exists()


def test_the_download_from_learner_search_is_owner_only(qtbot, store, tmp_path, monkeypatch, open_umask):
    activity = recent_activity(store)
    store_record(store, activity, completion("Ada", "Lovelace", license_id="A1",
                                             completed=date.today() - timedelta(days=2)), status=Status.ACCEPTED)
    tab = LearnerSearchTab(make_context(store))
    qtbot.addWidget(tab)
    monkeypatch.setattr(tab, "choose_save_path", lambda suggested: str(tmp_path / "found.xlsx"))
    with qtbot.waitSignal(tab.exported) as exported:
        qtbot.mouseClick(tab.download_button, Qt.MouseButton.LeftButton)
    assert _mode(Path(exported.args[0])) == 0o600


def test_learner_search_says_why_filters_it_cannot_run_match_nothing(qtbot, store):
    activity = recent_activity(store)
    store_record(store, activity, completion("Ada", "Lovelace", license_id="A1",
                                             completed=date.today() - timedelta(days=2)), status=Status.ACCEPTED)
    tab = LearnerSearchTab(make_context(store))
    qtbot.addWidget(tab)
    tab.resize(1200, 500)
    tab.show()
    assert tab.search() == 1 and tab.filter_problem.isHidden()

    # 1,200 words pasted: cut at the door, and the words still there are too many to search with
    tab.name_edit.setText(" ".join(["ada"] * 1200))
    assert len(tab.name_edit.text()) <= 200
    assert tab.search() == 0
    assert tab.filter_problem.isVisible() and "words" in tab.filter_problem.text()

    tab.name_edit.setText("x" * 50_000)
    assert tab.search() == 0 or tab.filter_problem.isHidden()  # 200 x's: runs, finds nobody

    tab.name_edit.clear()
    today = date.today()
    tab.date_from.setDate(QDate(today.year, today.month, today.day))
    earlier = today - timedelta(days=30)
    tab.date_to.setDate(QDate(earlier.year, earlier.month, earlier.day))
    assert tab.search() == 0
    assert tab.filter_problem.isVisible() and "reversed" in tab.filter_problem.text()

    tab.clear_filters()
    assert tab.model.total == 1 and tab.filter_problem.isHidden()


def test_the_search_service_refuses_what_it_cannot_run_instead_of_crashing(store):
    from app.services.learners import FilterError, SearchFilters, count_records, search_records

    with store.session() as session:
        for filters in (SearchFilters(name=" ".join(["w"] * 1200)), SearchFilters(activity="x" * 50_000),
                        SearchFilters(board="ABQ"),
                        SearchFilters(date_from=date(2026, 3, 1), date_to=date(2026, 1, 1))):
            with pytest.raises(FilterError):
                count_records(session, filters)
            with pytest.raises(FilterError):
                search_records(session, filters)


def test_xml_export_and_upload_files_are_owner_only(tmp_path, open_umask, capsys):
    from decimal import Decimal

    from tests.sync_support import RecordSpec, queue_records
    from tests.sync_support import add_activity as add_sync_activity

    path = tmp_path / "office.sqlite3"
    store = Store.open(path)
    activity = add_sync_activity(store, accme_id="123456789", abim_points=Decimal("8"))
    queue_records(store, activity, 2, spec=RecordSpec())
    store.close()

    xml = tmp_path / "learners.xml"
    xml.write_text("older, readable by all")
    xml.chmod(0o644)
    assert main(["export", str(xml), "--db", str(path)]) == 0
    assert _mode(xml) == 0o600 and xml.read_bytes().startswith(b"<?xml")

    out = tmp_path / "upload"
    out.mkdir()
    assert main(["export-upload", str(out), "--db", str(path)]) == 0
    files = list(out.iterdir())
    assert files and all(_mode(p) == 0o600 for p in files)
    capsys.readouterr()


def test_xml_rejection_files_of_check_and_import_replace_an_older_file_owner_only(tmp_path, open_umask, capsys):
    from tests.test_xml_rejections import lms_export

    path = tmp_path / "office.sqlite3"
    store = Store.open(path)
    add_activity(store)
    store.close()
    source = lms_export(tmp_path)
    checked = tmp_path / "checked-rejections.xml"
    imported = tmp_path / "lms-rejections.xml"
    for older in (checked, imported):
        older.write_text("an older rejection file, readable by all")
        older.chmod(0o644)
    assert main(["check", str(source), "--db", str(path), "--as-of", "2026-02-15", "--rejections", str(checked)]) == 1
    assert main(["import", str(source), "--db", str(path), "--as-of", "2026-02-15"]) == 1
    for written in (checked, imported):
        assert _mode(written) == 0o600 and written.read_bytes().startswith(b"<?xml"), written
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    capsys.readouterr()
