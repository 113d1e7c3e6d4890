"""Where ParsDesk finds its bundled resources and keeps its data."""

from __future__ import annotations

import os
import re
import stat
import sys
from pathlib import Path

APP_NAME = "ParsDesk"


def resources_dir() -> Path:
    # PyInstaller unpacks bundled data under sys._MEIPASS; a source checkout keeps it at the top.
    bundle_root = getattr(sys, "_MEIPASS", None)
    if bundle_root:
        return Path(bundle_root) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def resource(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)


def data_dir() -> Path:
    import platformdirs  # only when the data folder is asked for: headless commands often never do

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def is_database_url(location: object) -> bool:
    """True for `scheme://...` text (the office database), False for a store file's path."""
    return isinstance(location, str) and bool(_URL_SCHEME.match(location.strip()))


def store_location(value: str | Path) -> Path | str:
    """A --db / PARSDESK_DB value: a database URL stays text (Path() would fold its `//`), anything
    else is a store file's path."""
    if is_database_url(value):
        return str(value).strip()
    return Path(value).expanduser()


def default_db_path() -> Path | str:
    """The store: PARSDESK_DB if set (a file path or the office database's URL), else parsdesk.sqlite3
    in the platform data folder."""
    override = os.environ.get("PARSDESK_DB")
    if override:
        return store_location(override)
    return data_dir() / "parsdesk.sqlite3"


def store_exists(location: Path | str) -> bool:
    """A store file is there (a mistyped path must not become a new, empty store); a database URL
    counts as there: opening it says whether it is reachable."""
    return is_database_url(location) or Path(location).is_file()


def ensure_private_file(path: Path) -> None:
    """Create `path` readable and writable by its owner only, when it does not exist yet.

    An existing file is left exactly as it is: ParsDesk never changes the mode of a file it did not
    create. The folder must exist (a mistyped path does not grow folders). Stores and sandbox states
    hold learners' identities; SQLite gives its -wal/-shm side files the same mode."""
    if path.is_dir():
        raise IsADirectoryError(21, "is a directory, not a file", str(path))
    if path.exists():
        return
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass


def ensure_data_dir() -> Path:
    """ParsDesk's own data folder (the default store's home), created owner-only on first use."""
    folder = data_dir()
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, stat.S_IRWXU)
    return folder
