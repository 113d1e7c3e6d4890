"""The desktop app's local environment runs the PARS sandbox as a child process of its own
(`parsdesk sandbox`, app/sandbox/process.py), as a remote PARS: real processes, real stores.

What is proven: the window's sync goes through that process; the process ends with the app, whether
the app closes or is killed; a sandbox that cannot start leaves the app usable with a clear message;
the first start's demo is sent through it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from app.commands.gui import open_session, sandbox_state_path
from app.models import Store
from app.pars.domain import Status
from app.sandbox.process import LocalSandboxProcess, SandboxUnavailableError
from app.ui.settings import AppSettings
from tests.sync_support import RecordSpec, add_activity, queue_records, statuses, statuses_by_credit_id
from tests.ui_support import make_window

ROOT = Path(__file__).resolve().parent.parent
LINUX_PROC = Path("/proc/self/stat").exists()


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("PARSDESK_SETTINGS_DIR", str(tmp_path / "settings"))
    monkeypatch.setenv("PARSDESK_DATA_DIR", str(tmp_path / "data"))


def _settings() -> AppSettings:
    return AppSettings(board_delay_s=0.0, sync_interval_s=0)


def _store_with_queued_records(path: Path) -> list[str]:
    """A store with a registered activity (the sandbox gets it at start), an activity PARS has not
    seen yet (the sync registers it with SaveActivity), and queued records for both; dates relative
    to today, since the sandbox process judges deadlines by its own clock."""
    today = date.today()
    store = Store.open(path)
    try:
        start, end = today - timedelta(days=30), today - timedelta(days=28)
        registered = add_activity(store, accme_id="123456789", start=start, end=end, abim_points=Decimal("8"))
        unregistered = add_activity(store, title="Lipid Clinic Update", start=start, end=end)
        completed = today - timedelta(days=29)
        queue_records(store, registered, 3, label="reg", spec=lambda n: RecordSpec(
            completion_date=completed,
            board=("ABIM", f"9{n:05d}", Decimal("8"), {"Medical Knowledge": "8"}) if n == 0 else None))
        queue_records(store, unregistered, 2, label="new", spec=RecordSpec(completion_date=completed))
        return list(statuses_by_credit_id(store))
    finally:
        store.close()


def _gone(pid: int) -> bool:
    """The process has ended (a zombie waiting for its new parent to reap it has ended too)."""
    if LINUX_PROC:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            return True
        return fields[0] in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _sandbox_children(parent: int) -> list[int]:
    """Processes whose parent is `parent` and that run `parsdesk sandbox` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"sandbox" in command:
            found.append(int(entry.name))
    return found


def test_the_window_syncs_through_a_sandbox_process_that_ends_when_the_app_closes(qtbot, tmp_path):
    path = tmp_path / "office.sqlite3"
    credit_ids = _store_with_queued_records(path)
    session = open_session(path, "local", _settings(), command=None)
    try:
        sandbox = session.sandbox
        assert isinstance(sandbox, LocalSandboxProcess)
        assert sandbox.pid is not None and sandbox.pid != os.getpid() and sandbox.running
        window = make_window(qtbot, session.ctx)
        assert window.queued_count == len(credit_ids)
        with qtbot.waitSignal(window.sync_finished, timeout=60_000) as finished:
            window.sync_now()
        report = finished.args[0]
        assert not report["fatal"] and report["errors"] == 0, report
        assert window.queued_count == 0
        store = session.store
        after = statuses_by_credit_id(store)
        assert set(after.values()) <= {Status.ACCEPTED.value, Status.SUBMITTED.value}, after
        assert Status.ACCEPTED.value in after.values()
        # the process holds what was sent: every record, the new activity registered over HTTP
        received = {record["credit_id"] for record in sandbox.records()}
        assert received == set(credit_ids)
        assert sandbox.url.startswith("http://127.0.0.1:")
        window.close()
    finally:
        session.close()
    assert _gone(sandbox.pid) and not sandbox.running
    assert sandbox_state_path(Store.open(path, migrate_schema=False)).exists()  # kept for the next start


