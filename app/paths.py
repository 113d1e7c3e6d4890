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
    """Create `path` (and its folder) if needed, readable and writable by its owner only.

    Stores hold learners' identities; SQLite gives its -wal/-shm side files the same mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
