"""Check a PARS learner batch file (.xlsx or .xml) the way PARS would, without sending anything.

    parsdesk check learners.xlsx --activities activities.json [--as-of 2026-03-31]
    parsdesk check learners.xml --db ~/parsdesk.sqlite3 --format json --rejections rejected.xml

Exit status: 0 every record is valid, 1 some are not, 2 the file or the activities file could not be
read, 3 the store could not be used or --rejections could not be written — then one line on stderr
says why (docs/cli.md). Nothing is ever written to the store, and a read-only store is fine.

Kept light on purpose: no Qt, and no SQLAlchemy unless the store is the office database (a store file
is read with sqlite3, app/models/sqlite_view.py), so checking 5,000 rows takes well under a second
(bench/bench_check.py and bench/bench_check_db.py measure it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from app.wording import plural

if TYPE_CHECKING:
    from datetime import date

    from app.pars.batch import BatchFile
    from app.pars.domain import Activity, History, Issue


class CheckError(Exception):
    """Something the check needs cannot be read; str() is the one line for stderr."""


def _iso_date(text: str) -> date:
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date in YYYY-MM-DD form") from None


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="learner batch: PARS Excel template (.xlsx) or XML (.xml)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--activities",
        metavar="ACTIVITIES.json",
        help="the activities to check against (docs/activities-json.md)",
    )
    source.add_argument(
        "--db", metavar="PATH", help="take activities and earlier records from this ParsDesk store (read only)"
    )
    parser.add_argument(
        "--as-of", type=_iso_date, metavar="YYYY-MM-DD", help="judge dates as if today were this day"
    )
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="report format (default text)"
    )
    parser.add_argument(
        "--rejections", metavar="OUT.xlsx|OUT.xml",
        help="write the invalid records here: .xlsx, the rows with Error Code and Error Message; .xml (for an "
             "XML file), PARS learner XML of the invalid records as read, each with its error code and description",
    )
    parser.set_defaults(func=run)


def _from_activities_file(path: str) -> tuple[dict[str, Activity], History]:
    from app.pars.activities_json import ActivitiesFileError, read_activities
    from app.pars.domain import History

    try:
        activities = read_activities(path)
    except ActivitiesFileError as exc:
        raise CheckError(f"activities file {exc}") from None
    return {a.activity_id: a for a in activities if a.activity_id}, History()


def _from_store(path: Path | str | None, batch: BatchFile) -> tuple[dict[str, Activity], History]:
    from app.commands.common import store_location

    location, _ = store_location(path)
    if isinstance(location, str) and location.lower().startswith("sqlite:///"):
        location = Path(location[len("sqlite:///"):])
    if isinstance(location, Path):
        return _from_store_file(location, batch)
    return _from_office_database(path, batch)


def _from_store_file(path: Path, batch: BatchFile) -> tuple[dict[str, Activity], History]:
    """A store file, read through sqlite3 (app/models/sqlite_view.py): SQLAlchemy and the models
    would cost more to load than the whole check."""
    import sqlite3

    from app.commands.common import EXIT_ENVIRONMENT, CommandError, one_line
    from app.models import sqlite_view

    try:
        connection = sqlite_view.open_store_file(path)
    except sqlite_view.StoreViewError as exc:
        hint = " (check --db or PARSDESK_DB)" if "no ParsDesk store" in str(exc) else ""
        raise CommandError(one_line(exc) + hint, EXIT_ENVIRONMENT) from None
    try:
        return sqlite_view.load_activities(connection), sqlite_view.history_for_batch(connection, batch)
    except (sqlite3.Error, ValueError) as exc:  # a damaged file, a store of another schema, an odd value
        raise CommandError(
            f"{path} is not a usable ParsDesk store ({sqlite_view.error_text(exc)})", EXIT_ENVIRONMENT
        ) from None
    finally:
        connection.close()


def _from_office_database(path: str | None, batch: BatchFile) -> tuple[dict[str, Activity], History]:
    from sqlalchemy.exc import SQLAlchemyError

    from app.commands.common import EXIT_ENVIRONMENT, CommandError, open_store
    from app.models.store import database_error_text
    from app.services.batch_import import history_for_batch
    from app.services.history import load_domain_activities

    # No migration, no writing: checking never changes the store.
    store = open_store("check", path, create=False, migrate=False, for_writing=False)
    try:
        with store.session() as session:
            # only what the file's learners and activities need, as import reads it
            return load_domain_activities(session), history_for_batch(session, batch)
    except SQLAlchemyError as exc:
        raise CommandError(
            f"{path} is not a usable ParsDesk store ({database_error_text(exc)})", EXIT_ENVIRONMENT
        ) from None
    finally:
        store.close()


def _context(args: argparse.Namespace, batch: BatchFile) -> tuple[dict[str, Activity], History, str | None]:
    """Activities, history, and a note when neither --activities nor --db was given."""
    if args.activities:
        return (*_from_activities_file(args.activities), None)
    if args.db:
        return (*_from_store(args.db, batch), None)
    from app.paths import default_db_path, store_exists

    if store_exists(default_db_path()):
        return (*_from_store(None, batch), None)
    from app.pars.domain import History

    return {}, History(), "no --activities or --db given and no ParsDesk store found: activities are unknown"


def _issue_json(issue: Issue) -> dict[str, object]:
    return {"code": issue.code, "field": issue.field, "message": issue.message}


def _report_json(batch: BatchFile, verdicts: Sequence[Sequence[Issue]]) -> str:
    rows = [
        {"row": record.row, "errors": [_issue_json(issue) for issue in issues]}
        for record, issues in zip(batch.records, verdicts)
        if issues
    ]
    invalid = len(rows)
    total = len(batch.records)
    report = {"records": total, "valid": total - invalid, "invalid": invalid, "rows": rows}
    import json

    return json.dumps(report, indent=2)


def _report_text(batch: BatchFile, verdicts: Sequence[Sequence[Issue]], file_name: str) -> str:
    unit = "Row" if batch.format == "xlsx" else "Record"
    lines: list[str] = []
    invalid = 0
    for record, issues in zip(batch.records, verdicts):
        if not issues:
            continue
        invalid += 1
        lines.append(f"{unit} {record.row}:")
        for issue in issues:
            code = f"{issue.code}" if issue.code else "---"
            lines.append(f"  {code}  {issue.field}: {issue.message}")
    total = len(batch.records)
    lines.append(f"{file_name}: {plural(total, 'record')}, {total - invalid:,} valid, {invalid:,} invalid.")
    return "\n".join(lines)


def rejection_rows(batch: BatchFile, verdicts: Sequence[Sequence[Issue]]) -> list[tuple[list[str], int, str]]:
    """(original values, error code, error message) for each invalid record, as PARS's rejection file has."""
    rows = []
    for record, issues in zip(batch.records, verdicts):
        if issues:
            if len(issues) == 1:
                message = issues[0].message
            else:
                message = "; ".join(f"{i.code} {i.field}: {i.message}" if i.code else f"{i.field}: {i.message}"
                                    for i in issues)
            rows.append((record.values, issues[0].code, message))
    return rows


