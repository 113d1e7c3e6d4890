"""Does the window stay responsive during a Batch Upload and a sync, whatever the store's size?

    .venv/bin/python bench/bench_ui.py [--sizes 10k,100k,500k,1M] [--runs 3] [--watch]
                                       [--tab summary|activities|upload] [--sandbox process|thread]
    .venv/bin/python bench/bench_ui.py --small [--records 5000] [--tab ...] [--sandbox ...]
                                       [--search-records N]

Default: for each store size, on a private copy of the cached store (bench/store_builder.py), the real
main window runs offscreen; a 5,000-row workbook is dropped on Batch Upload and queued (a), then those
records are synced to the PARS sandbox through the window's SyncController with the Learner Summary of
their activity on screen (b; a send pass: the store's own Submitted records are not polled). The sandbox
runs as the local environment runs it: in a process of its own (app/sandbox/process.py); `--sandbox
thread` runs it inside this process instead, as the app did before (its threads then compete with the
window for the interpreter lock, and full collections walk its records). A 5 ms
QTimer on the GUI thread records every gap between its ticks: the longest gap is the longest the window
could not have answered; p99 is printed too. Before each run the same timer runs 3 s with the window
idle: that floor is the machine's own hiccups (print ratios against it). Medians of --runs runs.
--watch prints, for the longest gaps, every thread's stack and the CPU each thread used during the gap
(little CPU: the process was not scheduled, i.e. machine load). Target: < 50 ms at every size.

--small: the older measure, 5,000 records queued in a fresh store, send and poll passes, with the
Learner Summary or the Activities tab, sandbox in its own process and/or in-process; target < 100 ms;
then a Learner Search timing section (bench/bench_search.py) when --search-records is given."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STALL_TARGET_MS = 100.0
STORE_STALL_TARGET_MS = 50.0
TICK_MS = 10
HEARTBEAT_MS = 5
FLOOR_S = 3.0  # the idle heartbeat measured before each run


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def measure_sync_pass(app, window, timeout_s: float = 300.0) -> dict[str, float]:  # noqa: ANN001
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer

    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    def tick() -> None:
        now = clock.nsecsElapsed()
        gaps.append((now - last[0]) / 1e6)
        last[0] = now

    timer = QTimer()
    timer.setInterval(TICK_MS)
    timer.timeout.connect(tick)
    loop = QEventLoop()
    reports: list[dict] = []
    window.sync_finished.connect(lambda report: (reports.append(report), loop.quit()))
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    timer.start()
    started = time.perf_counter()
    window.sync_now()
    loop.exec()
    elapsed = time.perf_counter() - started
    timer.stop()
    window.sync_finished.disconnect()
    if not reports:
        raise RuntimeError(f"the sync did not finish within {timeout_s:.0f} s")
    return {
        "seconds": elapsed,
        "max_stall_ms": max(gaps) if gaps else 0.0,
        "p99_gap_ms": _percentile(gaps, 0.99),
        "ticks": float(len(gaps)),
        "report": reports[0],
    }


@contextmanager
def sandbox_process(activity: Any = None, nice: int | None = None) -> Iterator[tuple[str, Callable[[float], None]]]:
    """The sandbox as the desktop app's local environment runs it: a process of its own
    (app.sandbox.process.LocalSandboxProcess, `parsdesk sandbox`), as a remote PARS is, so its work
    does not compete with the window for Python's interpreter lock. Yields (url, advance)."""
    from app.sandbox.process import SANDBOX_NICE, LocalSandboxProcess
    from tests.sync_support import SANDBOX_ACTIVITY

    with LocalSandboxProcess(board_delay=3600.0, activities=[activity or SANDBOX_ACTIVITY],
                             nice=SANDBOX_NICE if nice is None else nice) as sandbox:
        yield sandbox.url, sandbox.advance


