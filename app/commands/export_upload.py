"""Gather the queued records into PARS upload files, for offices that report through the PARS website.

    parsdesk export-upload ~/Desktop/pars                # Excel template files (.xlsx)
    parsdesk export-upload ~/Desktop/pars --format xml   # PARS learner XML files

Each file holds at most 5,000 records (PARS's limit); deletes are rows repeating what was sent, with
Record Action Delete. The records become "Uploaded by file" with the file's name in their history, and
are never put in a second file. Upload the files on the PARS website (Learners > Batch Upload), then
take PARS's rejection workbook in with `parsdesk upload-results`.

Exit status: 0 files written (or nothing queued), 2 OUT_DIR is not a folder or the upload cannot be
prepared, 3 the store could not be used (it must exist) or a file could not be written (docs/cli.md).
The files are owner-only (0600): they hold learners' identities.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out_dir", metavar="OUT_DIR", type=Path, help="the folder to write the upload files in")
    parser.add_argument("--format", choices=("xlsx", "xml"), default="xlsx",
                        help="Excel template (default) or PARS learner XML")
    parser.add_argument("--db", metavar="PATH", help="the store (default: PARSDESK_DB or the data folder)")
    parser.add_argument("--env", default="local", metavar="NAME",
                        help="the PARS environment the files are for (recorded with each file)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.commands.common import open_store
    from app.services.pars_upload import UploadRouteError, prepare_upload, store_runner
    from app.wording import plural

    if not args.out_dir.is_dir():
        print(f"parsdesk export-upload: {args.out_dir} is not a folder", file=sys.stderr)
        return 2
    store = open_store("export-upload", args.db, create=False)
    try:
        report = prepare_upload(store_runner(store), args.out_dir, file_format=args.format,
                                environment=args.env, actor=_user_name())
    except UploadRouteError as exc:
        print(f"parsdesk export-upload: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    for prepared in report.files:
        print(f"{prepared.path}: {plural(prepared.records, 'record')} ({plural(prepared.adds, 'add')}, "
              f"{plural(prepared.deletes, 'delete')})")
    print(report.summary())
    return 0


def _user_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no login name in this environment (containers, services)
        return "parsdesk export-upload"
