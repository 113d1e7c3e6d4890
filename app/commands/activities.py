"""Import or export the store's activities as JSON (docs/activities-json.md).

    parsdesk activities import activities.json [--db PATH]   # all or nothing; updates by activity ID
    parsdesk activities export activities.json [--db PATH]

Exit status: 0 done, 2 the JSON file is unreadable or invalid, 3 the store could not be used or the
file not written (one line on stderr, nothing changed; docs/cli.md). `import` creates a missing store
file (in a folder that exists) and says so; `export` needs an existing store.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.commands.common import EXIT_ENVIRONMENT, EXIT_USAGE, open_store
from app.wording import plural


def register(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="activities_action", metavar="ACTION", required=True)
    importing = actions.add_parser("import", help="load activities from a JSON file into the store")
    importing.add_argument("file", metavar="FILE.json")
    importing.add_argument("--db", metavar="PATH", help="the ParsDesk store (default: the app's store)")
    importing.set_defaults(func=run_import)
    exporting = actions.add_parser("export", help="write the store's activities to a JSON file")
    exporting.add_argument("file", metavar="FILE.json")
    exporting.add_argument("--db", metavar="PATH", help="the ParsDesk store (default: the app's store)")
    exporting.set_defaults(func=run_export)


def _fail(message: str, exit_code: int = EXIT_USAGE) -> int:
    print(f"parsdesk activities: {message}", file=sys.stderr)
    return exit_code


def run_import(args: argparse.Namespace) -> int:
    from app.pars.activities_json import ActivitiesFileError, read_activities

    try:
        activities = read_activities(args.file)
    except ActivitiesFileError as exc:
        return _fail(str(exc))
    from app.services.activities import ActivityImportError, import_activities

    store = open_store("activities", args.db, create=True)
    try:
        with store.transaction() as session:
            result = import_activities(session, activities)
    except ActivityImportError as exc:
        return _fail(f"{Path(args.file).name}: {exc}; nothing was imported")
    finally:
        store.close()
    print(
        f"Imported {plural(result.total, 'activity')} from {Path(args.file).name}: "
        f"{len(result.created)} new, {len(result.updated)} updated."
    )
    return 0


def run_export(args: argparse.Namespace) -> int:
    from app.pars.activities_json import write_activities
    from app.services.activities import export_activities, unregistered_activity_titles

    store = open_store("activities", args.db, create=False)
    try:
        with store.session() as session:
            activities = export_activities(session)
            skipped = unregistered_activity_titles(session)
    finally:
        store.close()
    try:
        write_activities(args.file, activities)
    except OSError as exc:
        return _fail(f"cannot write {args.file}: {exc.strerror or exc}", EXIT_ENVIRONMENT)
    print(f"Exported {plural(len(activities), 'activity')} to {Path(args.file).name}.")
    if skipped:
        # the JSON format identifies an activity by its ACCME ID, which these do not have yet
        shown = ", ".join(repr(title) for title in skipped[:5]) + (", …" if len(skipped) > 5 else "")
        print(
            f"Not exported: {plural(len(skipped), 'activity')} not registered with PARS yet (no ACCME activity ID; "
            f"the next sync registers {'it' if len(skipped) == 1 else 'them'}): {shown}."
        )
    return 0
