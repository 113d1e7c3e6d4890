"""Export learner records to an Excel workbook (the same layout as "Download learners"), or to a PARS
learner XML file when OUT ends in .xml (the same document as an XML batch file).

    parsdesk export learners.xlsx                        # every record
    parsdesk export learners.xml --activity 123456789    # PARS learner XML, same filters
    parsdesk export rejected.xlsx --status Rejected      # just the rejected ones
    parsdesk export course.xlsx --activity 123456789     # one activity (ACCME ID or title words)

The workbook or XML file is owner-only (0600): it names learners. Exit status: 0 written, 1 no records for the
activity, 2 a bad option (unknown board or status, --from after --to, a filter too long), 3 the store
could not be used or the workbook not written (docs/cli.md).
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from app.commands.common import EXIT_ENVIRONMENT, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, CommandError, open_store
from app.pars.domain import Status
from app.pars.files import OutputError
from app.paths import store_location
from app.wording import plural


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", metavar="OUT.xlsx|OUT.xml", type=Path,
                        help="the workbook to write, or a PARS learner XML file (.xml); owner-only")
    parser.add_argument("--db", type=store_location, help="the store (default: PARSDESK_DB or the data folder)")
    parser.add_argument("--activity", help="only this activity: its 9-digit ACCME ID, or words of its title")
    parser.add_argument(
        "--status",
        type=_status,
        help="only records with this status: " + ", ".join(s.value for s in Status),
    )
    parser.add_argument("--board", type=_board, help="only records reporting points to this board (e.g. ABIM)")
    parser.add_argument("--from", dest="date_from", type=_iso_date, help="completed on/after YYYY-MM-DD")
    parser.add_argument("--to", dest="date_to", type=_iso_date, help="completed on/before YYYY-MM-DD")
    parser.set_defaults(func=run)


def _status(text: str) -> str:
    for status in Status:
        if status.value.casefold() == text.strip().casefold():
            return status.value
    raise argparse.ArgumentTypeError(
        f"unknown status {text[:30]!r}; use one of: " + ", ".join(s.value for s in Status)
    )


def _board(text: str) -> str:
    from app.pars import catalog

    code = catalog.board_code(text)
    if code is None:
        raise argparse.ArgumentTypeError(
            f"unknown board {text[:20]!r}; use one of: " + ", ".join(catalog.board_codes())
        )
    return code


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:20]!r} is not a date; write YYYY-MM-DD") from None


def run(args: argparse.Namespace) -> int:
    from app.services.export import export_filtered, export_filtered_xml
    from app.services.learners import SearchFilters, count_records, filter_problem

    out: Path = args.out
    if out.suffix.lower() not in (".xlsx", ".xml"):
        raise CommandError(f"{out} must end in .xlsx or .xml", EXIT_USAGE)
    filters = SearchFilters(
        activity=args.activity or "",
        status=args.status or "",
        board=args.board or "",
        date_from=args.date_from,
        date_to=args.date_to,
    )
    problem = filter_problem(filters)
    if problem:
        raise CommandError(problem, EXIT_USAGE)
    store = open_store("export", args.db, create=False)
    try:
        with store.session() as session:
            if args.activity and count_records(session, SearchFilters(activity=args.activity)) == 0:
                raise CommandError(f"no learner records for activity {args.activity[:60]!r}", EXIT_FINDINGS)
            if out.suffix.lower() == ".xml":
                written = export_filtered_xml(session, out, filters)
            else:
                written = export_filtered(session, out, filters)
    except OSError as exc:
        raise CommandError(str(exc) if isinstance(exc, OutputError) else f"cannot write {out}: {exc.strerror or exc}",
                           EXIT_ENVIRONMENT) from None
    finally:
        store.close()
    print(f"Wrote {plural(written, 'learner record')} to {out}")
    return EXIT_OK
