"""Build a demo store: activities of several kinds and learners with real PARS statuses.

    parsdesk demo [--db PATH] [--learners N] [--offline]

The records are sent to the built-in PARS sandbox (started in this process, its state kept next to the
store) so the statuses are the ones the sandbox gave; --offline leaves every record queued.
"""

from __future__ import annotations

import argparse
import sys
from app.wording import plural
from pathlib import Path

from app.paths import store_location

MAX_DEMO_LEARNERS = 20_000


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=store_location, help="the store to create (default: PARSDESK_DB, else the data folder)")
    parser.add_argument("--learners", type=int, default=60, help="about how many learner records (default 60)")
    parser.add_argument("--offline", action="store_true", help="don't sync with the sandbox: leave records queued")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.commands.common import open_store
    from app.commands.gui import start_local_sandbox
    from app.services.demo import build_demo

    if not 1 <= args.learners <= MAX_DEMO_LEARNERS:
        print(f"parsdesk demo: --learners must be between 1 and {MAX_DEMO_LEARNERS:,}", file=sys.stderr)
        return 2
    store = open_store("demo", args.db, create=True)
    sandbox = None
    try:
        if not args.offline:
            sandbox = start_local_sandbox(store, board_delay_s=5.0, own_process=False)
        try:
            summary = build_demo(store, learners=args.learners, sandbox=sandbox)
        except ValueError as exc:
            print(f"parsdesk demo: {exc}", file=sys.stderr)
            return 2
        store.set_meta("demo", "1")
    finally:
        if sandbox is not None:
            sandbox.stop()
        store.close()
    statuses = ", ".join(f"{count} {status}" for status, count in sorted(summary.statuses.items()))
    print(f"Demo store {store.location}: {plural(summary.activities, 'activity')}, {plural(summary.records, 'learner record')} ({statuses}).")
    return 0
