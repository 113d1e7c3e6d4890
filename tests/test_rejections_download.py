""""Download rejections…" on Batch Upload writes the file in a worker thread: the window keeps answering
while it runs (busy row, caption), the file holds the failed rows, and a write that fails (folder gone,
read-only folder, disk full) is one clear message that leaves no file behind."""

from __future__ import annotations

import errno
import os
import stat
import threading
from pathlib import Path

import pytest
from openpyxl import load_workbook
from PySide6.QtCore import QTimer

from app.pars.excel import F_ERROR_CODE
from app.services import batch_import
from app.ui.batch_upload import BatchUploadTab
from tests.batch_support import AS_OF, add_activity, row, write_xlsx
from tests.test_batch_upload_tab import RILEY, TAYLOR, attest_and_queue, drop_and_wait_summary
from tests.ui_support import make_context

SCREENSHOTS = os.environ.get("PARSDESK_SCREENSHOTS")  # a folder: the test saves the tab's look there


@pytest.fixture
def tab(qtbot, store):
    add_activity(store)
    widget = BatchUploadTab(make_context(store))
    widget.as_of = AS_OF
    qtbot.addWidget(widget)
    widget.resize(1100, 760)
    widget.show()
    return widget


def _upload_with_failures(qtbot, tab: BatchUploadTab, tmp_path: Path) -> int:
    """An upload of five rows of which three fail PARS's checks (671 after the end date, 674 credits)."""
    path = write_xlsx(tmp_path / "march.xlsx", [
        row(1, **TAYLOR),
        row(2, **RILEY, Completion_Date="02-20-2026"),
        row(3, Number_of_CME_Credits="99"),
        row(4, Completion_Date="02-21-2026"),
        row(5),
    ])
    drop_and_wait_summary(qtbot, tab, path)
    assert tab.analysis.with_errors == 3
    upload_id = attest_and_queue(qtbot, tab)
    assert tab.last_rejections_button.isVisible()
    return upload_id


def _grab(tab: BatchUploadTab, name: str) -> None:
    if SCREENSHOTS:
        tab.grab().save(str(Path(SCREENSHOTS) / name))


def test_rejections_are_written_off_the_gui_thread_while_the_window_answers(qtbot, tab, tmp_path, monkeypatch):
    _upload_with_failures(qtbot, tab, tmp_path)
    writers: list[int] = []
    gate = threading.Event()
    real_write = batch_import.write_upload_rejections

    def gated_write(session, upload_id, path):  # noqa: ANN001
        writers.append(threading.get_ident())
        assert gate.wait(15), "the test never let the write go on"
        return real_write(session, upload_id, path)

    monkeypatch.setattr(batch_import, "write_upload_rejections", gated_write)
    target = tmp_path / "march-rejections.xlsx"
    tab.save_path = lambda *_args: target

    tab.last_rejections_button.click()
    qtbot.waitUntil(lambda: bool(writers), timeout=5_000)
    # the write is under way in its worker: the tab says so and the GUI thread goes on running events
    assert writers[0] != threading.get_ident()
    assert tab.is_busy and tab.busy_row.isVisible()
    assert tab.progress_label.text() == "Saving the rejected rows to march-rejections.xlsx…"
    assert not tab.drop_zone.isEnabled() and not tab.cancel_button.isEnabled()
    ticks: list[int] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(5)
    qtbot.waitUntil(lambda: len(ticks) >= 5, timeout=5_000)
    timer.stop()
    _grab(tab, "rejections-saving.png")
    # a second download meanwhile is refused, not queued behind it
    assert tab.download_rejections(1) is None
    assert "still being processed" in tab.message_label.text()
    assert not target.exists()

    with qtbot.waitSignal(tab.rejections_saved, timeout=15_000) as saved:
        gate.set()
    qtbot.waitUntil(lambda: not tab.is_busy, timeout=5_000)
    _grab(tab, "rejections-saved.png")
    assert saved.args == [target, 3]
    assert writers == [writers[0]] and writers[0] != threading.get_ident()
    assert tab.message_label.text().startswith(f"3 rejected rows saved to {target}. Fix them there")
    assert not tab.busy_row.isVisible() and tab.drop_zone.isEnabled()
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    sheet = load_workbook(target).active
    header = [c.value for c in sheet[2]]
    lines = [[c.value for c in line] for line in sheet.iter_rows(min_row=3)]
    code = header.index(F_ERROR_CODE)
    assert [(line[3], int(line[code])) for line in lines] == [("Riley", 671), ("Learner3", 674), ("Learner4", 671)]


def _folder_gone(tmp_path: Path, monkeypatch) -> Path:  # noqa: ANN001
    return tmp_path / "removed" / "rejections.xlsx"


def _read_only_folder(tmp_path: Path, monkeypatch) -> Path:  # noqa: ANN001
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    if os.geteuid() == 0:  # root writes anywhere: refuse as a read-only folder would
        from app.pars import files

        real_open = files.os.open

        def refusing_open(path, *args, **kwargs):  # noqa: ANN001
            if Path(path).parent == folder:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(files.os, "open", refusing_open)
    return folder / "rejections.xlsx"


def _disk_full(tmp_path: Path, monkeypatch) -> Path:  # noqa: ANN001
    """The disk fills up part way through the file."""
    from app.pars import files

    real_fdopen = files.os.fdopen

    class FillingUp:
        def __init__(self, handle) -> None:  # noqa: ANN001
            self._handle, self._written = handle, 0

        def write(self, data: bytes) -> int:
            if self._written + len(data) > 2_000:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self._written += len(data)
            return self._handle.write(data)

        def __getattr__(self, name: str):  # noqa: ANN204
            return getattr(self._handle, name)

        def __enter__(self):  # noqa: ANN204
            return self

        def __exit__(self, *exc: object) -> None:
            self._handle.close()

    monkeypatch.setattr(files.os, "fdopen", lambda fd, *args, **kwargs: FillingUp(real_fdopen(fd, *args, **kwargs)))
    return tmp_path / "rejections.xlsx"


@pytest.mark.parametrize("failure, why", [
    (_folder_gone, "does not exist"),
    (_read_only_folder, os.strerror(errno.EACCES)),
    (_disk_full, os.strerror(errno.ENOSPC)),
])
def test_a_rejection_file_that_cannot_be_written_is_one_clear_message(qtbot, tab, tmp_path, failure, why):
    _upload_with_failures(qtbot, tab, tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        target = failure(tmp_path, patch)
        tab.save_path = lambda *_args: target
        with qtbot.waitSignal(tab.rejections_failed, timeout=15_000) as failed:
            tab.last_rejections_button.click()
        qtbot.waitUntil(lambda: not tab.is_busy, timeout=5_000)
    message = failed.args[0]
    assert message == tab.message_label.text()
    assert message.startswith(f"Cannot write {target}: ") and why in message, message
    assert "Traceback" not in message and "\n" not in message
    assert "color: #b3261e" in tab.message_label.styleSheet()
    assert not target.exists()
    if target.parent.exists():
        assert not [p for p in target.parent.iterdir() if p.name.endswith(".partial")]
    # the tab is usable again: the same download to a good place works
    good = tmp_path / "good-rejections.xlsx"
    tab.save_path = lambda *_args: good
    with qtbot.waitSignal(tab.rejections_saved, timeout=15_000):
        tab.last_rejections_button.click()
    qtbot.waitUntil(lambda: not tab.is_busy, timeout=5_000)
    assert good.exists() and "3 rejected rows saved" in tab.message_label.text()