def run_case(records: int, tab: str, where: str = "process") -> tuple[dict, dict]:
    """Both passes with `tab` ("summary": the Learner Summary of the activity, or "activities") shown,
    against the sandbox in its own process (`where="process"`, as the local environment runs it) or
    running in this process on threads (`where="thread"`)."""
    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtWidgets import QApplication

    from app.models import Store
    from app.ui.context import AppContext
    from app.ui.main_window import TAB_ACTIVITIES, TAB_SUMMARY, MainWindow
    from app.ui.settings import AppSettings
    from tests.sync_support import RecordSpec, add_activity, queue_records, running_sandbox, sandbox_client

    with tempfile.TemporaryDirectory(prefix="parsdesk-bench-ui-") as scratch:
        os.environ["PARSDESK_SETTINGS_DIR"] = str(Path(scratch) / "settings")
        app = QApplication.instance() or QApplication([sys.argv[0]])
        store = Store.open(Path(scratch) / "bench.sqlite3")
        activity = add_activity(store, accme_id="123456789", abim_points=Decimal("8"))
        # every other record also claims ABIM points (Submitted until the board answers); the rest
        # are CME-only records for a state that does not use PARS (Accepted at once)
        queue_records(store, activity, records, spec=lambda n: RecordSpec(
            board=("ABIM", f"9{n:05d}", Decimal("8"), {"Medical Knowledge": "8"}) if n % 2 else None))
        with ExitStack() as stack:
            if where == "thread":
                sandbox = stack.enter_context(running_sandbox(board_delay=3600.0))
                url, advance = sandbox.url, sandbox.advance
            else:
                url, advance = stack.enter_context(sandbox_process())
            ctx = AppContext(store, settings=AppSettings(sync_interval_s=0),
                             client_factory=lambda: sandbox_client(url, timeout=60))
            window = MainWindow(ctx)
            window.resize(1280, 800)
            window.show()
            window.show_activity(activity)
            window.tabs.setCurrentIndex(TAB_SUMMARY if tab == "summary" else TAB_ACTIVITIES)
            app.processEvents()

            send = measure_sync_pass(app, window)
            advance(7200)  # the boards answer every Submitted record
            poll = measure_sync_pass(app, window)
            window.close()
            window.deleteLater()
            QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        store.close()
    return send, poll


# --- the window at every store size: a 5,000-row Batch Upload, then the sync of those records ------------


