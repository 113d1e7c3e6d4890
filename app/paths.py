"""Where ParsDesk finds its bundled resources and keeps its data."""

from __future__ import annotations

import os
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
