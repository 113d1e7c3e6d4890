"""Shared fixtures. Tests run headless: Qt's offscreen platform, real SQLite files in tmp_path."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Keep tests away from the user's keyring and settings.
os.environ.setdefault("PARSDESK_KEYRING", "file")
os.environ["PARSDESK_TESTING"] = "1"
# Use the bundled PARS catalogues, never an office's edited copies in the user's data folder.
os.environ["PARSDESK_CATALOG_DIR"] = ""
# Credentials (accounts.json, the file-keyring fallback) go to a throwaway folder, never the user's.
import tempfile  # noqa: E402

os.environ["PARSDESK_DATA_DIR"] = tempfile.mkdtemp(prefix="parsdesk-test-data-")
# Environment paths come from the bundled file only, never a user's edited copy.
os.environ["PARSDESK_ENVIRONMENTS"] = os.devnull
# Window geometry and Settings (QSettings) go to a throwaway ini file, never the user's settings.
os.environ["PARSDESK_SETTINGS_DIR"] = tempfile.mkdtemp(prefix="parsdesk-test-settings-")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from app.models import Store  # noqa: E402


@pytest.fixture
def store(tmp_path: Path, request: pytest.FixtureRequest) -> Store:
    """A migrated SQLite store in tmp_path (PARSDESK_TEST_STORE=postgresql: a fresh office database,
    to try the whole suite on PostgreSQL)."""
    opened = open_store_on(os.environ.get("PARSDESK_TEST_STORE", "sqlite"), tmp_path, request)
    yield opened
    opened.close()


@pytest.fixture
def sandbox():
    """A PARS sandbox on an ephemeral loopback port (demo registry, 5 s board delay: use .advance())."""
    from app.sandbox import SandboxServer

    with SandboxServer("127.0.0.1", 0, board_delay=5.0, seed="demo") as server:
        yield server


@pytest.fixture(autouse=True)
def _discard_entry_forms_left_open():
    """pytest-qt closes a test's widgets after it; an entry form with typing in it then asks
    "Discard what you entered?" (as it should) and would stay open into the next test."""
    yield
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        return
    for widget in app.topLevelWidgets():
        box = getattr(widget, "discard_box", None)
        if box is not None and getattr(widget, "discard_button", None) is not None:
            widget.discard_button.click()


# --- PostgreSQL (tests/pg_support.py) -------------------------------------------------------------

ENGINES = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres_server():
    """One throwaway PostgreSQL server for the whole run (skips without binaries, except in CI)."""
    from pg_support import REQUIRE_ENV, PostgresServer, PostgresUnavailable

    try:
        server = PostgresServer.start()
    except PostgresUnavailable as exc:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {exc}")
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh, empty database on the test server: postgresql+psycopg://parsdesk_admin@127.0.0.1:PORT/test_N."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url, keep_latest=4)


def open_store_on(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> Store:
    if engine == "sqlite":
        return Store.open(tmp_path / "parsdesk.sqlite3")
    return Store.open(request.getfixturevalue("postgres_url"))


@pytest.fixture(params=ENGINES)
def store_engine(request: pytest.FixtureRequest) -> str:
    """"sqlite" or "postgresql": tests that take it (directly or through any_store) run on both."""
    return request.param


@pytest.fixture
def any_store(store_engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> Store:
    """A migrated store on each engine in turn. A test module runs wholly on both engines by
    overriding `store` with it: see tests/test_records_service.py."""
    opened = open_store_on(store_engine, tmp_path, request)
    yield opened
    opened.close()


@pytest.fixture
def ready_store(tmp_path: Path) -> Path:
    """A closed SQLite store file holding the batch tests' activity, for commands run on it by path."""
    from tests.batch_support import add_activity

    path = tmp_path / "office.sqlite3"
    store = Store.open(path)
    add_activity(store)
    store.close()
    return path