class Heartbeat:
    """A QTimer on the GUI thread ticking every HEARTBEAT_MS; every gap between two ticks is kept. The
    longest gap is the longest the window could not have answered a click or repainted. With `watch`,
    a watchdog thread also takes every thread's Python stack whenever a tick is more than
    `watch_ms` late (where the GUI thread was, and what the workers did meanwhile)."""

    def __init__(self, *, watch: bool = False, watch_ms: float = 30.0) -> None:
        import threading

        from PySide6.QtCore import Qt, QTimer

        self.gaps: list[float] = []
        self._last = 0.0
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(HEARTBEAT_MS)
        self._timer.timeout.connect(self._tick)
        self._watch = watch
        self._watch_ms = watch_ms
        self._gui_thread = threading.get_ident()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self.samples: list[tuple[float, float, dict[str, list[str]]]] = []  # (tick, ms late, {thread: stacks})
        self._first = 0.0

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._watch:
            self._sched.append(_gui_schedstat())
        if self._last:
            self.gaps.append((now - self._last) * 1000)
        else:
            self._first = now
        self._last = now

    def _gui_time(self, index: int) -> str:
        """How the GUI thread spent gap `index` (from the kernel's schedstat at the ticks around it):
        running (its own work), waiting for a CPU (machine load), or neither: blocked on the
        interpreter lock, a lock or I/O (another thread's doing)."""
        if index + 1 >= len(self._sched):
            return ""
        (run0, wait0), (run1, wait1) = self._sched[index], self._sched[index + 1]
        ran, waited = (run1 - run0) / 1e6, (wait1 - wait0) / 1e6
        blocked = max(0.0, self.gaps[index] - ran - waited)
        return f"GUI thread ran {ran:.0f} ms, waited for a CPU {waited:.0f} ms, blocked {blocked:.0f} ms"

    def _watchdog(self) -> None:
        import threading
        import traceback

        baseline: dict[int, float] = {}
        while not self._stop.wait(0.01):
            for thread in threading.enumerate():  # names of short-lived workers, for the report
                if thread.native_id is not None:
                    self.thread_names.setdefault(thread.native_id, thread.name)
            last = self._last
            now = time.perf_counter()
            late = (now - last) * 1000 if last else 0.0
            self.cpu_readings.append((now, _thread_cpu_ms()))
            if late <= self._watch_ms:
                baseline = self.cpu_readings[-1][1]
                continue
            if late > self._watch_ms:
                names = {t.ident: t.name for t in threading.enumerate()}
                native = {t.native_id: t.name for t in threading.enumerate()}
                native[threading.main_thread().native_id] = "GUI"
                used = {tid: ms - baseline.get(tid, 0.0) for tid, ms in _thread_cpu_ms().items()}
                cpu = ", ".join(f"{native.get(tid, tid)} {ms:.0f}" for tid, ms in sorted(used.items(), key=lambda x: -x[1])
                                if ms >= 10)
                stacks = {}
                for ident, frame in sys._current_frames().items():
                    if ident == threading.get_ident():
                        continue
                    name = "GUI" if ident == self._gui_thread else names.get(ident, str(ident))
                    if name.startswith("Thread-") or name == "pars-sandbox":
                        name = "sandbox"
                    lines = [f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in traceback.extract_stack(frame)]
                    stacks.setdefault(name, []).append(" <- ".join(reversed(lines[-5:])))
                stacks["cpu ms since the last tick"] = [cpu or "none: the process was not running"]
                self.samples.append((last, late, stacks))

    def _cpu_over(self, start: float, end: float) -> str:
        """CPU used by each thread between the watchdog's readings around [start, end]."""
        import threading

        before = [reading for at, reading in self.cpu_readings if at <= start]
        after = [reading for at, reading in self.cpu_readings if at >= end]
        if not before or not after:
            return "unknown"
        native = {**self.thread_names, **{t.native_id: t.name for t in threading.enumerate()}}
        native[threading.main_thread().native_id] = "GUI"
        used = {tid: ms - before[-1].get(tid, 0.0) for tid, ms in after[0].items()}
        return ", ".join(f"{native.get(tid, tid)} {ms:.0f}" for tid, ms in sorted(used.items(), key=lambda x: -x[1])
                         if ms >= 10) or "none (the process did not run)"

    def culprits(self, worst: int = 3) -> list[str]:
        """For the `worst` longest gaps: what every thread was doing while the GUI thread did not tick."""
        starts = []
        stamp = self._first
        for gap in self.gaps:
            starts.append((gap, stamp))
            stamp += gap / 1000
        out = []
        ranked = sorted(enumerate(starts), key=lambda item: -item[1][0])[:worst]
        for index, (gap, _stamp) in ranked:
            if gap < self._watch_ms:
                break
            near = [sample for sample in self.samples if abs(sample[0] - _stamp) < 0.002]
            out.append(f"  gap {gap:.0f} ms at t={_stamp:.3f}, {len(near)} samples; {self._gui_time(index)}; CPU ms "
                       "per thread over the gap: " + self._cpu_over(_stamp, _stamp + gap / 1000))
            for started, ms, generation, thread in self.collections:
                if started < _stamp + gap / 1000 and started + ms / 1000 > _stamp and ms >= 5:
                    out.append(f"     garbage collection of generation {generation} in {thread}: {ms:.0f} ms")
            seen: set[str] = set()
            for _last, late, stacks in near:
                for name, lines in stacks.items():
                    for line in lines:
                        if (name, line) not in seen and "_bootstrap" not in line and "selectors.py" not in line:
                            seen.add((name, line))
                            out.append(f"     +{late:4.0f} [{name}] {line}")
        if out:
            import threading

            names = {**self.thread_names, threading.main_thread().native_id: "GUI"}
            out.append("  threads: " + ", ".join(f"{tid}={name}" for tid, name in sorted(names.items())))
        return out

    def _on_gc(self, phase: str, info: dict) -> None:
        """gc.callbacks hook (watch mode): every collection's generation, length and thread."""
        import threading

        now = time.perf_counter()
        if phase == "start":
            self._gc_started = now
        elif self._gc_started:
            self.collections.append((self._gc_started, (now - self._gc_started) * 1000, info.get("generation", -1),
                                     threading.current_thread().name))

    def start(self) -> None:
        import gc
        import threading

        self.collections: list[tuple[float, float, int, str]] = []  # (start, ms, generation, thread)
        self._gc_started = 0.0
        if self._watch and self._on_gc not in gc.callbacks:
            gc.callbacks.append(self._on_gc)
        self.gaps, self._last, self.samples = [], 0.0, []
        self._sched: list[tuple[int, int]] = []
        self.cpu_readings: list[tuple[float, dict[int, float]]] = []
        self.thread_names: dict[int, str] = {}
        self._first = 0.0
        self._timer.start()
        if self._watch:
            self._stop.clear()
            self._watcher = threading.Thread(target=self._watchdog, name="stall-watchdog", daemon=True)
            self._watcher.start()

    def stop(self) -> dict[str, float]:
        import gc

        self._timer.stop()
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        if self._watcher is not None:
            self._stop.set()
            self._watcher.join()
            self._watcher = None
        return {"longest_ms": max(self.gaps, default=0.0), "p99_ms": _percentile(self.gaps, 0.99),
                "ticks": float(len(self.gaps))}


