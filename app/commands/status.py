"""What needs attention before a PARS deadline passes: the attention list, for cron and e-mail.

    parsdesk status                          # today, the default store, as text
    parsdesk status --db office.sqlite3 --as-of 2026-12-20 --format json

Exit status: 0 when nothing is overdue, 1 when something is (records past a deadline), 2 for bad
usage (an unknown option, a malformed deadlines.toml), 3 when the store cannot be used (it must exist;
docs/cli.md). The JSON is a list of
items, each with the rule's name, its title, the deadline (YYYY-MM-DD, or null for follow-ups
such as rejected records waiting for a correction), how many records it concerns, how many are
overdue, what to do, and the creditIDs (plus the ACCME activity IDs for activity-level items).
Rules and their dates are in resources/pars/deadlines.toml (an office can override them).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

EXIT_CLEAR, EXIT_OVERDUE, EXIT_USAGE = 0, 1, 2


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date in YYYY-MM-DD form") from None


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", help="the store (default: PARSDESK_DB or the data folder)")
    parser.add_argument("--as-of", type=_iso_date, metavar="YYYY-MM-DD",
                        help="judge deadlines as if today were this day (default: today, or PARSDESK_TODAY)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.commands.common import open_store
    from app.pars import clock
    from app.pars.catalog import CatalogError
    from app.services.attention import attention_list

    try:
        as_of = args.as_of or clock.today()
    except clock.ClockError as exc:
        print(f"parsdesk status: {exc}", file=sys.stderr)
        return EXIT_USAGE
    store = open_store("status", args.db, create=False)
    try:
        with store.session() as session:
            items = attention_list(session, as_of, with_ids=args.format == "json")
    except CatalogError as exc:
        print(f"parsdesk status: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        store.close()
    if args.format == "json":
        json.dump([item.as_dict() for item in items], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_text(items, as_of))
    return EXIT_OVERDUE if any(item.overdue for item in items) else EXIT_CLEAR


def format_text(items: list, as_of: date) -> str:
    from app.pars.values import format_pars_date

    if not items:
        return f"Nothing needs attention on {format_pars_date(as_of)}.\n"
    lines = [f"PARS attention list on {format_pars_date(as_of)}:"]
    for item in items:
        noun = "record" if item.count == 1 else "records"
        if item.overdue:
            when = f"{item.overdue} overdue (deadline {format_pars_date(item.deadline)})" if item.deadline else (
                f"{item.overdue} overdue")
        elif item.deadline:
            when = f"due by {format_pars_date(item.deadline)}"
        else:
            when = f"waiting since {format_pars_date(item.oldest)}" if item.oldest else "waiting"
        lines.append(f"- {item.title}: {item.count} {noun}, {when}")
        if item.activity_ids:
            lines.append(f"  activities: {', '.join(item.activity_ids)}")
        lines.append(f"  {item.action}")
    return "\n".join(lines) + "\n"
