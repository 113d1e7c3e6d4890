"""Shared fixtures. Tests run headless: Qt's offscreen platform, real SQLite files in tmp_path."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Keep tests away from the user's keyring and settings.
os.environ.setdefault("PARSDESK_KEYRING", "file")
os.environ["PARSDESK_TESTING"] = "1"
# Use the bundled PARS catalogues, never an office's edited copies in the user's data folder.
os.environ["PARSDESK_CATALOG_DIR"] = ""

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from app.models import Store  # noqa: E402


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store.open(tmp_path / "parsdesk.sqlite3")
    yield opened
    opened.close()
