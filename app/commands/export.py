"""Export learner records to an Excel workbook (the same layout as "Download learners"), or to a PARS
learner XML file when OUT ends in .xml (the same document as an XML batch file).

    parsdesk export learners.xlsx                        # every record
    parsdesk export learners.xml --activity 123456789    # PARS learner XML, same filters
    parsdesk export rejected.xlsx --status Rejected      # just the rejected ones
    parsdesk export course.xlsx --activity 123456789     # one activity (ACCME ID or title words)
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from app.pars.domain import Status
from app.wording import plural


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", metavar="OUT.xlsx|OUT.xml", type=Path,
                        help="the workbook to write, or a PARS learner XML file (.xml)")
    parser.add_argument("--db", type=Path, help="the store (default: PARSDESK_DB or the data folder)")
    parser.add_argument("--activity", help="only this activity: its 9-digit ACCME ID, or words of its title")
    parser.add_argument(
        "--status",
        type=_status,
        help="only records with this status: " + ", ".join(s.value for s in Status),
    )
    parser.add_argument("--board", help="only records reporting points to this board (e.g. ABIM)")
    parser.add_argument("--from", dest="date_from", type=date.fromisoformat, help="completed on/after YYYY-MM-DD")
    parser.add_argument("--to", dest="date_to", type=date.fromisoformat, help="completed on/before YYYY-MM-DD")
    parser.set_defaults(func=run)


def _status(text: str) -> str:
    for status in Status:
        if status.value.casefold() == text.strip().casefold():
            return status.value
    raise argparse.ArgumentTypeError(
        f"unknown status {text!r}; use one of: " + ", ".join(s.value for s in Status)
    )


def run(args: argparse.Namespace) -> int:
    from app.models.store import Store, StoreError
    from app.paths import default_db_path
    from app.services.export import export_filtered, export_filtered_xml
    from app.services.learners import SearchFilters, count_records

    out: Path = args.out
    if out.suffix.lower() not in (".xlsx", ".xml"):
        print(f"parsdesk export: {out} must end in .xlsx or .xml", file=sys.stderr)
        return 2
    db_path = args.db or default_db_path()
    if not Path(db_path).exists():
        print(f"parsdesk export: no store at {db_path}", file=sys.stderr)
        return 2
    try:
        store = Store.open(db_path)
    except StoreError as exc:
        print(f"parsdesk export: {exc}", file=sys.stderr)
        return 2
    filters = SearchFilters(
        activity=args.activity or "",
        status=args.status or "",
        board=args.board or "",
        date_from=args.date_from,
        date_to=args.date_to,
    )
    try:
        with store.session() as session:
            if args.activity and count_records(session, SearchFilters(activity=args.activity)) == 0:
                print(f"parsdesk export: no learner records for activity {args.activity!r}", file=sys.stderr)
                return 1
            if out.suffix.lower() == ".xml":
                written = export_filtered_xml(session, out, filters)
            else:
                written = export_filtered(session, out, filters)
    except OSError as exc:
        print(f"parsdesk export: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(f"Wrote {plural(written, 'learner record')} to {out}")
    return 0
