"""Typed, versioned user settings on QSettings (organization "ParsDesk").

Everything the user chooses in Settings, plus what the window remembers about itself (geometry, the
current tab, column widths). Passwords are never stored here: they go to the OS keyring through
`app.pars.credentials`.

Tests and portable installs point `PARSDESK_SETTINGS_DIR` at a folder: settings then live in
`<folder>/ParsDesk.ini` and the user's real settings are never read or written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "ParsDesk"
APPLICATION = "ParsDesk"
SETTINGS_VERSION = 2  # bump when a key is renamed or its meaning changes; see _migrate
SETTINGS_DIR_ENV = "PARSDESK_SETTINGS_DIR"
ROUTE_WEB_SERVICES = "web-services"  # the same names as app.services.pars_upload (kept Qt-free there)
ROUTE_UPLOAD_FILES = "upload-files"

ENVIRONMENT_LABELS: dict[str, str] = {
    "local": "Local sandbox",
    "accme-sandbox": "ACCME Sandbox",
    "accme-production": "ACCME Production",
}


def environment_label(name: str) -> str:
    return ENVIRONMENT_LABELS.get(name, name)


def open_qsettings() -> QSettings:
    """The settings store: the isolated ini file when PARSDESK_SETTINGS_DIR is set, else the user's."""
    folder = os.environ.get(SETTINGS_DIR_ENV)
    if folder:
        path = Path(folder).expanduser()
        path.mkdir(parents=True, exist_ok=True)
        return QSettings(str(path / f"{APPLICATION}.ini"), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


@dataclass(slots=True)
class AppSettings:
    """What the user set in the Settings dialog. `configured` stays False until they first save it."""

    environment: str = "local"
    provider_id: str = ""
    user: str = ""
    board_delay_s: float = 5.0  # how long the local sandbox's boards take to accept or reject
    data_folder: str = ""  # where the store lives; empty = the platform data folder
    sync_interval_s: int = 60  # background sync while idle; 0 = only on demand
    # the office's shared PostgreSQL database (postgresql://role@host/db, never a password); empty:
    # this computer's own SQLite store in the data folder
    office_database: str = ""
    coordinator: str = ""  # the name this desk's changes carry in the history; empty = the OS user
    # how this office reaches PARS, per environment: "env=upload-files;…" (absent: web services)
    routes: str = ""
    configured: bool = False

    def route(self, environment: str) -> str:
        """"web-services" (the sync) or "upload-files" (upload files on the PARS website)."""
        for item in self.routes.split(";"):
            name, _, route = item.partition("=")
            if name.strip() == environment and route.strip() in (ROUTE_WEB_SERVICES, ROUTE_UPLOAD_FILES):
                return route.strip()
        return ROUTE_WEB_SERVICES

    def set_route(self, environment: str, route: str) -> None:
        if route not in (ROUTE_WEB_SERVICES, ROUTE_UPLOAD_FILES):
            raise ValueError(f"unknown route {route!r}")
        kept = {}
        for item in self.routes.split(";"):
            name, _, value = item.partition("=")
            if name.strip() and name.strip() != environment:
                kept[name.strip()] = value.strip()
        if route != ROUTE_WEB_SERVICES:
            kept[environment] = route
        self.routes = ";".join(f"{name}={value}" for name, value in sorted(kept.items()))

    @classmethod
    def load(cls, qs: QSettings | None = None) -> AppSettings:
        qs = qs or open_qsettings()
        _migrate(qs)
        defaults = cls()
        values = {}
        for f in fields(cls):
            default = getattr(defaults, f.name)
            raw = qs.value(f"settings/{f.name}", default)
            values[f.name] = _coerce(raw, default)
        if values["environment"] not in ENVIRONMENT_LABELS:
            values["environment"] = defaults.environment
        return cls(**values)

    def save(self, qs: QSettings | None = None) -> None:
        qs = qs or open_qsettings()
        qs.setValue("version", SETTINGS_VERSION)
        for f in fields(self):
            qs.setValue(f"settings/{f.name}", getattr(self, f.name))
        qs.sync()

    def coordinator_name(self) -> str:
        """Who this desk's changes are recorded as: the name set in Settings, else the OS user."""
        return self.coordinator.strip() or os_user_name()

    def db_path(self) -> Path | None:
        """The store file inside the chosen data folder, or None for the default location."""
        if not self.data_folder.strip():
            return None
        return Path(self.data_folder).expanduser() / "parsdesk.sqlite3"


def hidden_characters(text: str) -> bool:
    """True when text holds control, format (bidi, zero-width) or unassigned characters."""
    import unicodedata

    return any(unicodedata.category(ch).startswith("C") for ch in text)


def os_user_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (no USER/LOGNAME and no passwd entry)
        return "coordinator"


def _coerce(raw: object, default: object) -> object:
    """QSettings hands back strings from ini files; turn them into the default's type."""
    if isinstance(default, bool):
        if isinstance(raw, str):
            return raw.strip().lower() in ("1", "true", "yes", "on")
        return bool(raw)
    if isinstance(default, int):
        try:
            return int(float(raw))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return default
    if isinstance(default, float):
        try:
            return float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return default
    return "" if raw is None else str(raw)


def _migrate(qs: QSettings) -> None:
    """Bring older settings to SETTINGS_VERSION, once."""
    version = _coerce(qs.value("version", 0), 0)
    if version >= SETTINGS_VERSION:
        return
    if version < 2 and qs.contains("settings/board_delay"):
        # version 1 kept the sandbox delay as whole milliseconds under another name
        qs.setValue("settings/board_delay_s", _coerce(qs.value("settings/board_delay"), 0) / 1000)
        qs.remove("settings/board_delay")
    if qs.childKeys() or qs.childGroups():
        qs.setValue("version", SETTINGS_VERSION)


class WindowState:
    """Geometry, current tab and column widths, remembered between runs."""

    def __init__(self, qs: QSettings | None = None) -> None:
        self._qs = qs or open_qsettings()

    def geometry(self) -> QByteArray | None:
        value = self._qs.value("window/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_geometry(self, value: QByteArray) -> None:
        self._qs.setValue("window/geometry", value)

    def current_tab(self) -> int:
        return int(_coerce(self._qs.value("window/current_tab", 0), 0))

    def set_current_tab(self, index: int) -> None:
        self._qs.setValue("window/current_tab", index)

    def header_state(self, table: str) -> QByteArray | None:
        value = self._qs.value(f"columns/{table}")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_header_state(self, table: str, value: QByteArray) -> None:
        self._qs.setValue(f"columns/{table}", value)

    def sync(self) -> None:
        self._qs.sync()
