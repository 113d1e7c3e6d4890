"""Does starting the local sandbox in a process of its own slow the window's start-up?

    .venv/bin/python bench/bench_startup.py [--size 100k] [--runs 5]

Each run is a fresh Python process that does what `parsdesk gui --env local` does (app/commands/gui.py:
QApplication, settings, `open_session` on a copy of the cached store, the main window shown, offscreen)
and reports, from the moment its imports began: the window on screen, and the local sandbox ready
(its URL known, i.e. the first sync could start). Two ways alternate, run after run: the sandbox as a
child process (`LocalSandboxProcess`, what the app does) and in the app's own process (`SandboxServer`,
what it did before session 16). Medians of --runs each, and the ratio process / in-process.
The process is spawned first and its port read only when first needed, so the window is built while
the sandbox starts.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODES = ("process", "in-process")


def child(mode: str, db: str) -> None:
    """One start-up, timed; prints one JSON line."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    sys.path.insert(0, str(ROOT))
    import functools

    import app.commands.gui as gui

    if mode == "in-process":
        gui.start_local_sandbox = functools.partial(gui.start_local_sandbox, own_process=False)
    app = gui.make_application([sys.argv[0], "-platform", "offscreen"])
    from app.ui.main_window import MainWindow
    from app.ui.settings import AppSettings

    settings = AppSettings(board_delay_s=5.0, sync_interval_s=0)
    session = gui.open_session(Path(db), "local", settings, command=None)
    window = MainWindow(session.ctx)
    window.show()
    app.processEvents()
    shown = time.perf_counter()
    url = session.sandbox.url
    ready = time.perf_counter()
    started_stop = time.perf_counter()
    window.close()
    session.close()
    stopped = time.perf_counter()
    print(json.dumps({"window_s": shown - STARTED, "sandbox_ready_s": ready - STARTED,
                      "close_s": stopped - started_stop, "url": url}), flush=True)
    os._exit(0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="100k", help="cached store size (bench/store_builder.py)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    sys.path.insert(0, str(ROOT / "bench"))
    from store_builder import build

    size = int(args.size.replace("k", "000").replace("M", "000000"))
    source = build(size)
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; store {size:,} records; "
          f"{args.runs} runs per way, alternating")
    results: dict[str, list[dict]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory(prefix="parsdesk-bench-startup-") as scratch:
        env = {**os.environ, "PARSDESK_SETTINGS_DIR": str(Path(scratch) / "settings"),
               "PARSDESK_DATA_DIR": str(Path(scratch) / "data"), "QT_QPA_PLATFORM": "offscreen"}
        for run in range(args.runs):
            for mode in MODES if run % 2 == 0 else tuple(reversed(MODES)):
                copy = Path(scratch) / f"store-{mode}.sqlite3"
                shutil.copyfile(source, copy)
                for side in Path(scratch).glob(f"store-{mode}-sandbox.sqlite3*"):
                    side.unlink()
                done = subprocess.run([sys.executable, __file__, "--child", mode, str(copy)], env=env,
                                      capture_output=True, text=True, timeout=600)
                if done.returncode != 0:
                    print(done.stderr[-2000:], file=sys.stderr)
                    return 1
                result = json.loads(done.stdout.strip().splitlines()[-1])
                results[mode].append(result)
                print(f"  {mode:>10}: window shown {result['window_s']:.3f} s, sandbox ready "
                      f"{result['sandbox_ready_s']:.3f} s, close {result['close_s']:.3f} s; "
                      f"load {os.getloadavg()[0]:.2f}", flush=True)
    medians = {mode: {key: statistics.median(r[key] for r in runs) for key in ("window_s", "sandbox_ready_s", "close_s")}
               for mode, runs in results.items()}
    for mode in MODES:
        m = medians[mode]
        print(f"{mode:>12}: window shown {m['window_s']:.3f} s, sandbox ready {m['sandbox_ready_s']:.3f} s, "
              f"close {m['close_s']:.3f} s (medians)")
    ratio = medians["process"]["window_s"] / medians["in-process"]["window_s"]
    ready = medians["process"]["sandbox_ready_s"] / medians["in-process"]["sandbox_ready_s"]
    print(f"process / in-process: window shown {ratio:.2f}x, sandbox ready {ready:.2f}x; "
          f"load {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
