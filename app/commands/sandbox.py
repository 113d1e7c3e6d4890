"""Run the PARS sandbox: a local PARS that validates records and plays the boards (docs/sandbox.md)."""

from __future__ import annotations

import argparse
import sys

from app.pars.environments import LOCAL_SANDBOX_PORT
from app.wording import plural


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: loopback only)")
    parser.add_argument(
        "--port", type=int, default=LOCAL_SANDBOX_PORT,
        help=f"port (0 picks a free one; default {LOCAL_SANDBOX_PORT}, where `parsdesk sync` looks)",
    )
    parser.add_argument(
        "--board-delay", type=float, default=5.0, metavar="S",
        help="seconds before a board answers a Submitted record (default 5)",
    )
    parser.add_argument(
        "--seed", default="demo",
        help='registry of diplomates and licensees: "demo" (documented set), "empty", or any other seed',
    )
    parser.add_argument("--activities", metavar="FILE.json", help="preload activities (docs/activities-json.md)")
    parser.add_argument(
        "--fail-rate", type=float, default=0.0, metavar="F",
        help="answer this fraction of requests with HTTP 503 (0..1, seeded; default 0)",
    )
    parser.add_argument("--latency", type=float, default=0.0, metavar="MS", help="delay every answer by MS ms")
    parser.add_argument("--state", metavar="PATH", help="keep the sandbox's records in this SQLite file")
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
    except (OSError, ValueError) as exc:
        print(f"parsdesk sandbox: cannot start: {exc}", file=sys.stderr)
        return 2
    creds = SANDBOX_DEMO_CREDENTIALS
    print(f"PARS sandbox on {server.url}  (provider {creds.provider_id}, user {creds.user!r}, "
          f"password {creds.password!r}); {plural(len(activities), 'activity')} preloaded; Ctrl+C stops it.")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def _print_registry(seed: str) -> int:
    import dataclasses
    import json

    from app.sandbox.registry import Registry

    people = [dataclasses.asdict(person) for person in Registry.from_seed(seed).people]
    print(json.dumps(people, indent=2))
    return 0
