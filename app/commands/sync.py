"""Send queued learner records to PARS and fetch the boards' answers, without the desktop app.

    parsdesk sync --once                                               # one pass against `parsdesk sandbox`
    parsdesk sync --once --env accme-sandbox                           # URL from environments.toml
    parsdesk sync --interval 300                                       # a pass every 5 minutes

For `--env local` (the default) the sandbox's URL comes from --url, else PARSDESK_SANDBOX_URL, else
http://127.0.0.1:8765 (where `parsdesk sandbox` listens by default).
Credentials are the ones stored for the environment (Settings, or the demo ones for local).

With --once: exit 0 when every record due was sent or settled, 1 when some could not be (network,
PARS refusing a batch, an activity PARS would not register) and stay queued for the next pass,
2 on a configuration problem (a bad --url, an unknown environment, no credentials), 3 when the store
cannot be used or PARS refused the credentials (docs/cli.md). A URL must be https, except for the
sandbox on this machine (127.0.0.1, ::1, localhost): nothing, least of all a password, goes out
over plain http. Without --once it runs until Ctrl+C (or SIGTERM),
waiting --interval seconds between passes and honouring each record's retry time.
See docs/sync.md (cron usage, exactly-once delivery).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.sync.engine import SyncEngine, SyncReport

from app.commands.common import EXIT_ENVIRONMENT, EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, open_store
from app.commands.stopping import StopRequest, stop_on_signals

EXIT_INCOMPLETE = EXIT_FINDINGS
EXIT_CONFIG = EXIT_USAGE


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("the interval must be more than 0 seconds")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("the batch size must be at least 1")
    return value


def _in_flight(text: str) -> int:
    from app.pars.environments import MAX_IN_FLIGHT

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if not 1 <= value <= MAX_IN_FLIGHT:
        raise argparse.ArgumentTypeError(f"batches in flight must be from 1 to {MAX_IN_FLIGHT}, not {value}")
    return value


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="PATH", help="the ParsDesk store (default: PARSDESK_DB or the data folder)")
    parser.add_argument("--env", default="local", metavar="NAME", help="PARS environment (default local)")
    parser.add_argument("--url", metavar="URL", help="PARS base URL (the local sandbox's, or to override --env's)")
    parser.add_argument("--once", action="store_true", help="one pass, then exit with its status")
    parser.add_argument(
        "--interval", type=_positive_float, default=300.0, metavar="S", help="seconds between passes (default 300)"
    )
    parser.add_argument(
        "--batch-size", type=_positive_int, default=500, metavar="N", help="records per PARS request (default 500)"
    )
    parser.add_argument(
        "--in-flight", type=_in_flight, default=None, metavar="N",
        help="learner batches sent to PARS at once, 1 to 8 (default: the environment's in_flight, else 4)",
    )
    parser.add_argument("--no-poll", action="store_true", help="only send; do not ask for the boards' answers")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    parser.set_defaults(func=run)


def summary(report: SyncReport) -> str:
    parts = [
        f"sent {report.sent}",
        f"submitted {report.submitted}",
        f"accepted {report.accepted}",
        f"rejected {report.rejected}",
        f"delete submitted {report.delete_submitted}",
        f"deleted {report.deleted}",
    ]
    if report.recovered or report.resent_after_lookup:
        parts.append(f"recovered {report.recovered}, resent after lookup {report.resent_after_lookup}")
    if report.activities_registered:
        parts.append(f"activities registered {report.activities_registered}")
    if report.activities_updated:
        parts.append(f"activities updated {report.activities_updated}")
    if report.waiting_deletes:
        parts.append(f"deletes waiting for the board {report.waiting_deletes}")
    parts.append(f"errors {report.errors}")
    parts.append(f"left in outbox {report.left_in_outbox}")
    if report.skipped:
        return "sync: skipped, another sync is running on this store"
    return "sync: " + ", ".join(parts) + (" (stopped)" if report.stopped else "")


def run(args: argparse.Namespace) -> int:
    import logging

    from app.pars.client import ParsConfigError, check_base_url
    from app.sync.engine import SyncConfigError, make_engine_factory, resolve_target

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # the engine's warnings are the report's problems, which are printed below once
    logging.getLogger("app.sync").setLevel(logging.ERROR)
    try:
        target = resolve_target(args.env, args.url)
        check_base_url(target.base_url)
    except (SyncConfigError, ParsConfigError) as exc:
        print(f"parsdesk sync: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    # an existing store only: a mistyped path would otherwise become a new, empty store with nothing to
    # sync. Migrated once here, so each pass opens it quickly.
    store = open_store("sync", args.db, create=False)
    db_path = getattr(store, "location", None) or store.path  # what Store.open takes again
    store.close()
    make_engine = make_engine_factory(
        db_path, target, batch_size=args.batch_size, in_flight=args.in_flight, actor="parsdesk sync"
    )

    with StopRequest() as stop, stop_on_signals(stop):
        try:
            return _loop(args, make_engine, stop)
        except KeyboardInterrupt:
            return EXIT_INTERRUPTED


def _loop(args: argparse.Namespace, make_engine: Callable[[], SyncEngine], stop: StopRequest) -> int:
    from sqlalchemy.exc import OperationalError

    from app.models.store import StoreError, database_error_text

    while True:
        try:
            with make_engine() as engine:
                # --once is meant for cron: its schedule is the retry timing, so every due record goes now.
                report = engine.run(should_stop=stop.is_set, poll=not args.no_poll, respect_backoff=not args.once)
        except (StoreError, OperationalError) as exc:
            # the store is locked too long, the disk is full, ...: an environment problem, not a bug
            print(f"parsdesk sync: the store could not be used: {database_error_text(exc)}", file=sys.stderr)
            if args.once:
                return EXIT_ENVIRONMENT
            if stop.wait(args.interval):
                return EXIT_OK
            continue
        if not args.quiet or report.errors or report.fatal:
            print(summary(report), flush=True)
        for problem in report.problems[:5]:
            print(f"  {problem}", file=sys.stderr)
        if report.fatal:
            print(f"parsdesk sync: {report.fatal}", file=sys.stderr)
            return EXIT_ENVIRONMENT
        if args.once or stop.is_set():
            if report.stopped:
                return EXIT_INTERRUPTED
            return EXIT_INCOMPLETE if report.errors else EXIT_OK
        if stop.wait(args.interval):
            return EXIT_OK
