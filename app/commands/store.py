"""Move, keep and look after a store (docs/office.md).

    parsdesk store copy --to postgresql://role@host/db [--db PATH]   # into an empty office database
    parsdesk store backup OUT.sqlite3 [--db PATH]                    # SQLite: online, owner-only, verified
    parsdesk store restore BACKUP.sqlite3 [--db PATH] [--replace]    # SQLite: back to a checked backup
    parsdesk store password postgresql://role@host/db                # keep its password in the keyring
    parsdesk store info [--db PATH|URL]                              # where, which engine, how many rows

The office database is backed up with PostgreSQL's own tools: `pg_dump -Fc` (docs/office.md).

Exit status: 0 done, 2 refused or failed (one line on stderr; nothing was changed).
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


def _fail(message: str) -> int:
    print(f"parsdesk store: {message}", file=sys.stderr)
    return 2


def _source(args: argparse.Namespace) -> Path | str:
    from app.paths import default_db_path

    return args.db if args.db is not None else default_db_path()


def run_copy(args: argparse.Namespace) -> int:
    from app.models.store import Store, StoreError
    from app.models.transfer import TransferError, copy_store
    from app.paths import is_database_url, store_exists

    source_location = _source(args)
    if not store_exists(source_location):
        return _fail(f"no ParsDesk store at {source_location}")
    if not is_database_url(args.to):
        return _fail(f"--to takes the office database's URL (postgresql://role@host/database), not {args.to!r}")
    try:
        source = Store.open(source_location)
    except StoreError as exc:
        return _fail(str(exc).splitlines()[0])
    try:
        try:
            target = Store.open(args.to)  # an empty database gets the schema here
        except StoreError as exc:
            return _fail(str(exc).splitlines()[0])
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
    from app.models.store import Store, StoreError
    from app.models.transfer import TransferError, backup_sqlite
    from app.paths import is_database_url, store_exists

    location = _source(args)
    if is_database_url(location):
        return _fail("the office database is backed up with PostgreSQL's own tools: pg_dump -Fc (see docs/office.md)")
    if not store_exists(location):
        return _fail(f"no ParsDesk store at {location}")
    try:
        store = Store.open(location, migrate_schema=False)
    except StoreError as exc:
        return _fail(str(exc).splitlines()[0])
    try:
        counts = backup_sqlite(store, args.out)
    except TransferError as exc:
        return _fail(str(exc))
    finally:
        store.close()
    print(f"Backed up {location} to {args.out} (owner-only; reopened and checked: "
          f"{counts.get('completion', 0):,} learner records, {counts.get('status_event', 0):,} history entries).")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    from app.models.store import Store, StoreError
    from app.models.transfer import TransferError, check_sqlite_store, restore_sqlite
    from app.paths import is_database_url

    location = _source(args)
    if is_database_url(location):
        return _fail("the office database is restored with PostgreSQL's own tools: pg_restore (see docs/office.md)")
    target = Path(location)
    if target.exists() and not args.replace:
        try:
            store = Store.open(target, migrate_schema=False)
        except StoreError as exc:
            return _fail(str(exc).splitlines()[0])
        try:
            from app.models.transfer import table_counts

            held = table_counts(store).get("completion", 0)
        finally:
            store.close()
        if held:
            return _fail(f"{target} holds {held:,} learner records; add --replace to put it back to the backup")
    try:
        check_sqlite_store(args.backup)
        counts = restore_sqlite(args.backup, target)
    except TransferError as exc:
        return _fail(str(exc))
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
        return _fail(str(exc))
    print(f"Saved the password for {office} in the keyring.")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from app.models.store import Store, StoreError
    from app.models.transfer import table_counts
    from app.paths import store_exists

    location = _source(args)
    if not store_exists(location):
        return _fail(f"no ParsDesk store at {location}")
    try:
        store = Store.open(location, migrate_schema=False)
    except StoreError as exc:
        return _fail(str(exc).splitlines()[0])
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
