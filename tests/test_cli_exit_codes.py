"""One set of exit codes for every command, and no traceback for a user's mistake (docs/cli.md).

    0 done · 1 findings · 2 usage or bad input · 3 environment (store, disk, network, PARS) · 130 Ctrl+C
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from app.commands import common
from tests.batch_support import row, write_xlsx
from tests.sync_support import add_activity as add_sync_activity
from tests.sync_support import outbox_rows, queue_records, statuses

REPO = Path(__file__).resolve().parent.parent


def _one_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def _parsdesk(*argv: str, cwd: Path, **options: object) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "app", *argv], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, **options)  # type: ignore[call-overload]


def test_the_readme_table_lists_the_codes_the_commands_use():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Exit codes", 1)[1].split("\n#", 1)[0]
    table = dict(re.findall(r"^\| `(\d+)` \| ([^|]+) \|", section, flags=re.MULTILINE))
    assert set(table) == {"0", "1", "2", "3", "130"}
    assert common.EXIT_OK == 0 and common.EXIT_FINDINGS == 1 and common.EXIT_USAGE == 2
    assert common.EXIT_ENVIRONMENT == 3 and common.EXIT_INTERRUPTED == 130
    assert "store" in table["3"] and "network" in table["3"]


# --- each command, each code ----------------------------------------------------------------------

def test_check_exit_codes(tmp_path, ready_store, capsys):
    good = write_xlsx(tmp_path / "good.xlsx", [row(1)])
    bad = write_xlsx(tmp_path / "bad.xlsx", [row(1, Last_Name="")])
    as_of = ["--as-of", "2026-02-15"]
    assert main(["check", str(good), "--db", str(ready_store), *as_of]) == 0
    assert main(["check", str(bad), "--db", str(ready_store), *as_of]) == 1
    capsys.readouterr()
    assert main(["check", str(tmp_path / "nope.xlsx"), "--db", str(ready_store)]) == 2
    _one_line(capsys.readouterr().err)
    assert main(["check", str(good), "--db", str(tmp_path)]) == 3
    _one_line(capsys.readouterr().err)
    assert main(["check", str(bad), "--db", str(ready_store), *as_of,
                 "--rejections", str(tmp_path / "no" / "such" / "r.xlsx")]) == 3
    assert "does not exist" in capsys.readouterr().err


def test_import_exit_codes(tmp_path, ready_store, capsys):
    assert main(["import", str(write_xlsx(tmp_path / "a.xlsx", [row(1)])), "--db", str(ready_store),
                 "--as-of", "2026-02-15"]) == 0
    assert main(["import", str(write_xlsx(tmp_path / "b.xlsx", [row(2, Last_Name="")])), "--db", str(ready_store),
                 "--as-of", "2026-02-15"]) == 1
    capsys.readouterr()
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really")
    assert main(["import", str(broken), "--db", str(ready_store)]) == 2
    _one_line(capsys.readouterr().err)
    assert main(["import", str(tmp_path / "a.xlsx"), "--db", str(tmp_path / "none" / "x.sqlite3")]) == 3
    _one_line(capsys.readouterr().err)


def test_export_exit_codes(tmp_path, ready_store, capsys):
    out = tmp_path / "out.xlsx"
    assert main(["export", str(out), "--db", str(ready_store)]) == 0
    assert main(["export", str(out), "--db", str(ready_store), "--activity", "555555555"]) == 1
    capsys.readouterr()
    assert main(["export", str(tmp_path / "out.csv"), "--db", str(ready_store)]) == 2
    _one_line(capsys.readouterr().err)
    assert main(["export", str(out), "--db", str(tmp_path / "missing.sqlite3")]) == 3
    _one_line(capsys.readouterr().err)


def test_export_refuses_an_unknown_board_instead_of_writing_an_empty_workbook(tmp_path, ready_store, capsys):
    out = tmp_path / "abq.xlsx"
    with pytest.raises(SystemExit) as exited:
        main(["export", str(out), "--db", str(ready_store), "--board", "ABQ"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "unknown board 'ABQ'" in err and "ABIM" in err and "Traceback" not in err
    assert not out.exists()
    assert main(["export", str(out), "--db", str(ready_store), "--board", "abim"]) == 0  # any case will do


def test_export_does_not_echo_a_huge_unknown_status_or_board(tmp_path, ready_store, capsys):
    for flag in ("--status", "--board"):
        with pytest.raises(SystemExit) as exited:
            main(["export", str(tmp_path / "x.xlsx"), "--db", str(ready_store), flag, "a " * 1200])
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.splitlines()[-1]) < 400, flag


def test_export_refuses_from_after_to(tmp_path, ready_store, capsys):
    out = tmp_path / "range.xlsx"
    assert main(["export", str(out), "--db", str(ready_store), "--from", "2026-03-01", "--to", "2026-01-01"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "reversed" in line and "03/01/2026 (from)" in line and "01/01/2026 (to)" in line
    assert not out.exists()


@pytest.mark.parametrize("activity", [" ".join(["word"] * 1200), "x" * 50_000])
def test_export_bounds_an_oversized_filter_with_a_message(tmp_path, ready_store, capsys, activity):
    out = tmp_path / "big.xlsx"
    assert main(["export", str(out), "--db", str(ready_store), "--activity", activity]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "too long" in line and len(line) < 200
    assert not out.exists()


def test_export_into_a_missing_or_unwritable_folder_is_one_line(tmp_path, ready_store, capsys):
    assert main(["export", str(tmp_path / "nope" / "out.xlsx"), "--db", str(ready_store)]) == 3
    assert "does not exist" in _one_line(capsys.readouterr().err)
    assert not (tmp_path / "nope").exists()
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code = main(["export", str(locked / "out.xlsx"), "--db", str(ready_store)])
        err = capsys.readouterr().err
        if os.geteuid() != 0:  # root writes anywhere; everyone else is refused with one line
            assert code == 3 and "Permission denied" in _one_line(err)
    finally:
        locked.chmod(0o700)


def test_activities_exit_codes(tmp_path, ready_store, capsys):
    out = tmp_path / "activities.json"
    assert main(["activities", "export", str(out), "--db", str(ready_store)]) == 0
    assert main(["activities", "import", str(out), "--db", str(ready_store)]) == 0
    capsys.readouterr()
    (tmp_path / "bad.json").write_text("{not json")
    assert main(["activities", "import", str(tmp_path / "bad.json"), "--db", str(ready_store)]) == 2
    _one_line(capsys.readouterr().err)
    assert main(["activities", "export", str(out), "--db", str(tmp_path / "x.sqlite3")]) == 3
    _one_line(capsys.readouterr().err)


def test_sync_with_a_url_that_is_not_one_refuses_and_leaves_nothing_in_flight(store, capsys):
    activity = add_sync_activity(store, accme_id="123456789")
    queue_records(store, activity, 2)
    for url in ("notaurl", "ftp://pars.example", "http://pars.accme.example", "http://127.0.0.1:99999"):
        assert main(["sync", "--once", "--db", str(store.path), "--url", url]) == 2, url
        line = _one_line(capsys.readouterr().err)
        assert line.startswith("parsdesk sync: "), line
        assert [row.in_flight for row in outbox_rows(store)] == [False, False], url
        assert set(statuses(store).values()) == {"Queued"}
    assert main(["sync", "--once", "--db", str(store.path), "--url", "http://pars.accme.example"]) == 2
    assert "PARS needs https" in _one_line(capsys.readouterr().err)


def test_sync_exit_codes_for_the_store(tmp_path, capsys):
    assert main(["sync", "--once", "--db", str(tmp_path), "--url", "http://127.0.0.1:9"]) == 3
    _one_line(capsys.readouterr().err)
    with pytest.raises(SystemExit) as exited:
        main(["sync", "--once", "--batch-size", "0"])
    assert exited.value.code == 2


# --- through a real process: what a shell user sees ------------------------------------------------

@pytest.mark.parametrize("port", ["-1", "99999", "http"])
def test_sandbox_refuses_a_port_out_of_range(tmp_path, port):
    done = _parsdesk("sandbox", "--port", port, cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "port" in done.stderr


@pytest.mark.parametrize("flag,value", [("--board-delay", "nan"), ("--latency", "inf"), ("--fail-rate", "2")])
def test_sandbox_refuses_numbers_that_are_not_sane(tmp_path, flag, value):
    done = _parsdesk("sandbox", "--port", "0", flag, value, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_sandbox_state_that_is_a_folder_or_a_foreign_file_is_refused_untouched(tmp_path):
    folder = tmp_path / "state"
    folder.mkdir(mode=0o755)
    done = _parsdesk("sandbox", "--port", "0", "--state", str(folder), cwd=tmp_path)
    assert done.returncode == 3
    assert "is a directory" in _one_line(done.stderr)
    assert (folder.stat().st_mode & 0o777) == 0o755
    notes = tmp_path / "notes.txt"
    notes.write_text("mine\n")
    done = _parsdesk("sandbox", "--port", "0", "--state", str(notes), cwd=tmp_path)
    assert done.returncode == 3 and "not a sandbox state" in _one_line(done.stderr)
    assert notes.read_text() == "mine\n"


def test_screenshots_into_a_file_is_refused_before_qt_starts(tmp_path):
    target = tmp_path / "picture.png"
    target.write_bytes(b"not a folder")
    done = _parsdesk("screenshots", str(target), cwd=tmp_path)
    assert done.returncode == 2
    assert "is a file" in _one_line(done.stderr)
    assert target.read_bytes() == b"not a folder"


def test_import_into_a_closed_pipe_finishes_its_work_quietly(tmp_path, ready_store):
    """`parsdesk import big.xlsx | head -1`: the reader goes away, the import still writes its
    rejections workbook and exits with its own code, and no BrokenPipeError reaches the terminal."""
    rows = [row(n, Last_Name="") for n in range(1, 200)]
    batch = write_xlsx(tmp_path / "many.xlsx", rows)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    reader_gone = subprocess.Popen(
        [sys.executable, "-m", "app", "import", str(batch), "--db", str(ready_store), "--as-of", "2026-02-15"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert reader_gone.stdout is not None and reader_gone.stderr is not None
    reader_gone.stdout.read(1)  # head: one byte, then away
    reader_gone.stdout.close()
    err = reader_gone.stderr.read().decode()
    code = reader_gone.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert code == 1
    assert (tmp_path / "many-rejections.xlsx").is_file()


def test_demo_exit_codes(tmp_path, capsys):
    assert main(["demo", "--offline", "--learners", "0", "--db", str(tmp_path / "d.sqlite3")]) == 2
    _one_line(capsys.readouterr().err)
    assert not (tmp_path / "d.sqlite3").exists()
    assert main(["demo", "--offline", "--db", str(tmp_path)]) == 3
    assert "is a directory" in _one_line(capsys.readouterr().err)


# --- parsdesk store ---------------------------------------------------------------------------------

def test_store_commands_use_the_shared_exit_codes(tmp_path, ready_store, capsys):
    missing = tmp_path / "missing.sqlite3"
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    notes.chmod(0o644)
    for argv in (["store", "info", "--db", str(missing)],
                 ["store", "info", "--db", str(tmp_path)],
                 ["store", "info", "--db", str(notes)],
                 ["store", "backup", str(tmp_path / "b.sqlite3"), "--db", str(missing)],
                 ["store", "copy", "--to", "postgresql://nobody@127.0.0.1:1/office", "--db", str(missing)]):
        assert main(argv) == 3, argv  # the environment: no store there
        _one_line(capsys.readouterr().err)
    assert not missing.exists() and notes.read_text() == "my notes" and (notes.stat().st_mode & 0o777) == 0o644
    # the office database cannot be reached: the environment too, one line
    assert main(["store", "info", "--db", "postgresql://nobody@127.0.0.1:1/office"]) == 3
    _one_line(capsys.readouterr().err)
    # a backup into a folder that does not exist: nothing is created
    assert main(["store", "backup", str(tmp_path / "no" / "b.sqlite3"), "--db", str(ready_store)]) == 3
    assert "No such file" in _one_line(capsys.readouterr().err) and not (tmp_path / "no").exists()
    # wrong arguments stay 2
    assert main(["store", "copy", "--to", "notaurl", "--db", str(ready_store)]) == 2
    assert main(["store", "backup", str(notes), "--db", str(ready_store)]) == 2
    assert main(["store", "restore", str(tmp_path / "nope.sqlite3"), "--db", str(ready_store)]) == 2
    assert main(["store", "password", "notaurl"]) == 2
    for line in capsys.readouterr().err.splitlines():
        assert line.startswith("parsdesk store: "), line
    assert "Traceback" not in capsys.readouterr().err


def test_store_backup_and_info_take_a_read_only_store_as_it_is(tmp_path, ready_store, capsys):
    ready_store.chmod(0o400)
    try:
        assert main(["store", "info", "--db", str(ready_store)]) == 0
        assert main(["store", "backup", str(tmp_path / "b.sqlite3"), "--db", str(ready_store)]) == 0
        assert (ready_store.stat().st_mode & 0o777) == 0o400
    finally:
        ready_store.chmod(0o600)
    assert ((tmp_path / "b.sqlite3").stat().st_mode & 0o777) == 0o600
    capsys.readouterr()


def test_store_restore_puts_back_only_a_parsdesk_store_and_keeps_its_mode(tmp_path, ready_store, capsys):
    backup = tmp_path / "monday.sqlite3"
    assert main(["store", "backup", str(backup), "--db", str(ready_store)]) == 0
    # --replace onto something that is not a ParsDesk store: refused, left exactly as it was
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    assert main(["store", "restore", str(backup), "--db", str(notes), "--replace"]) == 3
    assert "not a ParsDesk store" in _one_line(capsys.readouterr().err) and notes.read_text() == "my notes"
    # a read-only store is not made writable to restore it
    ready_store.chmod(0o400)
    try:
        assert main(["store", "restore", str(backup), "--db", str(ready_store), "--replace"]) == 3
        assert "read-only" in _one_line(capsys.readouterr().err)
        assert (ready_store.stat().st_mode & 0o777) == 0o400
    finally:
        ready_store.chmod(0o640)
    # a store shared with a group keeps that mode when it is put back
    assert main(["store", "restore", str(backup), "--db", str(ready_store), "--replace"]) == 0
    assert (ready_store.stat().st_mode & 0o777) == 0o640
    # a new store from a backup only in a folder that exists
    assert main(["store", "restore", str(backup), "--db", str(tmp_path / "no" / "x.sqlite3")]) == 3
    assert not (tmp_path / "no").exists()
    capsys.readouterr()


def test_upload_route_status_and_xml_export_use_the_shared_exit_codes(tmp_path, ready_store, capsys):
    missing = tmp_path / "missing.sqlite3"
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    workbook = write_xlsx(tmp_path / "rejections.xlsx", [row(1)])
    folder = tmp_path / "results.xlsx"
    folder.mkdir()
    cases = [
        (["export-upload", str(tmp_path), "--db", str(missing)], 3, "no ParsDesk store"),
        (["export-upload", str(tmp_path), "--db", str(notes)], 3, "not a ParsDesk store"),
        (["export-upload", str(tmp_path / "nowhere"), "--db", str(ready_store)], 2, "is not a folder"),
        (["export-upload", str(notes), "--db", str(ready_store)], 2, "is not a folder"),
        (["upload-results", str(workbook), "--db", str(missing)], 3, "no ParsDesk store"),
        (["upload-results", str(tmp_path / "gone.xlsx"), "--db", str(ready_store)], 2, "gone.xlsx"),
        (["upload-results", str(folder), "--db", str(ready_store)], 2, "results.xlsx"),
        (["upload-results", ".", "--db", str(ready_store)], 2, ". is not an .xlsx workbook"),
        (["status", "--db", str(missing)], 3, "no ParsDesk store"),
        (["status", "--db", str(tmp_path)], 3, "is a directory"),
        (["export", str(tmp_path / "no" / "out.xml"), "--db", str(ready_store)], 3, "does not exist"),
        (["export", str(tmp_path / "out.xml"), "--db", str(missing)], 3, "no ParsDesk store"),
        (["export", str(tmp_path / "out.csv"), "--db", str(ready_store)], 2, "must end in .xlsx or .xml"),
    ]
    for argv, code, words in cases:
        assert main(argv) == code, argv
        line = _one_line(capsys.readouterr().err)
        assert line.startswith(f"parsdesk {argv[0]}: ") and words in line, (argv, line)
    assert not missing.exists() and not (tmp_path / "no").exists() and notes.read_text() == "my notes"