def _write_xml_rejections(path: Path, batch: BatchFile, verdicts: Sequence[Sequence[Issue]]) -> int:
    """The invalid records as a PARS learner XML file (as read when the batch is XML; from the cells of a
    workbook otherwise); returns how many. Nothing is written when every record is valid."""
    from datetime import datetime, timezone

    from app.pars.files import private_output
    from app.pars.xml_codec import RejectedRecord, rejected_as_read, render_rejections

    records = []
    unit = "record" if batch.format == "xml" else "row"
    for record, (_, code, message) in zip(
        (r for r, issues in zip(batch.records, verdicts) if issues), rejection_rows(batch, verdicts), strict=True
    ):
        origin = f"{unit} {record.row}"
        records.append(rejected_as_read(record.source, code, message, origin) if record.source
                       else RejectedRecord(record.completion, code, message, origin=origin))
    if records:
        document = render_rejections(records, datetime.now(timezone.utc))
        with private_output(path) as handle:  # owner-only, all or nothing: it holds dates of birth
            handle.write(document)
    return len(records)


def check_batch(
    batch: BatchFile, activities: Mapping[str, Activity], history: History, as_of: date
) -> list[list[Issue]]:
    from app.pars import validation
    from app.pars.batch import completions_for_validation
    from app.pars.domain import Issue, RecordAction

    by_content = batch.format == "xlsx"
    completions = completions_for_validation(batch.records, history, match_deletes_by_content=by_content)
    verdicts = [list(issues) for issues in validation.validate_batch(completions, activities, history, as_of)]
    if by_content:
        # An Excel Delete names its record by content: when nothing sent matches, PARS says 605, not 650.
        for completion, issues in zip(completions, verdicts):
            if issues and validation.record_action(completion.action) is RecordAction.DELETE \
                    and not completion.credit_id:
                issues[:] = [
                    Issue(605, issue.field, "No record sent earlier has this row's content (activity, learner, "
                          "completion date, credits), so there is nothing to delete")
                    if issue.code == 650 else issue
                    for issue in issues
                ]
    return verdicts


