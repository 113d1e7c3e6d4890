"""Run the PARS sandbox: a local PARS that validates records and plays the boards (docs/sandbox.md).

Exit status: 0 stopped with Ctrl+C, SIGTERM or (with the internal --exit-on-stdin-eof) the end of its
input, 2 a bad option or --activities file, 3 it cannot listen (the port is taken) or --state cannot be
used (docs/cli.md).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import threading

from app.pars.environments import LOCAL_SANDBOX_PORT
from app.wording import plural

MAX_BOARD_DELAY_S = 7 * 24 * 3600.0  # a week: boards are slow, not that slow
MAX_LATENCY_MS = 60_000.0


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:20]!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is out of range: use 1..65535, or 0 for a free one")
    return value


def _bounded(name: str, low: float, high: float):  # noqa: ANN202 - an argparse type
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text[:20]!r} is not a number") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{name} must be between {low:g} and {high:g}")
        return value

    return parse


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: loopback only)")
    parser.add_argument(
        "--port", type=_port, default=LOCAL_SANDBOX_PORT,
        help=f"port (0 picks a free one; default {LOCAL_SANDBOX_PORT}, where `parsdesk sync` looks)",
    )
    parser.add_argument(
        "--board-delay", type=_bounded("the board delay", 0, MAX_BOARD_DELAY_S), default=5.0, metavar="S",
        help="seconds before a board answers a Submitted record (default 5)",
    )
    parser.add_argument(
        "--seed", default="demo",
        help='registry of diplomates and licensees: "demo" (documented set), "empty", or any other seed',
    )
    parser.add_argument("--activities", metavar="FILE.json", help="preload activities (docs/activities-json.md)")
    parser.add_argument(
        "--fail-rate", type=_bounded("the fail rate", 0, 1), default=0.0, metavar="F",
        help="answer this fraction of requests with HTTP 503 (0..1, seeded; default 0)",
    )
    parser.add_argument(
        "--latency", type=_bounded("the latency", 0, MAX_LATENCY_MS), default=0.0, metavar="MS",
        help="delay every answer by MS ms",
    )
    parser.add_argument("--state", metavar="PATH", help="keep the sandbox's records in this SQLite file")
    parser.add_argument(
        "--exit-on-stdin-eof", action="store_true",
        # internal (docs/sandbox.md): the desktop app starts the sandbox with a pipe on its stdin and
        # this option, so the sandbox stops when the app closes that pipe or dies
        help=argparse.SUPPRESS,
    )
    parser.add_argument(
        "--print-registry", action="store_true",
        help="print the seed's diplomates and licensees as JSON and exit (fictional people)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.pars.activities_json import ActivitiesFileError, read_activities
    from app.pars.credentials import SANDBOX_DEMO_CREDENTIALS
    from app.sandbox import SandboxServer

    if args.print_registry:
        return _print_registry(args.seed)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: the sandbox listens on {args.host}, reachable from other machines", file=sys.stderr)
    activities = []
    if args.activities:
        try:
            activities = read_activities(args.activities)
        except (ActivitiesFileError, OSError) as exc:
            print(f"parsdesk sandbox: {args.activities}: {exc}", file=sys.stderr)
            return 2
    try:
        server = SandboxServer(
            args.host,
            args.port,
            board_delay=args.board_delay,
            seed=args.seed,
            activities=activities,
            fail_rate=args.fail_rate,
            latency_ms=args.latency,
            state_path=args.state,
        )
    except OSError as exc:  # the port is taken, the interface does not exist, ...
        print(f"parsdesk sandbox: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 3
    except ValueError as exc:  # --state is not a sandbox state file, ...
        print(f"parsdesk sandbox: cannot start: {exc}", file=sys.stderr)
        return 3
    _stop_on_sigterm(server)  # before the line that says it listens: from then on it may be told to stop
    creds = SANDBOX_DEMO_CREDENTIALS
    print(f"PARS sandbox on {server.url}  (provider {creds.provider_id}, user {creds.user!r}, "
          f"password {creds.password!r}); {plural(len(activities), 'activity')} preloaded; Ctrl+C stops it.")
    sys.stdout.flush()
    if args.exit_on_stdin_eof:
        threading.Thread(target=_stop_at_end_of_input, args=(server,), name="stdin-watch", daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def _stop_on_sigterm(server: object) -> None:
    """SIGTERM ends the sandbox as the end of its input does: serving stops and its state file is
    closed, not cut off mid-write. The main thread serves, so the stop is asked from a watcher
    thread; the handler only wakes it (a handler that started a thread could deadlock on
    Thread.start's lock, held by the main thread as it starts a request's thread)."""
    import signal

    from app.commands.stopping import StopRequest

    if not hasattr(signal, "SIGTERM") or threading.current_thread() is not threading.main_thread():
        return
    stop = StopRequest()  # lives as long as the process: the watcher waits on it to the end

    def watch() -> None:
        stop.wait(None)
        server.stop_serving()  # type: ignore[attr-defined]

    threading.Thread(target=watch, name="sigterm-watch", daemon=True).start()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.request())


def _stop_at_end_of_input(server: object) -> None:
    """Wait for the end of stdin (the parent closed the pipe, or ended however it ended), then stop
    serving. Anything written to stdin is ignored. Read from the descriptor, not sys.stdin: a daemon
    thread blocked in a buffered reader makes the interpreter abort at exit."""
    try:
        descriptor = sys.stdin.fileno() if sys.stdin is not None else None
        while descriptor is not None and os.read(descriptor, 4096):
            pass
    except (OSError, ValueError):
        pass
    server.stop_serving()  # type: ignore[attr-defined]


def _print_registry(seed: str) -> int:
    import dataclasses
    import json

    from app.sandbox.registry import Registry

    people = [dataclasses.asdict(person) for person in Registry.from_seed(seed).people]
    print(json.dumps(people, indent=2))
    return 0
