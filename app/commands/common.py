"""What every `parsdesk` command shares: the exit codes, one-line failures, and opening the store.

Exit codes (README "Exit codes", docs/cli.md), the same for every command:

    0  done
    1  done, with findings: some records are invalid, were rejected or are still queued
    2  usage or bad input: a wrong flag or value, an unreadable or invalid input file
    3  environment: the store (missing, not a ParsDesk store, read-only, locked), the disk
       (cannot write the output), the network or PARS (unreachable, credentials refused)
  130  interrupted (Ctrl+C)

A failure is one line on stderr, `parsdesk COMMAND: what is wrong`, never a traceback.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.models.store import Store

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3
EXIT_INTERRUPTED = 130

_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


class CommandError(Exception):
    """Ends a command with one line on stderr and an exit code; main() reports it."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def one_line(text: object) -> str:
    """The first line of a message (the rest of a multi-line error is detail the user does not need)."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else ""


def fail(command: str, message: object, exit_code: int) -> int:
    print(f"parsdesk {command}: {one_line(message)}", file=sys.stderr)
    return exit_code


def is_url(location: object) -> bool:
    """`scheme://...` names a database server (the office database), not a store file."""
    return isinstance(location, str) and bool(_URL_SCHEME.match(location.strip()))


def store_location(db: Path | str | None) -> tuple[Path | str, bool]:
    """(--db, else PARSDESK_DB, else the data folder's store; True when it is ParsDesk's own default)."""
    import os

    from app.paths import default_db_path

    if db is not None and str(db).strip():
        return (str(db).strip() if is_url(db) else Path(db).expanduser()), False
    return default_db_path(), not os.environ.get("PARSDESK_DB")


def announce_new_store(command: str, location: object) -> None:
    """Every command says the same when it made a new store (stderr: stdout stays the command's output)."""
    print(f"parsdesk {command}: created a new ParsDesk store at {location}", file=sys.stderr)


def open_store(
    command: str,
    db: Path | str | None,
    *,
    create: bool,
    migrate: bool = True,
    for_writing: bool = True,
) -> Store:
    """Open the command's store or raise CommandError (exit 3).

    `create`: a missing store file may be made, in a folder that exists (ParsDesk makes only its own
    data folder, for the default store), and it is announced. Commands that only read or send what a
    store holds (check, export, sync, activities export) pass create=False: a mistyped path is an error,
    not a new empty store."""
    from app.models.store import Store, StoreError

    location, is_default = store_location(db)
    if create and is_default:
        from app.paths import ensure_data_dir

        ensure_data_dir()
    try:
        if isinstance(location, str):  # a database URL: the office database decides
            store = Store.open(location, migrate_schema=migrate)
        else:
            store = Store.open(location, migrate_schema=migrate, create=create, for_writing=for_writing)
    except StoreError as exc:
        hint = " (check --db or PARSDESK_DB)" if "no ParsDesk store" in str(exc) else ""
        raise CommandError(one_line(exc) + hint, EXIT_ENVIRONMENT) from None
    if getattr(store, "created", False):
        announce_new_store(command, getattr(store, "path", location))
    return store