def _gui_schedstat() -> tuple[int, int]:
    """(ns on a CPU, ns runnable but waiting for one) of the calling thread, from the kernel."""
    try:
        run, wait, _slices = Path("/proc/thread-self/schedstat").read_text().split()
    except (OSError, ValueError):
        return (0, 0)
    return int(run), int(wait)


def _thread_cpu_ms() -> dict[int, float]:
    """CPU time (user + system, ms) of each of this process's threads, by native thread id."""
    tick = os.sysconf("SC_CLK_TCK")
    times = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        times[int(task.name)] = (int(fields[11]) + int(fields[12])) * 1000 / tick
    return times


def _spin(app, condition: Callable[[], bool], timeout_s: float, what: str) -> None:  # noqa: ANN001
    """Run the event loop until `condition()` holds (the heartbeat keeps ticking meanwhile)."""
    from PySide6.QtCore import QEventLoop

    deadline = time.perf_counter() + timeout_s
    while not condition():
        if time.perf_counter() > deadline:
            raise RuntimeError(f"gave up waiting for {what} after {timeout_s:.0f} s")
        app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)


def _settle(app, seconds: float) -> None:  # noqa: ANN001
    """Keep the event loop running a little: what a finished step schedules (view refreshes, counts)
    belongs to that step's stalls."""
    ends = time.perf_counter() + seconds
    _spin(app, lambda: time.perf_counter() >= ends, seconds + 60, "the settle time")


def _copy_store(size: int, folder: Path) -> Path:
    """A private copy of the cached store of `size` records (with its WAL, which may hold recent pages)."""
    import shutil

    from store_builder import build

    source = build(size)
    copy = folder / f"ui-{size}.sqlite3"
    shutil.copyfile(source, copy)
    wal = source.with_name(source.name + "-wal")
    if wal.exists():
        shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
    return copy


def _gui_profile(enabled: bool):  # noqa: ANN202
    """A cProfile of the GUI thread only (--profile-gui): where its time went during a step."""
    import cProfile

    return cProfile.Profile() if enabled else None


def _print_profile(profile, what: str) -> None:  # noqa: ANN001
    import io
    import pstats

    if profile is None:
        return
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(40)
    print(f"   GUI thread during {what} (cProfile, cumulative):")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:12_000])


