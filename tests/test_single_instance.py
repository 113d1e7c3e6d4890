"""One ParsDesk per store: a second start brings the running window forward and exits; a crashed
ParsDesk's lock and socket never block the next start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import Qt

from app.ui.single_instance import InstanceGuard
from tests.ui_support import make_context, make_window

ROOT = Path(__file__).resolve().parent.parent


def _location(tmp_path: Path) -> str:
    return str((tmp_path / "parsdesk.sqlite3").resolve())


def test_a_second_claim_on_the_same_store_fails_and_brings_the_first_forward(qtbot, tmp_path):
    first = InstanceGuard(_location(tmp_path))
    second = InstanceGuard(_location(tmp_path))
    other_store = InstanceGuard(str(tmp_path / "other.sqlite3"))
    try:
        assert first.claim()
        assert not second.claim()
        assert other_store.claim()  # another store is another instance
        with qtbot.waitSignal(first.activation_requested, timeout=5_000):
            assert second.activate_running()
    finally:
        for guard in (first, second, other_store):
            guard.release()
    again = InstanceGuard(_location(tmp_path))
    assert again.claim()  # released on exit: the next start is the first again
    again.release()


def test_starting_parsdesk_again_on_an_open_store_focuses_the_running_window(qtbot, store, tmp_path):
    window = make_window(qtbot, make_context(store))
    guard = InstanceGuard(str(store.path))
    assert guard.claim()
    guard.activation_requested.connect(window.bring_to_front)
    window.showMinimized()
    qtbot.waitUntil(window.isMinimized)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    try:
        second = subprocess.Popen(
            [sys.executable, "-m", "app", "gui", "--db", str(store.path), "--env", "local"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        # the second app connects while this event loop runs, so the window can answer it
        qtbot.waitUntil(lambda: second.poll() is not None, timeout=30_000)
        err = second.stderr.read()
        assert second.returncode == 0, err
        assert "already open" in err
        qtbot.waitUntil(lambda: not window.isMinimized(), timeout=5_000)
        assert "already open on this store" in window.statusBar().currentMessage()
        assert not window.windowState() & Qt.WindowState.WindowMinimized
    finally:
        guard.release()


def test_a_crashed_parsdesk_leaves_nothing_that_blocks_the_next_start(tmp_path):
    location = _location(tmp_path)
    script = (
        "import sys\n"
        "from PySide6.QtCore import QCoreApplication\n"
        "from app.ui.single_instance import InstanceGuard\n"
        "app = QCoreApplication([])\n"
        f"guard = InstanceGuard({location!r})\n"
        "assert guard.claim()\n"
        "print('claimed', flush=True)\n"
        "sys.stdin.read()\n"
    )
    crashed = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert crashed.stdout.readline().strip() == "claimed"
        guard = InstanceGuard(location)
        assert not guard.claim()  # it is running: the store is taken
        assert guard.lock_path.exists()
    finally:
        crashed.kill()  # SIGKILL: no clean-up runs, the lock file and the socket file stay
        crashed.wait(timeout=30)
    assert guard.lock_path.exists()
    assert guard.claim()  # the lock of a process that is gone is taken over, the stale socket replaced
    try:
        answering = InstanceGuard(location)
        assert answering.activate_running()  # the new instance listens on the name
    finally:
        guard.release()