def run(args: argparse.Namespace) -> int:
    import gc

    # A check allocates a few hundred thousand small objects and frees them at exit; the cyclic
    # collector walking them again and again would cost a third of the run. What it checks is
    # bounded (at most 5,000 records), so the collector rests until the check is done.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _check(args)
    finally:
        if collecting:
            gc.enable()


def _check(args: argparse.Namespace) -> int:
    from app.pars.batch_limits import BatchFileError
    from app.pars.batch_reading import start_reading

    path = Path(args.file)
    try:
        reading = start_reading(path)  # an .xlsx is parsed on a thread from here on
    except BatchFileError as exc:
        print(f"parsdesk check: {exc}", file=sys.stderr)
        return 2
    try:
        # Meanwhile, what does not need the records: the activities file and the validation rules.
        from_file: tuple[dict[str, Activity], History] | CheckError | None = None
        if args.activities:
            try:
                from_file = _from_activities_file(args.activities)
            except CheckError as exc:
                from_file = exc  # reported after the batch file's own problem, if it has one
        from app.pars import validation  # noqa: F401 - loaded now, used by check_batch

        batch = reading.batch()
        if isinstance(from_file, CheckError):
            raise from_file
        activities, history, note = (*from_file, None) if from_file is not None else _context(args, batch)
    except (BatchFileError, CheckError) as exc:
        print(f"parsdesk check: {exc}", file=sys.stderr)
        return 2
    finally:
        reading.close()
    if note:
        print(f"parsdesk check: note: {note}", file=sys.stderr)

    from datetime import date

    verdicts = check_batch(batch, activities, history, args.as_of or date.today())
    if args.format == "json":
        print(_report_json(batch, verdicts))
    else:
        print(_report_text(batch, verdicts, path.name))

    if args.rejections:
        try:
            if Path(args.rejections).suffix.lower() == ".xml":
                if not _write_xml_rejections(Path(args.rejections), batch, verdicts):
                    print(f"parsdesk check: no invalid record, {args.rejections} not written", file=sys.stderr)
            else:
                from app.pars.excel import write_rejections

                write_rejections(args.rejections, batch.headers, rejection_rows(batch, verdicts))
        except OSError as exc:
            print(f"parsdesk check: cannot write {args.rejections}: {exc.strerror or exc}", file=sys.stderr)
            return 3
    return 1 if any(verdicts) else 0
