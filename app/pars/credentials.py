"""PARS web-service credentials per environment: ProviderId, User and Password.

ACCME issues these per environment (Sandbox PARS, production); they are not PARS web-login accounts.

Where they are kept:
- provider id and user (not secret): `accounts.json` in the ParsDesk data folder;
- the password: the operating system's keyring (service `ParsDesk/<environment>`, user name = user).

When no keyring backend exists (headless Linux without Secret Service, containers) a password can
come from one of two explicit, opt-in fallbacks:
- `PARSDESK_PASSWORD` in the environment (read only; nothing is written);
- `PARSDESK_KEYRING=file`: passwords in `secrets.json` in the data folder, file mode 0600. This is
  plain text on disk, protected only by file permissions: anyone who can read your files or your
  backups can read it. Use it for test machines and the sandbox, not for production credentials.

The local sandbox accepts the documented demo credentials (`SANDBOX_DEMO_CREDENTIALS`), which are
used for the "local" environment when nothing else is configured.

The data folder is `PARSDESK_DATA_DIR` when set (tests), else the platform data folder.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from app.paths import data_dir

log = logging.getLogger(__name__)

KEYRING_SERVICE_PREFIX = "ParsDesk/"
LOCAL_ENVIRONMENT = "local"


@dataclass(frozen=True, slots=True)
class Credentials:
    provider_id: str  # ACCME's 7-digit provider ID
    user: str
    password: str = field(repr=False)  # never in repr, so never in a log line or traceback by accident


# What the local sandbox accepts unless started with other credentials (docs/sandbox.md).
SANDBOX_DEMO_CREDENTIALS = Credentials(provider_id="1234567", user="demo", password="demo-sandbox")


class CredentialStoreError(RuntimeError):
    """No place to keep or find a password; the message says what the user can do."""


def _store_dir() -> Path:
    override = os.environ.get("PARSDESK_DATA_DIR")
    return Path(override).expanduser() if override else data_dir()


def _accounts_file() -> Path:
    return _store_dir() / "accounts.json"


def _secrets_file() -> Path:
    return _store_dir() / "secrets.json"


def _file_mode() -> bool:
    return os.environ.get("PARSDESK_KEYRING", "").strip().lower() == "file"


def _read_json(path: Path) -> dict[str, dict[str, str]]:
    if not path.is_file():
        return {}
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CredentialStoreError(f"cannot read {path}: {exc}") from exc
    return loaded if isinstance(loaded, dict) else {}


def _write_json(path: Path, data: dict[str, dict[str, str]], *, private: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    # Create with 0600 from the start so the secret is never briefly world-readable.
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    descriptor = os.open(temporary, flags, 0o600 if private else 0o644)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
    if private:
        os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def keyring_available() -> bool:
    """True when the OS keyring has a usable backend (not keyring's 'fail' placeholder)."""
    import keyring
    from keyring.backends import fail

    try:
        backend = keyring.get_keyring()
    except Exception:  # a broken backend configuration counts as none
        return False
    return not isinstance(backend, fail.Keyring)


def _no_backend_message(env_name: str) -> str:
    return (
        f"No system keyring is available to keep the PARS password for {env_name!r}. Either set "
        "PARSDESK_PASSWORD in the environment, or set PARSDESK_KEYRING=file to keep it in a file "
        "readable only by you (plain text on disk; see docs/credentials.md)."
    )


def _load_password(env_name: str, user: str) -> str | None:
    if _file_mode():
        return _read_json(_secrets_file()).get(env_name, {}).get("password")
    if keyring_available():
        import keyring
        from keyring.errors import KeyringError

        try:
            password = keyring.get_password(KEYRING_SERVICE_PREFIX + env_name, user)
        except KeyringError as exc:
            log.warning("keyring read failed for environment %s: %s", env_name, type(exc).__name__)
            password = None
        if password is not None:
            return password
    return os.environ.get("PARSDESK_PASSWORD") or None


def load_credentials(env_name: str) -> Credentials | None:
    """The credentials configured for an environment; the demo ones for "local"; else None."""
    account = _read_json(_accounts_file()).get(env_name)
    if account and account.get("provider_id") and account.get("user"):
        password = _load_password(env_name, account["user"])
        if password is not None:
            return Credentials(account["provider_id"], account["user"], password)
        if env_name != LOCAL_ENVIRONMENT and not _file_mode() and not keyring_available():
            raise CredentialStoreError(_no_backend_message(env_name))
    if env_name == LOCAL_ENVIRONMENT:
        return SANDBOX_DEMO_CREDENTIALS
    return None


def save_credentials(env_name: str, creds: Credentials) -> None:
    """Keep provider id and user in accounts.json and the password in the keyring (or the fallback)."""
    if not _file_mode():
        if not keyring_available():
            raise CredentialStoreError(_no_backend_message(env_name))
        import keyring
        from keyring.errors import KeyringError

        try:
            keyring.set_password(KEYRING_SERVICE_PREFIX + env_name, creds.user, creds.password)
        except KeyringError as exc:
            raise CredentialStoreError(
                f"The system keyring refused to store the PARS password for {env_name!r}: {exc}"
            ) from exc
    else:
        secrets = _read_json(_secrets_file())
        secrets[env_name] = {"password": creds.password}
        _write_json(_secrets_file(), secrets, private=True)
    accounts = _read_json(_accounts_file())
    accounts[env_name] = {"provider_id": creds.provider_id, "user": creds.user}
    _write_json(_accounts_file(), accounts, private=False)


def delete_credentials(env_name: str) -> None:
    """Forget an environment's credentials (account entry and stored password)."""
    accounts = _read_json(_accounts_file())
    account = accounts.pop(env_name, None)
    if _file_mode():
        secrets = _read_json(_secrets_file())
        if secrets.pop(env_name, None) is not None:
            _write_json(_secrets_file(), secrets, private=True)
    elif account and keyring_available():
        import keyring
        from keyring.errors import KeyringError

        try:
            keyring.delete_password(KEYRING_SERVICE_PREFIX + env_name, account.get("user", ""))
        except KeyringError:
            pass  # nothing stored there: already forgotten
    _write_json(_accounts_file(), accounts, private=False)
