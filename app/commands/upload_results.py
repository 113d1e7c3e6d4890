"""Take in PARS's rejection workbook for an upload file (the upload-file route).

    parsdesk upload-results pars-upload-20260315-083000-01-rejections.xlsx
    parsdesk upload-results rejections.xlsx --mark-rest-submitted

PARS's rejection workbook lists the records of an uploaded file that failed, with an error code and
description. Unchanged, it is a status update: each record it names becomes Rejected with PARS's code
and message, exactly as a sync would record it (a refused delete returns the record to its status).
A workbook the coordinator has corrected is not a status update but a new batch: the rejections its
rows still name are recorded, and the rows are queued with `parsdesk import` as resubmissions. With --mark-rest-submitted, the records of the same upload file that PARS did not
reject become Submitted (deletes Delete Submitted).

Exit status: 0 taken in, 1 the workbook is a corrected batch (queue it with parsdesk import) or an
ordinary batch (nothing changed),
2 the workbook could not be read, 3 the store could not be used (it must exist; docs/cli.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", type=Path, help="PARS's rejection workbook (.xlsx)")
    parser.add_argument("--db", metavar="PATH", help="the store (default: PARSDESK_DB or the data folder)")
    parser.add_argument("--mark-rest-submitted", action="store_true",
                        help="also mark the file's records that PARS did not reject Submitted")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.commands.common import open_store
    from app.pars.batch import BatchFileError
    from app.services.pars_upload import file_ids_named, mark_rest_submitted, take_in_results

    if args.file.suffix.lower() != ".xlsx":
        print(f"parsdesk upload-results: {args.file} is not an .xlsx workbook", file=sys.stderr)
        return 2
    store = open_store("upload-results", args.db, create=False)
    try:
        with store.transaction() as session:
            check, applied = take_in_results(session, args.file)
            if check.kind == "results" and applied is not None:
                print(applied.summary())
                if args.mark_rest_submitted:
                    for file_id in file_ids_named(session, applied.file_names):
                        count = mark_rest_submitted(session, file_id)
                        print(f"{count} other record{'s' if count != 1 else ''} marked Submitted")
                return 0
            if check.kind != "corrected":
                session.rollback()
    except BatchFileError as exc:
        print(f"parsdesk upload-results: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    if check.kind == "corrected":
        told = applied.rejected if applied is not None else 0
        print(f"{check.describe()} The {told} rejection{'s' if told != 1 else ''} it names by Credit ID "
              f"{'were' if told != 1 else 'was'} recorded; queue the corrected rows with `parsdesk import {args.file}`.")
    else:
        print(f"{args.file.name} is not PARS's results for an upload file (no row names a record of one, or "
              "it has no error columns). Nothing was changed; to queue its records use `parsdesk import`.")
    return 1
