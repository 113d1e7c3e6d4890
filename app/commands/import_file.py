"""Import a PARS learner batch file (.xlsx or .xml) and queue its valid records for the next sync.

    parsdesk import learners.xlsx
    parsdesk import learners.xml --db office.sqlite3 --as-of 2026-03-31

Running this command is the uploader's attestation that the learners in the file gave permission to
report their completions to PARS; it is recorded on the upload with the operating-system user name.
Rows that fail PARS's rules are not queued: they are written next to the file, fixed there and imported
again. For a workbook that is <name>-rejections.xlsx, with an Error Code and Error Message column; for an
XML file <name>-rejections.xml, PARS learner XML holding the rejected records as read, each with its error
code and description (docs/xml-format.md).
Rows that repeat, unchanged, a record PARS or a board rejected are listed ("rejected 664 on
11-20-2026: will be sent unchanged ...") and left alone; --resend-rejected queues them again under
new credit IDs (for codes that clear with time, such as 661 before the board knows the learner).

Exit status: 0 every record was queued (or had been reported already), 1 some rows failed,
2 the file could not be read, 3 the store could not be used or the rejections workbook could not be
written (docs/cli.md). A missing store file is created, in a folder that exists, and announced.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from app.commands.common import EXIT_ENVIRONMENT, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, open_store
from app.paths import store_location
from app.wording import plural

EXIT_ROWS_FAILED = EXIT_FINDINGS
EXIT_UNREADABLE = EXIT_USAGE
SHOWN_PROBLEMS = 20


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.split("\n\n", 1)[0]
    parser.epilog = (
        "Running this command attests that the learners in FILE gave permission to report their "
        "completions to PARS (recorded on the upload with your user name). Exit status: 0 all queued, "
        "1 some rows failed (see FILE-rejections.xlsx, or FILE-rejections.xml for an XML file), 2 the file could "
        "not be read, 3 the store could not be used or the rejections file not written."
    )
    parser.add_argument("file", metavar="FILE", type=Path, help="the learner batch: .xlsx (PARS template) or .xml")
    parser.add_argument("--db", type=store_location, metavar="PATH", help="the store (default: PARSDESK_DB or the data folder)")
    parser.add_argument(
        "--as-of",
        metavar="DATE",
        type=_iso_date,
        default=None,
        help="judge dates as of this day, YYYY-MM-DD (default: today)",
    )
    parser.add_argument(
        "--resend-rejected",
        action="store_true",
        help="also queue rows that repeat a rejected record unchanged (new credit IDs, linked to the rejected ones)",
    )
    parser.set_defaults(func=run)


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write YYYY-MM-DD") from None


def rejections_path(file: Path) -> Path:
    """Where the failed rows go: beside FILE, in its own format (an XML upload's rejections are XML)."""
    suffix = ".xml" if file.suffix.lower() == ".xml" else ".xlsx"
    return file.with_name(f"{file.stem}-rejections{suffix}")


def _user_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no login name in this environment (containers, services)
        return "parsdesk import"


def run(args: argparse.Namespace) -> int:
    from app.pars.batch import BatchFileError, load_batch
    from app.services.batch_import import analyse, commit, write_upload_rejections

    file: Path = args.file
    as_of: date = args.as_of or date.today()
    try:
        batch = load_batch(file)
    except BatchFileError as exc:
        print(f"parsdesk import: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    store = open_store("import", args.db, create=True)
    user = _user_name()
    try:
        if file.suffix.lower() == ".xlsx":
            # PARS's rejection workbook for an upload file (the upload-file route): unchanged, it is a
            # status update and nothing is queued; corrected, its rejections are recorded first so that
            # the corrected rows become resubmissions.
            from app.services.pars_upload import take_in_results_in_store

            check, applied = take_in_results_in_store(store, file, actor=user)
            if check.kind == "results" and applied is not None:
                print(f"{file.name}: {check.describe()} {applied.summary()} Nothing was queued.")
                return EXIT_OK
            if check.kind == "corrected":
                print(check.describe())
        with store.session() as session:
            analysis = analyse(session, batch, as_of)
        with store.transaction() as session:
            summary = commit(session, analysis, file.name, attested_by=user, actor=user,
                             resend_rejected=args.resend_rejected)
        print(f"{file.name}: {plural(summary.records, 'record')}, {summary.queued:,} queued "
              f"({plural(summary.adds, 'add')}, {plural(summary.deletes, 'delete')}), {summary.errors:,} with errors"
              + (f", {summary.already_reported:,} already reported (skipped)" if summary.already_reported else "")
              + (f", {summary.resent:,} rejected before and resent unchanged" if summary.resent else "")
              + (f", {summary.still_rejected:,} rejected before (not resent)" if summary.still_rejected else ""))
        for row, note in analysis.notes()[:SHOWN_PROBLEMS]:
            print(f"  row {row}: {note}")
        if summary.still_rejected:
            for row, note in analysis.rejected_before()[:SHOWN_PROBLEMS]:
                print(f"  row {row}: {note}")
            print("  Correct these rows and import them again, or add --resend-rejected to send them unchanged.")
        problems = analysis.problems()
        for problem in problems[:SHOWN_PROBLEMS]:
            print(f"  row {problem.row}, {problem.column}: {problem.code} {problem.message}")
        if len(problems) > SHOWN_PROBLEMS:
            print(f"  ... and {len(problems) - SHOWN_PROBLEMS:,} more in the rejections file")
        if summary.errors:
            out = rejections_path(file)
            try:
                with store.session() as session:
                    write_upload_rejections(session, summary.upload_id, out)
            except OSError as exc:
                print(f"parsdesk import: cannot write {out}: {exc.strerror or exc}; the valid rows were queued",
                      file=sys.stderr)
                return EXIT_ENVIRONMENT
            else:
                print(f"Rejected rows written to {out}; fix them there and import that file again.")
            return EXIT_ROWS_FAILED
        return EXIT_OK
    finally:
        store.close()
