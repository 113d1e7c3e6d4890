"""What ParsDesk may do with a store *file* before SQLite opens it.

The rules (docs/store.md):
- an existing path must be a ParsDesk store: a regular file, an SQLite database (looked at through
  SQLite only) whose tables include ParsDesk's `alembic_version` and `meta`. A folder, a text file or another program's database is
  refused, and left exactly as it was (no chmod, no write, no side files);
- a read-only store stays read-only: it is refused for writing, never made writable;
- a missing store file is created only when asked (`create=True`) and only inside a folder that
  exists: a mistyped path never grows folders. The new file is owner-only (0600) from its first byte;
- the mode of an existing store is never changed.

Only local paths come here; a `postgresql://` URL is the office database's business.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from dataclasses import dataclass
from pathlib import Path

# Tables every ParsDesk store has had since revision 0001.
PARSDESK_TABLES = frozenset({"alembic_version", "meta"})


class StoreFileError(Exception):
    """The path cannot be used as a ParsDesk store; str() is one sentence for the user."""


@dataclass(frozen=True, slots=True)
class StoreFile:
    path: Path
    created: bool  # True when this call made a new, empty store file


def _sqlite_tables(path: Path) -> set[str] | None:
    """The file's table names, read through SQLite itself; None when it is not an SQLite database.

    Read-only: looking must not change someone else's database (not immutable: a running ParsDesk
    keeps its newest pages, even the first tables of a new store, in the -wal file). Never open the
    file any other way (not even to read its header): closing any descriptor of a file drops every
    POSIX lock this process holds on it, including those of SQLite connections to the same store
    already open here, and another process may then take itself for the store's last user and
    delete the -wal file from under them (their later commits are lost to everyone else)."""
    uri = f"{path.as_uri()}?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True)
    except sqlite3.Error:
        return None
    try:
        return {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error:
        return None
    finally:
        connection.close()


def writable(path: Path) -> bool:
    """The owner may write the file (the mode bit, not only access(): root may write anything)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & stat.S_IWUSR) and os.access(path, os.W_OK)


def check_existing(path: Path, *, for_writing: bool) -> None:
    """Refuse what is not a usable ParsDesk store, changing nothing."""
    if path.is_dir():
        raise StoreFileError(f"{path} is a directory, not a ParsDesk store; give the store's file (for example "
                             f"{path / 'parsdesk.sqlite3'})")
    if not path.is_file():
        raise StoreFileError(f"{path} is not a regular file, so it is not a ParsDesk store")
    if not os.access(path, os.R_OK):
        raise StoreFileError(f"cannot read the store {path}: permission denied")
    # an empty file is refused, unless it is a new store whose pages are all in its -wal so far
    if path.stat().st_size == 0 and not Path(f"{path}-wal").is_file():
        raise StoreFileError(f"{path} is not a ParsDesk store (an empty file); ParsDesk leaves it as it is")
    tables = _sqlite_tables(path)
    if tables is None:
        raise StoreFileError(f"{path} is not a ParsDesk store (not a database); ParsDesk leaves it as it is")
    if not PARSDESK_TABLES <= tables:
        raise StoreFileError(
            f"{path} is an SQLite database of another program, not a ParsDesk store; ParsDesk leaves it as it is"
        )
    if for_writing and not writable(path):
        raise StoreFileError(
            f"the store {path} is read-only; ParsDesk does not change its permissions. Make it writable "
            "yourself, or copy it to a folder you can write"
        )


def prepare(path: Path | str, *, create: bool, for_writing: bool = True) -> StoreFile:
    """Check an existing store file, or create a new empty owner-only one when `create` allows it."""
    path = Path(path).expanduser()
    path = path.parent.resolve() / path.name if path.name else path.resolve()
    if path.exists() or path.is_symlink():
        check_existing(path.resolve(), for_writing=for_writing)
        return StoreFile(path.resolve(), created=False)
    if not create:
        raise StoreFileError(f"there is no ParsDesk store at {path}")
    folder = path.parent
    if not folder.is_dir():
        raise StoreFileError(
            f"cannot create a store at {path}: the folder {folder} does not exist (ParsDesk does not create "
            "folders for a store path; create it first)"
        )
    try:
        # O_EXCL: never take over a file that appeared meanwhile; 0600 from the first byte
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        check_existing(path, for_writing=for_writing)
        return StoreFile(path, created=False)
    except OSError as exc:
        raise StoreFileError(f"cannot create a store at {path}: {exc.strerror or exc}") from None
    os.close(descriptor)
    return StoreFile(path, created=True)
