"""The office database: a PostgreSQL URL shared by every coordinator's ParsDesk.

    parsdesk --db postgresql://parsdesk@db.office.example/parsdesk
    PARSDESK_DB=postgresql://parsdesk@db.office.example/parsdesk parsdesk sync

Rules (docs/office.md):
- the password never appears in the URL (it would end up in settings, shell history and logs): it is
  kept in the keyring under `ParsDesk/office-database`, keyed by `role@host:port/database`, or comes
  from PostgreSQL's own PGPASSWORD / ~/.pgpass;
- TLS is required for any host but this machine: no sslmode means `require`; `allow`/`prefer` (which
  fall back to plain text silently) are refused; an office that wants plain text on a trusted network
  says so with an explicit `sslmode=disable`.

No Qt and no ORM here; the store uses it to build its engine.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from app.paths import is_database_url

__all__ = ["OfficeDatabase", "OfficeDatabaseError", "is_database_url", "parse_office_url"]

log = logging.getLogger(__name__)

POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
KEYRING_SERVICE = "ParsDesk/office-database"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", ""})
TLS_MODES = frozenset({"require", "verify-ca", "verify-full"})
DEFAULT_PORT = 5432
CONNECT_TIMEOUT_S = 10

class OfficeDatabaseError(ValueError):
    """A database URL ParsDesk will not use; the message says what to change."""


@dataclass(frozen=True)
class OfficeDatabase:
    """A checked PostgreSQL URL without a password, plus where its password is looked up."""

    url: URL  # postgresql+psycopg://role@host:port/database?sslmode=...

    @property
    def role(self) -> str:
        return self.url.username or os.environ.get("PGUSER") or _os_user()

    @property
    def host(self) -> str:
        return self.url.host or ""

    @property
    def port(self) -> int:
        return self.url.port or DEFAULT_PORT

    @property
    def database(self) -> str:
        return self.url.database or ""

    @property
    def is_local(self) -> bool:
        # no host or a socket folder: libpq's unix socket on this machine
        return self.host in LOCAL_HOSTS or self.host.startswith("/")

    @property
    def keyring_key(self) -> str:
        return f"{self.role}@{self.host or 'localhost'}:{self.port}/{self.database}"

    @property
    def display(self) -> str:
        """The URL as the user may see it (settings, status bar, logs): never holds a password."""
        return self.url.set(drivername="postgresql").render_as_string(hide_password=True)

    def __str__(self) -> str:
        return self.display


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment
        return "postgres"


def parse_office_url(text: str) -> OfficeDatabase:
    """Check a postgresql:// URL against the rules above; raise OfficeDatabaseError saying why not."""
    text = text.strip()
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise OfficeDatabaseError("the database URL holds control characters")
    if len(text) > 2000:
        raise OfficeDatabaseError("the database URL is longer than 2,000 characters")
    try:
        url = make_url(text)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        raise OfficeDatabaseError(f"not a database URL: {exc}") from exc
    scheme = url.drivername
    if scheme not in POSTGRES_SCHEMES:
        raise OfficeDatabaseError(
            f"ParsDesk's office database is PostgreSQL (postgresql://role@host/database), not {scheme!r}"
        )
    if url.password:
        raise OfficeDatabaseError(
            "the database URL holds a password; leave it out: ParsDesk keeps it in the keyring "
            "(File → Settings → Office database, or `parsdesk store password URL`), or use PGPASSWORD / ~/.pgpass"
        )
    if not url.database:
        raise OfficeDatabaseError("the database URL names no database (postgresql://role@host/database)")
    url = url.set(drivername="postgresql+psycopg")
    office = OfficeDatabase(url)
    sslmode = (url.query.get("sslmode") or "").strip().lower()
    if not office.is_local:
        if not sslmode:
            office = OfficeDatabase(url.update_query_dict({"sslmode": "require"}))
        elif sslmode in ("allow", "prefer"):
            raise OfficeDatabaseError(
                f"sslmode={sslmode} falls back to an unencrypted connection without saying so; the office "
                f"database on {office.host} needs sslmode=require (or verify-full), or an explicit "
                "sslmode=disable if the office decided to go without TLS"
            )
        elif sslmode == "disable":
            log.warning("office database on %s without TLS (sslmode=disable set explicitly)", office.host)
        elif sslmode not in TLS_MODES:
            raise OfficeDatabaseError(f"unknown sslmode {sslmode!r} (require, verify-ca, verify-full or disable)")
    return office


# --- the password ---------------------------------------------------------------------------------

def load_password(office: OfficeDatabase) -> str | None:
    """The keyring's password for this database (None: let libpq use PGPASSWORD / ~/.pgpass)."""
    from app.pars import credentials

    if credentials._file_mode():
        return credentials._read_json(credentials._secrets_file()).get(_file_key(office), {}).get("password")
    if not credentials.keyring_available():
        return None
    import keyring
    from keyring.errors import KeyringError

    try:
        return keyring.get_password(KEYRING_SERVICE, office.keyring_key)
    except KeyringError as exc:
        log.warning("keyring read failed for the office database: %s", type(exc).__name__)
        return None


def save_password(office: OfficeDatabase, password: str) -> None:
    """Keep the password in the keyring (or the documented owner-only file fallback)."""
    from app.pars import credentials

    if credentials._file_mode():
        secrets = credentials._read_json(credentials._secrets_file())
        secrets[_file_key(office)] = {"password": password}
        credentials._write_json(credentials._secrets_file(), secrets, private=True)
        return
    if not credentials.keyring_available():
        raise credentials.CredentialStoreError(
            "No system keyring is available to keep the office database password. Use PGPASSWORD or "
            "~/.pgpass, or set PARSDESK_KEYRING=file (owner-only plain-text file; see docs/credentials.md)."
        )
    import keyring
    from keyring.errors import KeyringError

    try:
        keyring.set_password(KEYRING_SERVICE, office.keyring_key, password)
    except KeyringError as exc:
        raise credentials.CredentialStoreError(f"The system keyring refused the office database password: {exc}") from exc


def forget_password(office: OfficeDatabase) -> None:
    from app.pars import credentials

    if credentials._file_mode():
        secrets = credentials._read_json(credentials._secrets_file())
        if secrets.pop(_file_key(office), None) is not None:
            credentials._write_json(credentials._secrets_file(), secrets, private=True)
        return
    if credentials.keyring_available():
        import keyring
        from keyring.errors import KeyringError

        try:
            keyring.delete_password(KEYRING_SERVICE, office.keyring_key)
        except KeyringError:
            pass  # nothing stored: already forgotten


def _file_key(office: OfficeDatabase) -> str:
    return f"office-database:{office.keyring_key}"


def connect_args(office: OfficeDatabase, password: str | None = None) -> dict[str, object]:
    """psycopg connection arguments: the keyring password (if any), a bounded connect time."""
    args: dict[str, object] = {"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "ParsDesk"}
    secret = password if password is not None else load_password(office)
    if secret:
        args["password"] = secret
    return args
