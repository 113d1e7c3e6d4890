"""The store path on the command line: ParsDesk never changes, creates or chmods what the user did not
ask for, refuses what is not a ParsDesk store with one clear line, and announces a new store the same
way in every command (docs/cli.md)."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from app.cli import main
from app.models import Store
from tests.batch_support import add_activity, row, write_xlsx


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def batch(tmp_path: Path) -> Path:
    return write_xlsx(tmp_path / "learners.xlsx", [row(1)])


def _commands(target: Path, batch: Path, tmp_path: Path) -> dict[str, list[str]]:
    activities = tmp_path / "activities.json"
    activities.write_text("[]")
    return {
        "import": ["import", str(batch), "--db", str(target)],
        "export": ["export", str(tmp_path / "out.xlsx"), "--db", str(target)],
        "check": ["check", str(batch), "--db", str(target)],
        "sync": ["sync", "--once", "--db", str(target), "--url", "http://127.0.0.1:9"],
        "activities import": ["activities", "import", str(activities), "--db", str(target)],
        "activities export": ["activities", "export", str(tmp_path / "a.json"), "--db", str(target)],
        "export-upload": ["export-upload", str(tmp_path), "--db", str(target)],
        "upload-results": ["upload-results", str(batch), "--db", str(target)],
        "status": ["status", "--db", str(target)],
    }


def test_a_directory_as_store_is_refused_and_keeps_its_mode(tmp_path, batch, capsys):
    folder = tmp_path / "records"
    folder.mkdir(mode=0o755)
    (folder / "kept.txt").write_text("readable")
    before = _mode(folder)
    for name, argv in _commands(folder, batch, tmp_path).items():
        assert main(argv) == 3, name
        line = _one_line(capsys.readouterr().err)
        assert "is a directory" in line, (name, line)
        assert _mode(folder) == before == 0o755, name
    assert sorted(p.name for p in folder.iterdir()) == ["kept.txt"]


def test_a_foreign_file_as_store_is_refused_untouched(tmp_path, batch, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    notes.chmod(0o644)
    for name, argv in _commands(notes, batch, tmp_path).items():
        assert main(argv) == 3, name
        line = _one_line(capsys.readouterr().err)
        assert "not a ParsDesk store" in line, (name, line)
        assert notes.read_text() == "my notes\n" and _mode(notes) == 0o644, name
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("notes")) == ["notes.txt"]


def test_another_programs_database_is_refused_untouched(tmp_path, batch, capsys):
    other = tmp_path / "inventory.sqlite3"
    connection = sqlite3.connect(other)
    connection.execute("CREATE TABLE items (name TEXT)")
    connection.commit()
    connection.close()
    other.chmod(0o644)
    content = other.read_bytes()
    assert main(["import", str(batch), "--db", str(other)]) == 3
    line = _one_line(capsys.readouterr().err)
    assert "another program" in line and "not a ParsDesk store" in line
    assert other.read_bytes() == content and _mode(other) == 0o644
    assert not Path(f"{other}-wal").exists() and not Path(f"{other}-shm").exists()


def test_a_read_only_store_is_not_made_writable(tmp_path, batch, capsys):
    path = tmp_path / "office.sqlite3"
    store = Store.open(path)
    add_activity(store)
    store.close()
    path.chmod(0o400)
    try:
        assert main(["import", str(batch), "--db", str(path)]) == 3
        line = _one_line(capsys.readouterr().err)
        assert "read-only" in line
        assert _mode(path) == 0o400
        # reading needs no write access: check works on it and leaves it read-only
        assert main(["check", str(batch), "--db", str(path), "--as-of", "2026-02-15"]) == 0
        assert _mode(path) == 0o400
    finally:
        path.chmod(0o600)


def test_a_store_in_a_missing_folder_is_not_created(tmp_path, batch, capsys):
    target = tmp_path / "missing" / "dir" / "x.sqlite3"
    assert main(["import", str(batch), "--db", str(target)]) == 3
    line = _one_line(capsys.readouterr().err)
    assert "does not exist" in line
    assert not (tmp_path / "missing").exists()


def test_read_only_commands_never_create_a_store(tmp_path, batch, capsys):
    target = tmp_path / "typo.sqlite3"
    for name in ("export", "check", "sync", "activities export", "export-upload", "upload-results", "status"):
        assert main(_commands(target, batch, tmp_path)[name]) == 3, name
        assert "no ParsDesk store" in _one_line(capsys.readouterr().err), name
        assert not target.exists(), name


@pytest.mark.parametrize("argv", [
    ["import", "{batch}"],
    ["activities", "import", "{activities}"],
])
def test_a_new_store_is_announced_the_same_way_and_is_owner_only(tmp_path, batch, capsys, argv):
    activities = tmp_path / "activities.json"
    activities.write_text("[]")
    target = tmp_path / "new.sqlite3"
    filled = [a.format(batch=batch, activities=activities) for a in argv]
    main([*filled, "--db", str(target)])
    err = capsys.readouterr().err
    assert f"parsdesk {argv[0]}: created a new ParsDesk store at {target}" in err.splitlines()
    assert _mode(target) == 0o600
    # the second time it is simply used
    main([*filled, "--db", str(target)])
    assert "created a new" not in capsys.readouterr().err


def test_a_store_that_cannot_be_migrated_says_why_without_sqlalchemy_noise(tmp_path, batch, capsys):
    """A ParsDesk store whose tables are damaged: one line, no SQL, no 'Background on this error' link."""
    path = tmp_path / "damaged.sqlite3"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
    connection.execute("INSERT INTO alembic_version VALUES ('0001')")
    connection.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    connection.commit()
    connection.close()
    assert main(["import", str(batch), "--db", str(path)]) == 3
    line = _one_line(capsys.readouterr().err)
    assert "not a usable ParsDesk store" in line
    assert "Background on this error" not in line and "sqlalche.me" not in line and "[SQL:" not in line


def test_the_store_mode_of_an_existing_store_is_left_alone(tmp_path, batch, capsys):
    path = tmp_path / "shared.sqlite3"
    Store.open(path).close()
    path.chmod(0o640)  # the owner chose to share it with a group
    assert main(["import", str(batch), "--db", str(path)]) in (0, 1)
    assert _mode(path) == 0o640
    capsys.readouterr()


def test_the_default_store_folder_is_made_only_for_parsdesks_own_data_folder(tmp_path, batch, capsys, monkeypatch):
    monkeypatch.delenv("PARSDESK_DB", raising=False)
    data = tmp_path / "platform-data" / "ParsDesk"
    monkeypatch.setattr("app.paths.data_dir", lambda: data)
    assert main(["import", str(batch)]) in (0, 1)
    err = capsys.readouterr().err
    assert f"created a new ParsDesk store at {data / 'parsdesk.sqlite3'}" in err
    assert _mode(data) == 0o700 and _mode(data / "parsdesk.sqlite3") == 0o600
    # PARSDESK_DB is the user's path: its folder is never made
    monkeypatch.setenv("PARSDESK_DB", str(tmp_path / "nope" / "x.sqlite3"))
    assert main(["import", str(batch)]) == 3
    assert not (tmp_path / "nope").exists()
    capsys.readouterr()


def test_the_sandbox_state_path_must_not_be_a_folder(tmp_path):
    from app.sandbox import SandboxServer

    folder = tmp_path / "state"
    folder.mkdir(mode=0o755)
    with pytest.raises(ValueError, match="is a directory"):
        SandboxServer(port=0, state_path=folder)
    assert _mode(folder) == 0o755
    assert os.listdir(folder) == []


def _locked_store_error(tmp_path: Path) -> Exception:
    """A real SQLAlchemy error, as the app meets one: a write while another program holds the store."""
    from sqlalchemy import text

    path = tmp_path / "busy.sqlite3"
    store = Store.open(path)
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with store.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA busy_timeout=0")
            connection.execute(text("INSERT INTO meta (key, value) VALUES ('k', 'v')"))
    except Exception as exc:  # noqa: BLE001 - the error under test
        return exc
    finally:
        holder.rollback()
        holder.close()
        store.close()
    raise AssertionError("the store was not locked")


def test_database_errors_reach_people_as_one_sentence(tmp_path):
    from app.models.store import error_text

    raw = _locked_store_error(tmp_path)
    assert "Background on this error" in str(raw)  # what SQLAlchemy would show
    assert error_text(raw) == "database is locked"
    assert error_text(ValueError("two\nlines")) == "two\nlines"  # other errors stay as they are


def test_the_activity_dialog_shows_a_database_error_without_sqlalchemys_tail(qtbot, store, tmp_path, monkeypatch):
    from decimal import Decimal

    from PySide6.QtWidgets import QMessageBox

    from app.ui.activity_dialog import ActivityDialog
    from tests.sync_support import add_activity as add_sync_activity
    from ui_support import make_context

    row_id = add_sync_activity(store, accme_id="123456789", title="Cardiology Update", abim_points=Decimal("8"))
    ctx = make_context(store)
    dialog = ActivityDialog(ctx, activity_row_id=row_id)
    qtbot.addWidget(dialog)
    failure = _locked_store_error(tmp_path)

    def locked(*_args, **_kwargs):
        raise failure

    shown: list[str] = []
    monkeypatch.setattr(ctx, "write", locked)
    monkeypatch.setattr(QMessageBox, "warning", lambda _parent, _title, text, *a, **k: shown.append(text))
    dialog.accept()
    assert shown == ["The activity was not saved: database is locked"]


def test_reopening_a_store_keeps_the_locks_of_its_open_connections(tmp_path):
    """Opening a store checks the file without ever opening it outside SQLite: closing any descriptor
    of a file drops every POSIX lock the process holds on it, SQLite's included. A desk whose app
    reopens the store each sync pass would then look unused to another desk, which deletes the -wal
    file on closing, and the first desk's later commits would vanish for everyone else."""
    import subprocess
    import sys

    from sqlalchemy import text

    from app.models.schema import Meta

    path = tmp_path / "office.sqlite3"
    held = Store.open(path)
    try:
        with held.session() as session:
            assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        Store.open(path, migrate_schema=False).close()  # what each sync pass of the app does
        # another process opens and closes the store: it must see that it is not the last user
        other = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('SELECT 1 FROM meta').fetchall(); c.close()"
        subprocess.run([sys.executable, "-c", other, str(path)], check=True, timeout=60)
        with held.transaction() as session:
            session.merge(Meta(key="written_after_reopen", value="seen"))
        read = (
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
            "print(c.execute(\"SELECT value FROM meta WHERE key = 'written_after_reopen'\").fetchall()); c.close()"
        )
        seen = subprocess.run([sys.executable, "-c", read, str(path)], capture_output=True, text=True, check=True,
                              timeout=60)
    finally:
        held.close()
    assert seen.stdout.strip() == "[('seen',)]"