def run_store_case(app, size: int, folder: Path, workbook: Path, *, where: str, tab: str,  # noqa: ANN001
                   watch: bool, switch_interval: float = 0.0, profile_gui: bool = False,
                   sandbox_nice: int | None = None) -> dict[str, Any]:
    """On a copy of the `size` store, in the real window: drop the 5,000-row workbook on Batch Upload,
    queue it (stall a), then sync those records to the sandbox (stall b) with `tab` on screen."""
    from PySide6.QtCore import QCoreApplication, QEvent, QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    from app.models import Store
    from app.ui.main_window import TAB_ACTIVITIES, TAB_SUMMARY, TAB_UPLOAD, MainWindow
    from batch_support import ACTIVITY, AS_OF
    from sync_support import running_sandbox, sandbox_client
    from ui_support import make_context

    copy = _copy_store(size, folder)
    store = Store.open(copy)
    result: dict[str, Any] = {}
    with ExitStack() as stack:
        if where == "thread":
            sandbox = stack.enter_context(running_sandbox(activities=[ACTIVITY], board_delay=3600.0))
            url = sandbox.url
        else:
            url, _advance = stack.enter_context(sandbox_process(ACTIVITY, nice=sandbox_nice))
        ctx = make_context(store, client_factory=lambda: sandbox_client(url, timeout=60))
        # The app has one window per process, which freezes its start-up heap (app/ui/garbage.py,
        # once per process); this process builds a window per case, so each does it again: else full
        # collections in later cases walk this window's 130,000+ objects and every earlier case's
        # leftovers, which no app holds (at 1M after three cases: uploads 164-216 ms instead of 30-65).
        from app.ui import garbage

        garbage._frozen = False
        window = MainWindow(ctx)
        if switch_interval:  # instead of the window's own (for a comparison)
            sys.setswitchinterval(switch_interval / 1000)
        window.resize(1280, 800)
        window.show()
        window.tabs.setCurrentIndex(TAB_UPLOAD)
        upload = window.upload_tab
        upload.as_of = AS_OF
        _settle(app, 0.5)
        # the store's own Submitted records (a sixth of it) are not the subject: this pass sends only
        controller = ctx.sync
        start_pass = controller.start
        controller.start = lambda **kwargs: start_pass(**{**kwargs, "poll": False})

        beat = Heartbeat(watch=watch)
        # the floor: the same heartbeat with the window idle, in this run (the machine's own hiccups)
        beat.start()
        _settle(app, FLOOR_S)
        result["floor"] = beat.stop()
        committed: list[float] = []
        upload.upload_committed.connect(lambda _id: committed.append(time.perf_counter()))
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(workbook))])
        modules_before = set(sys.modules)
        beat.start()
        profile = _gui_profile(profile_gui)
        if profile is not None:
            profile.enable()
        started = time.perf_counter()
        upload.drop_zone.dropEvent(QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                                              Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
        _spin(app, lambda: upload.analysis is not None and not upload.is_busy, 600, "the upload summary")
        upload.attest_checkbox.setChecked(True)
        upload.queue_button.click()
        _spin(app, lambda: bool(committed) and not upload.is_busy, 600, "the upload to be queued")
        result["queued_s"] = committed[0] - started
        _settle(app, 2.0)
        result["upload"] = beat.stop()
        if profile is not None:
            profile.disable()
            _print_profile(profile, "the upload")
        result["upload_culprits"] = beat.culprits() if watch else []
        if watch:  # a first import mid-upload reads the module's source (PySide's import hook), off the GUI
            imported = sorted(name for name in set(sys.modules) - modules_before if name.startswith("app"))
            result["upload_culprits"].append(f"  modules first imported during the upload: {', '.join(imported) or 'none'}")
        modules_before = set(sys.modules)

        window.show_activity(window.summary_tab.current_activity_id() or _upload_activity_row(ctx))
        window.tabs.setCurrentIndex({"summary": TAB_SUMMARY, "activities": TAB_ACTIVITIES, "upload": TAB_UPLOAD}[tab])
        _settle(app, 1.0)
        reports: list[dict] = []
        window.sync_finished.connect(reports.append)
        beat.start()
        profile = _gui_profile(profile_gui)
        if profile is not None:
            profile.enable()
        started = time.perf_counter()
        if not window.sync_now():
            raise RuntimeError("the sync did not start")
        _spin(app, lambda: bool(reports), 600, "the sync to finish")
        result["sync_s"] = time.perf_counter() - started
        _settle(app, 2.0)
        result["sync"] = beat.stop()
        if profile is not None:
            profile.disable()
            _print_profile(profile, "the sync")
        result["sync_culprits"] = beat.culprits() if watch else []
        if watch:
            imported = sorted(name for name in set(sys.modules) - modules_before if name.startswith("app"))
            result["sync_culprits"].append(f"  modules first imported during the sync: {', '.join(imported) or 'none'}")
        result["report"] = reports[0]
        window.close()
        window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    store.close()
    for leftover in folder.glob(copy.name + "*"):
        leftover.unlink()
    return result


def _upload_activity_row(ctx) -> int:  # noqa: ANN001
    from sqlalchemy import select

    from app.models.schema import ActivityRow
    from batch_support import ACTIVITY_ID

    return ctx.read(lambda s: s.scalar(select(ActivityRow.id).where(ActivityRow.accme_id == ACTIVITY_ID)))


def main_sizes(args: argparse.Namespace) -> int:
    import statistics

    from PySide6.QtWidgets import QApplication

    sys.path.insert(0, str(ROOT / "bench"))
    sys.path.insert(0, str(ROOT / "tests"))
    from bench_check_db import make_workbook
    from store_builder import build

    app = QApplication.instance() or QApplication([sys.argv[0]])
    print(f"interpreter switch interval: {args.switch_interval or 'as the window sets it'} ms")
    print(f"load average at start: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    print(f"heartbeat every {HEARTBEAT_MS} ms on the GUI thread; stall = the longest gap between two ticks "
          f"(an idle loop shows ~{HEARTBEAT_MS} ms); sandbox in {args.sandbox}"
          f"{'' if args.sandbox != 'process' or args.sandbox_nice is None else f' (nice +{args.sandbox_nice})'}; "
          f"{args.tab} tab on screen while syncing; background reads nice +{args.reader_nice if args.reader_nice is not None else '(as the app)'}; "
          f"median of {args.runs} runs. Target: < {STORE_STALL_TARGET_MS:.0f} ms")
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="parsdesk-bench-ui-") as scratch:
        folder = Path(scratch)
        os.environ["PARSDESK_SETTINGS_DIR"] = str(folder / "settings")
        for size in args.sizes:
            workbook = folder / f"upload-{size}.xlsx"
            make_workbook(workbook, build(size), args.records)
            runs = []
            for _ in range(args.runs):
                runs.append(run_store_case(app, size, folder, workbook, where=args.sandbox, tab=args.tab,
                                           watch=args.watch, switch_interval=args.switch_interval,
                                           profile_gui=args.profile_gui, sandbox_nice=args.sandbox_nice))
                load = os.getloadavg()[0]
                last = runs[-1]
                print(f"  {size:>9,}: idle floor {last['floor']['longest_ms']:5.1f} ms (p99 {last['floor']['p99_ms']:4.1f}); "
                      f"upload stall {last['upload']['longest_ms']:6.1f} ms (p99 {last['upload']['p99_ms']:5.1f}), "
                      f"drop->queued {last['queued_s']:.2f} s; sync stall {last['sync']['longest_ms']:6.1f} ms "
                      f"(p99 {last['sync']['p99_ms']:5.1f}), sync {last['sync_s']:.2f} s, "
                      f"submitted {last['report'].get('submitted')} accepted {last['report'].get('accepted')} "
                      f"errors {last['report'].get('errors')}; load {load:.2f}", flush=True)
                if args.watch:
                    print("   upload stalls:\n" + "\n".join(last["upload_culprits"]))
                    print("   sync stalls:\n" + "\n".join(last["sync_culprits"]))
            up = statistics.median(r["upload"]["longest_ms"] for r in runs)
            up99 = statistics.median(r["upload"]["p99_ms"] for r in runs)
            sy = statistics.median(r["sync"]["longest_ms"] for r in runs)
            sy99 = statistics.median(r["sync"]["p99_ms"] for r in runs)
            floor = statistics.median(r["floor"]["longest_ms"] for r in runs)
            worst = max(worst, up, sy)
            print(f"{size:>10,} records: Batch Upload longest stall {up:.1f} ms (p99 {up99:.1f}); "
                  f"sync longest stall {sy:.1f} ms (p99 {sy99:.1f}); "
                  f"runs: upload {[round(r['upload']['longest_ms']) for r in runs]}, "
                  f"sync {[round(r['sync']['longest_ms']) for r in runs]}; idle floor {floor:.1f} ms "
                  f"(ratios {up / floor:.1f}x / {sy / floor:.1f}x); load {os.getloadavg()[0]:.2f}", flush=True)
    verdict = "OK" if worst < STORE_STALL_TARGET_MS else "OVER TARGET"
    print(f"longest median stall: {worst:.1f} ms (target < {STORE_STALL_TARGET_MS:.0f} ms): {verdict}")
    return 0 if worst < STORE_STALL_TARGET_MS else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--sizes", type=lambda text: [int(s.replace("k", "000").replace("M", "000000"))
                                                      for s in text.split(",")],
                        default=[10_000, 100_000, 500_000, 1_000_000],
                        help="store sizes for the upload + sync measure (default 10k,100k,500k,1M)")
    parser.add_argument("--runs", type=int, default=3, help="runs per store size (the median is printed)")
    parser.add_argument("--watch", action="store_true",
                        help="print every thread's stack at the longest stalls (what held the GUI thread)")
    parser.add_argument("--profile-gui", action="store_true",
                        help="print a cProfile of the GUI thread during the upload and the sync (slows it)")
    parser.add_argument("--switch-interval", type=float, default=0.0,
                        help="Python's thread switch interval in ms for this run (default: as the app sets it)")
    parser.add_argument("--small", action="store_true",
                        help="the older measure instead: sync N records queued in a fresh store, both passes")
    parser.add_argument("--tab", choices=("summary", "activities", "upload", "both"), default="summary",
                        help="which tab is on screen while syncing (default: summary; both: --small only)")
    parser.add_argument("--sandbox", choices=("process", "thread", "both"), default="process",
                        help="the PARS sandbox in its own process (as the local environment runs it, like a "
                             "remote PARS; default), in this process on threads (as the app ran it before "
                             "session 16), or both (--small only)")
    parser.add_argument("--sandbox-nice", type=int, default=None,
                        help="the sandbox process's nice value above this one (default: as the app sets it, "
                             "app/sandbox/process.py SANDBOX_NICE; 0 for the same priority)")
    parser.add_argument("--reader-nice", type=int, default=None,
                        help="the window's background-read threads' nice value above the GUI thread's (default: "
                             "as the app sets it, app/ui/context.py BACKGROUND_READ_NICE; 0 to leave them alone)")
    parser.add_argument("--search-records", type=int, default=0,
                        help="with --small: store size for the Learner Search measure (0 skips it)")
    args = parser.parse_args(argv)
    if args.reader_nice is not None:
        import app.ui.context

        app.ui.context.BACKGROUND_READ_NICE = args.reader_nice
    if not args.small:
        if args.sandbox == "both" or args.tab == "both":
            parser.error("--sandbox both and --tab both go with --small")
        return main_sizes(args)
    print(f"records: {args.records}")
    worst = 0.0
    cases = [(tab, where) for where in (("thread", "process") if args.sandbox == "both" else (args.sandbox,))
             for tab in (("summary", "activities") if args.tab == "both" else (args.tab,))]
    for tab, where in cases:
        send, poll = run_case(args.records, tab, where)
        for name, result in (("send (Queued -> Submitted/Accepted)", send), ("poll (Submitted -> final)", poll)):
            report = result["report"]
            print(f"[{tab} tab, sandbox in {where}] {name}: {result['seconds']:.2f} s, longest event-loop stall "
                  f"{result['max_stall_ms']:.1f} ms, p99 gap {result['p99_gap_ms']:.1f} ms, "
                  f"{int(result['ticks'])} ticks; submitted {report['submitted']}, accepted {report['accepted']}, "
                  f"rejected {report['rejected']}, errors {report['errors']}")
            worst = max(worst, result["max_stall_ms"])
    verdict = "OK" if worst < STALL_TARGET_MS else "OVER TARGET"
    print(f"longest stall while syncing: {worst:.1f} ms (target < {STALL_TARGET_MS:.0f} ms): {verdict}")
    search_ok = True
    if args.search_records:
        # --- Learner Search: open and filter with many records (bench/bench_search.py) ---
        from bench.bench_search import measure_search, report as report_search

        print(f"\nLearner Search with {args.search_records} records:")
        search_ok = report_search(measure_search(args.search_records))
    return 0 if worst < STALL_TARGET_MS and search_ok else 1


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    # skip interpreter teardown: PySide objects left to the garbage collector at exit can crash it
    os._exit(code)
