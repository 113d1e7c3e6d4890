"""Does the window stay responsive while it syncs 5,000 records?

    .venv/bin/python bench/bench_ui.py [--records 5000] [--tab summary|activities|both]
                                       [--sandbox thread|process|both] [--search-records N]

The main window runs offscreen on a store with N queued records of one activity (half of them with
ABIM points) against the real PARS sandbox on loopback, with the Learner Summary of that activity or
the Activities tab on screen. A QTimer ticks every 10 ms on the GUI thread and records the gap between
ticks; the longest gap is the longest the user would have seen the window frozen. Two passes are
measured: sending every record (-> Submitted / Accepted), then, after the sandbox's boards answered,
polling the Submitted ones (-> Rejected: their diplomate IDs are made up). The sandbox runs in this
process (as the local environment runs it) and/or in its own process (as a remote PARS would).
Target: longest stall < 100 ms. A Learner Search timing section follows (bench/bench_search.py)."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STALL_TARGET_MS = 100.0
TICK_MS = 10


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
def sandbox_process(scratch: Path) -> Iterator[tuple[str, Callable[[float], None]]]:
    """The sandbox as its own process (`parsdesk sandbox`), as a remote PARS would be: its work then
    does not compete with the window for Python's interpreter lock. Yields (url, advance)."""
    import httpx

    from app.pars.activities_json import write_activities
    from tests.sync_support import SANDBOX_ACTIVITY

    activities = scratch / "activities.json"
    write_activities(activities, [SANDBOX_ACTIVITY])
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "sandbox", "--port", "0", "--board-delay", "3600",
         "--activities", str(activities)],
        stdout=subprocess.PIPE, text=True, cwd=str(ROOT),
    )
    try:
        found = re.search(r"http://\S+", process.stdout.readline() if process.stdout else "")
        if not found:
            raise RuntimeError("the sandbox process did not say where it listens")
        url = found.group(0)
        yield url, lambda seconds: httpx.post(url + "/_sandbox/advance", json={"seconds": seconds}).raise_for_status()
    finally:
        process.terminate()
        process.wait(10)


def run_case(records: int, tab: str, where: str = "thread") -> tuple[dict, dict]:
    """Both passes with `tab` ("summary": the Learner Summary of the activity, or "activities") shown,
    against the sandbox running in this process (`where="thread"`, as the local environment does) or
    in its own process (`where="process"`)."""
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
                url, advance = stack.enter_context(sandbox_process(Path(scratch)))
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--tab", choices=("summary", "activities", "both"), default="both",
                        help="which tab is on screen while syncing (default: both, one after the other)")
    parser.add_argument("--sandbox", choices=("thread", "process", "both"), default="both",
                        help="the PARS sandbox in this process (as the local environment runs it), in its "
                             "own process (as a remote PARS), or both (default)")
    parser.add_argument("--search-records", type=int, default=100_000,
                        help="store size for the Learner Search measure (0 skips it)")
    args = parser.parse_args(argv)

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
