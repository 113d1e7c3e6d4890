"""Where ParsDesk finds its bundled resources and keeps its data."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import platformdirs

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
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_db_path() -> Path:
    """The store's path: PARSDESK_DB if set, else parsdesk.sqlite3 in the platform data folder."""
    override = os.environ.get("PARSDESK_DB")
    if override:
        return Path(override).expanduser()
    return data_dir() / "parsdesk.sqlite3"


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
