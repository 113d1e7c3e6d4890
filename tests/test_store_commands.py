"""`parsdesk store`: copy a coordinator's SQLite store into the office database, back up and restore a
SQLite store. Real files in tmp_path, the real throwaway PostgreSQL server."""

from __future__ import annotations

import stat
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.cli import main as cli_main
from app.models import CompletionRow, Store
from app.models.transfer import table_counts
from app.pars.domain import Status
from app.services import learners

from batch_support import AS_OF, add_activity as add_batch_activity, row, write_xlsx
from learner_support import completion, recent_activity, store_record


@pytest.fixture
def filled(tmp_path) -> Store:
    """A SQLite store with a bit of everything: records in several states, a corrected resubmission
    (a record pointing at another), history, the outbox, an upload with its lines, the provider ID."""
    store = Store.open(tmp_path / "desk.sqlite3")
    activity = recent_activity(store, accme_id="555555555")
    recent = date.today() - timedelta(days=3)
    store_record(store, activity, completion("Ada", "Lovelace", license_id="A1", completed=recent, boards=[]))
    rejected = store_record(store, activity, completion("Grace", "Hopper", license_id="G2", completed=recent),
                            status=Status.REJECTED, code=665)
    with store.transaction() as session:
        fixed = learners.completion_for_edit(session, rejected)
        resubmitted = learners.resubmit(session, rejected, fixed, "Ada", date.today())
    assert resubmitted.saved, resubmitted.issues
    store.set_meta("provider_id", "1234567")
    add_batch_activity(store)
    path = write_xlsx(tmp_path / "batch.xlsx", [row(1), row(2), row(3)])
    assert cli_main(["import", str(path), "--db", str(store.path), "--as-of", AS_OF.isoformat()]) == 0
    yield store
    store.close()


def test_store_copy_moves_every_table_into_an_empty_office_database(filled, postgres_url, capsys):
    expected = table_counts(filled)
    assert expected["completion"] == 6 and expected["upload_line"] == 3 and expected["outbox"] > 0
    code = cli_main(["store", "copy", "--to", postgres_url, "--db", str(filled.path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "counts verified" in out
    office = Store.open(postgres_url)
    try:
        assert table_counts(office) == expected
        with office.session() as session:
            resubmitted = session.scalar(select(CompletionRow).where(CompletionRow.replaces_id.is_not(None)))
            assert resubmitted is not None and resubmitted.replaces_id is not None
            steps = learners.status_history(session, resubmitted.replaces_id)
            assert any((step.message or "").startswith("Resubmitted as") for step in steps)
        assert office.get_meta("provider_id") == "1234567"
        # new records in the office database get fresh ids after the copied ones
        later = store_record(office, recent_activity(office, accme_id="987654321"),
                             completion("New", "Desk", license_id="N1", boards=[]))
        assert later > expected["completion"]  # ids 1..6 were copied
    finally:
        office.close()


def test_store_copy_refuses_a_target_that_is_not_empty(filled, postgres_url, capsys):
    assert cli_main(["store", "copy", "--to", postgres_url, "--db", str(filled.path)]) == 0
    before = table_counts(Store.open(postgres_url))
    capsys.readouterr()
    assert cli_main(["store", "copy", "--to", postgres_url, "--db", str(filled.path)]) == 2
    assert "is not empty" in capsys.readouterr().err
    again = Store.open(postgres_url)
    try:
        assert table_counts(again) == before
    finally:
        again.close()


def test_store_copy_takes_only_an_office_database_url(filled, tmp_path, capsys):
    assert cli_main(["store", "copy", "--to", str(tmp_path / "other.sqlite3"), "--db", str(filled.path)]) == 2
    assert "postgresql://" in capsys.readouterr().err


def test_store_backup_is_owner_only_verified_and_never_overwrites(filled, tmp_path, capsys):
    out = tmp_path / "backups" / "monday.sqlite3"
    out.parent.mkdir()
    assert cli_main(["store", "backup", str(out), "--db", str(filled.path)]) == 0
    assert "reopened and checked" in capsys.readouterr().out
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    copy = Store.open(out, migrate_schema=False)
    try:
        assert table_counts(copy) == table_counts(filled)
    finally:
        copy.close()
    assert cli_main(["store", "backup", str(out), "--db", str(filled.path)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_store_restore_puts_a_store_back_to_its_backup(filled, tmp_path, capsys):
    out = tmp_path / "monday.sqlite3"
    assert cli_main(["store", "backup", str(out), "--db", str(filled.path)]) == 0
    saved = table_counts(filled)
    extra = store_record(filled, recent_activity(filled, accme_id="987654321"),
                         completion("Late", "Entry", license_id="L9", boards=[]))
    assert table_counts(filled)["completion"] == saved["completion"] + 1
    capsys.readouterr()
    assert cli_main(["store", "restore", str(out), "--db", str(filled.path)]) == 2
    assert "--replace" in capsys.readouterr().err
    assert cli_main(["store", "restore", str(out), "--db", str(filled.path), "--replace"]) == 0
    assert table_counts(filled) == saved
    with filled.session() as session:
        assert session.get(CompletionRow, extra) is None


def test_store_restore_refuses_a_file_that_is_not_a_parsdesk_store(filled, tmp_path, capsys):
    bogus = tmp_path / "notes.sqlite3"
    bogus.write_text("not a database")
    assert cli_main(["store", "restore", str(bogus), "--db", str(filled.path), "--replace"]) == 2
    assert "not a ParsDesk store" in capsys.readouterr().err
    assert table_counts(filled)["completion"] == 6


def test_the_office_database_is_backed_up_with_pg_dump(postgres_url, capsys):
    assert cli_main(["store", "backup", "/tmp/never-written.sqlite3", "--db", postgres_url]) == 2
    assert "pg_dump" in capsys.readouterr().err


def test_store_password_keeps_the_office_password_in_the_keyring(monkeypatch, capsys):
    import io

    from app.models.office_db import load_password, parse_office_url

    url = "postgresql://desk3@db.office.example/parsdesk"
    monkeypatch.setattr("sys.stdin", io.StringIO("from-stdin\n"))
    assert cli_main(["store", "password", url]) == 0
    assert "from-stdin" not in capsys.readouterr().out
    assert load_password(parse_office_url(url)) == "from-stdin"
    assert cli_main(["store", "password", url, "--forget"]) == 0
    assert load_password(parse_office_url(url)) is None