@pytest.mark.skipif(not LINUX_PROC, reason="finds the app's child processes through /proc")
def test_a_killed_app_leaves_no_sandbox_process_behind(qtbot, tmp_path):
    path = tmp_path / "office.sqlite3"
    _store_with_queued_records(path)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PARSDESK_SETTINGS_DIR": str(tmp_path / "settings"),
           "PARSDESK_DATA_DIR": str(tmp_path / "data")}
    with open(tmp_path / "app.log", "w") as log:
        app = subprocess.Popen([sys.executable, "-m", "app", "gui", "--db", str(path), "--env", "local"],
                               cwd=ROOT, env=env, stdout=log, stderr=log)
    children: list[int] = []
    try:
        def started() -> bool:
            assert app.poll() is None, (tmp_path / "app.log").read_text()
            children[:] = _sandbox_children(app.pid)
            return bool(children)

        qtbot.waitUntil(started, timeout=60_000)
        # let it listen (the app removes the activities it handed over once the sandbox says it
        # listens), so what ends it is the app's death and not a failed start
        command = Path(f"/proc/{children[0]}/cmdline").read_bytes().decode().split("\0")
        handed = Path(command[command.index("--activities") + 1])
        qtbot.waitUntil(lambda: not handed.exists(), timeout=60_000)
        assert not _gone(children[0])
    finally:
        app.kill()  # SIGKILL: no clean-up runs in the app
        app.wait(timeout=30)
    qtbot.waitUntil(lambda: _gone(children[0]), timeout=30_000)


def test_the_sandbox_process_stops_cleanly_on_sigterm_and_on_the_end_of_its_input(tmp_path):
    state = tmp_path / "sandbox.sqlite3"
    for how in ("end of input", "terminate"):
        sandbox = LocalSandboxProcess(board_delay=0.0, state_path=state).start()
        assert sandbox.url.startswith("http://127.0.0.1:")
        process = sandbox._process
        assert process is not None
        if how == "end of input":
            process.stdin.close()
        else:
            process.terminate()
        assert process.wait(timeout=30) == 0, how  # its own exit, state closed, not killed
        sandbox.stop()
        with pytest.raises(SandboxUnavailableError, match="has stopped"):
            sandbox.url
    assert stat.S_IMODE(state.stat().st_mode) == 0o600


def test_the_process_runs_at_a_lower_priority_and_its_activities_file_is_private_and_removed_once_it_listens(tmp_path):
    store = Store.open(tmp_path / "office.sqlite3")
    try:
        add_activity(store, accme_id="123456789")
        from app.services.activities import export_activities

        with store.session() as session:
            activities = export_activities(session)
    finally:
        store.close()
    sandbox = LocalSandboxProcess(board_delay=0.0, activities=activities).start()
    try:
        if hasattr(os, "getpriority"):  # a stand-in for a remote PARS: the window gets the CPU first
            assert os.getpriority(os.PRIO_PROCESS, sandbox.pid) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10)
        handed = sandbox._activities_file
        assert handed is not None and stat.S_IMODE(handed.stat().st_mode) == 0o600
        sandbox.wait_ready()
        assert not handed.exists()
    finally:
        sandbox.stop()


def test_a_sandbox_that_cannot_start_leaves_the_app_open_and_says_why(qtbot, tmp_path):
    path = tmp_path / "office.sqlite3"
    credit_ids = _store_with_queued_records(path)
    store = Store.open(path, migrate_schema=False)
    state = sandbox_state_path(store)
    store.close()
    state.write_bytes(b"not a sandbox state")
    session = open_session(path, "local", _settings(), command=None)
    try:
        window = make_window(qtbot, session.ctx)
        with qtbot.waitSignal(window.sync_finished, timeout=60_000):
            window.sync_now()
        assert window.sync_state_label.text() == "Sync problem"
        message = window.sync_state_label.toolTip()
        assert "The built-in PARS sandbox did not start (exit status 3)" in message, message
        assert "is not a sandbox state file" in message
        assert set(statuses(session.store).values()) == {Status.QUEUED.value}  # nothing lost
        assert window.queued_count == len(credit_ids)
        window.close()
    finally:
        session.close()
    assert state.read_bytes() == b"not a sandbox state"  # left as it was


def test_a_first_start_whose_sandbox_cannot_start_still_opens_the_demo_queued(qtbot, tmp_path):
    path = tmp_path / "first.sqlite3"
    (tmp_path / "first-sandbox.sqlite3").mkdir()  # where the sandbox keeps its state: a folder
    session = open_session(path, "local", _settings(), command=None)
    try:
        assert session.ctx.demo
        assert session.notice is not None and "did not start" in session.notice and "is a directory" in session.notice
        assert "stay queued" in session.notice
        found = set(statuses(session.store).values())
        assert Status.QUEUED.value in found and Status.ACCEPTED.value not in found
        window = make_window(qtbot, session.ctx)
        assert window.queued_count > 0
        window.close()
    finally:
        session.close()
