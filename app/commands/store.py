"""Move, keep and look after a store (docs/office.md).

    parsdesk store copy --to postgresql://role@host/db [--db PATH]   # into an empty office database
    parsdesk store backup OUT.sqlite3 [--db PATH]                    # SQLite: online, owner-only, verified
    parsdesk store restore BACKUP.sqlite3 [--db PATH] [--replace]    # SQLite: back to a checked backup
    parsdesk store password postgresql://role@host/db                # keep its password in the keyring
    parsdesk store info [--db PATH|URL]                              # where, which engine, how many rows

The office database is backed up with PostgreSQL's own tools: `pg_dump -Fc` (docs/office.md).

Exit status (docs/cli.md): 0 done; 2 a wrong argument (--to that is not the office database's URL, a
backup name that exists, a backup that is not a ParsDesk store, a store holding records without
--replace, a backup asked of the office database); 3 the environment (no store at --db, a path that
is not a ParsDesk store or is read-only, the database unreachable, a folder that does not exist or
cannot be written, the keyring unavailable). One line on stderr; nothing was changed.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from app.paths import store_location

DB_HELP = "the store (default: PARSDESK_DB, else the data folder)"


def register(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="store_action", metavar="ACTION", required=True)
    copying = actions.add_parser("copy", help="copy every table into an empty office database and verify the counts")
    copying.add_argument("--to", required=True, metavar="URL", help="the empty target: postgresql://role@host/database")
    copying.add_argument("--db", type=store_location, help=DB_HELP)
    copying.set_defaults(func=run_copy)
    backing = actions.add_parser("backup", help="write a verified, owner-only copy of a SQLite store")
    backing.add_argument("out", type=Path, metavar="OUT.sqlite3")
    backing.add_argument("--db", type=store_location, help=DB_HELP)
    backing.set_defaults(func=run_backup)
    restoring = actions.add_parser("restore", help="put a SQLite store back to a backup")
    restoring.add_argument("backup", type=Path, metavar="BACKUP.sqlite3")
    restoring.add_argument("--db", type=store_location, help=DB_HELP)
    restoring.add_argument("--replace", action="store_true", help="replace a store that holds records")
    restoring.set_defaults(func=run_restore)
    password = actions.add_parser("password", help="keep the office database's password in the keyring")
    password.add_argument("url", metavar="URL")
    password.add_argument("--forget", action="store_true", help="remove the saved password instead")
    password.set_defaults(func=run_password)
    info = actions.add_parser("info", help="where the store is, its engine and schema, and its row counts")
    info.add_argument("--db", type=store_location, help=DB_HELP)
    info.set_defaults(func=run_info)


def _fail(message: str, exit_code: int = 2) -> int:
    from app.commands.common import fail

    return fail("store", message, exit_code)


def _source(args: argparse.Namespace) -> Path | str:
    from app.paths import default_db_path

    return args.db if args.db is not None else default_db_path()


def _open(args: argparse.Namespace, *, migrate: bool = True, for_writing: bool = True):  # noqa: ANN202 - Store
    """The existing store at --db (never a new one), or CommandError with exit code 3."""
    from app.commands.common import open_store

    return open_store("store", _source(args), create=False, migrate=migrate, for_writing=for_writing)


def run_copy(args: argparse.Namespace) -> int:
    from app.commands.common import EXIT_ENVIRONMENT
    from app.models.store import Store, StoreError
    from app.models.transfer import TransferError, copy_store
    from app.paths import is_database_url

    if not is_database_url(args.to):
        return _fail(f"--to takes the office database's URL (postgresql://role@host/database), not {args.to!r}")
    source = _open(args)
    try:
        try:
            target = Store.open(args.to)  # an empty database gets the schema here
        except StoreError as exc:
            return _fail(str(exc), EXIT_ENVIRONMENT)
        try:
            counts = copy_store(source, target)
        except TransferError as exc:
            return _fail(str(exc))
        finally:
            target.close()
    finally:
        source.close()
    print(f"Copied {source.location} into {target.location}; counts verified:")
    for name, count in counts.items():
        print(f"  {name:18} {count:>10,}")
    print("Point each desk at it: File → Settings → Office database, or --db / PARSDESK_DB.")
    return 0


def run_backup(args: argparse.Namespace) -> int:
    from app.commands.common import EXIT_ENVIRONMENT
    from app.models.transfer import TransferError, backup_sqlite
    from app.paths import is_database_url

    location = _source(args)
    if is_database_url(location):
        return _fail("the office database is backed up with PostgreSQL's own tools: pg_dump -Fc (see docs/office.md)")
    out = args.out.expanduser()
    if out.exists() or out.is_symlink():
        return _fail(f"{out} already exists; choose a new file name")
    store = _open(args, migrate=False, for_writing=False)  # a backup only reads: a read-only store will do
    try:
        counts = backup_sqlite(store, out)
    except TransferError as exc:
        return _fail(str(exc), EXIT_ENVIRONMENT)  # the folder or the disk (an existing name was refused above)
    finally:
        store.close()
    print(f"Backed up {location} to {args.out} (owner-only; reopened and checked: "
          f"{counts.get('completion', 0):,} learner records, {counts.get('status_event', 0):,} history entries).")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    from app.commands.common import EXIT_ENVIRONMENT
    from app.models.transfer import TransferError, check_sqlite_store, restore_sqlite, table_counts
    from app.paths import is_database_url

    location = _source(args)
    if is_database_url(location):
        return _fail("the office database is restored with PostgreSQL's own tools: pg_restore (see docs/office.md)")
    target = Path(location).expanduser()
    backup = args.backup.expanduser()
    if not backup.is_file():
        return _fail(f"no backup at {backup}")
    try:
        check_sqlite_store(backup)
    except TransferError as exc:
        return _fail(str(exc))
    if target.exists() or target.is_symlink():
        # only a ParsDesk store is put back, even with --replace: a folder, another program's file or a
        # read-only store is left exactly as it is
        store = _open(args, migrate=False)
        try:
            held = table_counts(store).get("completion", 0)
        finally:
            store.close()
        if held and not args.replace:
            return _fail(f"{target} holds {held:,} learner records; add --replace to put it back to the backup")
    elif not target.parent.is_dir():
        return _fail(f"cannot restore to {target}: the folder {target.parent} does not exist", EXIT_ENVIRONMENT)
    try:
        counts = restore_sqlite(backup, target)
    except TransferError as exc:
        return _fail(str(exc), EXIT_ENVIRONMENT)
    print(f"Restored {target} from {args.backup}: {counts.get('completion', 0):,} learner records.")
    return 0


def run_password(args: argparse.Namespace) -> int:
    from app.models.office_db import OfficeDatabaseError, forget_password, parse_office_url, save_password
    from app.pars.credentials import CredentialStoreError

    try:
        office = parse_office_url(args.url)
    except OfficeDatabaseError as exc:
        return _fail(str(exc))
    try:
        if args.forget:
            forget_password(office)
            print(f"Forgot the saved password for {office}.")
            return 0
        secret = getpass.getpass(f"Password for {office.role} on {office.host or 'this computer'}: ") if sys.stdin.isatty() \
            else sys.stdin.readline().rstrip("\n")
        if not secret:
            return _fail("no password given; nothing saved")
        save_password(office, secret)
    except CredentialStoreError as exc:
        from app.commands.common import EXIT_ENVIRONMENT

        return _fail(str(exc), EXIT_ENVIRONMENT)
    print(f"Saved the password for {office} in the keyring.")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from app.models.transfer import table_counts

    store = _open(args, migrate=False, for_writing=False)  # looking only: a read-only store will do
    try:
        from alembic.runtime.migration import MigrationContext

        with store.engine.connect() as connection:
            revision = MigrationContext.configure(connection).get_current_revision()
        counts = table_counts(store)
    finally:
        store.close()
    print(f"store:  {store.location}")
    print(f"engine: {'PostgreSQL (office database)' if store.is_office else 'SQLite (this computer)'}; schema {revision}")
    for name, count in counts.items():
        print(f"  {name:18} {count:>10,}")
    return 0
