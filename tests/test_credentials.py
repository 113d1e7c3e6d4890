"""Credentials per environment (keyring, explicit fallbacks, sandbox demo) and environment settings."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail

from app.pars import credentials as creds_module
from app.pars.credentials import (
    SANDBOX_DEMO_CREDENTIALS,
    CredentialStoreError,
    Credentials,
    delete_credentials,
    load_credentials,
    save_credentials,
)
from app.pars.environments import (
    ACCME_PRODUCTION,
    ACCME_SANDBOX,
    LOCAL,
    OPERATIONS,
    EnvironmentConfigError,
    environment,
    load_environments,
)

REAL = Credentials("7654321", "office-user", "pa55-word")


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PARSDESK_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("PARSDESK_PASSWORD", raising=False)
    return tmp_path


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.passwords.pop((service, username), None)


@pytest.fixture
def memory_keyring(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("PARSDESK_KEYRING", raising=False)
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("PARSDESK_KEYRING", raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


def test_local_environment_uses_the_sandbox_demo_credentials_when_none_are_configured():
    assert load_credentials(LOCAL) == SANDBOX_DEMO_CREDENTIALS
    assert (SANDBOX_DEMO_CREDENTIALS.provider_id, SANDBOX_DEMO_CREDENTIALS.user) == ("1234567", "demo")


def test_other_environments_have_no_credentials_until_configured():
    assert load_credentials(ACCME_SANDBOX) is None


def test_file_fallback_round_trips_and_keeps_the_password_in_a_0600_file(data_dir: Path):
    save_credentials(ACCME_SANDBOX, REAL)
    assert load_credentials(ACCME_SANDBOX) == REAL
    secrets = data_dir / "secrets.json"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    accounts = json.loads((data_dir / "accounts.json").read_text())
    assert accounts[ACCME_SANDBOX] == {"provider_id": "7654321", "user": "office-user"}
    assert "pa55-word" not in (data_dir / "accounts.json").read_text()


def test_environments_keep_separate_credentials():
    other = Credentials("1111111", "prod-user", "other")
    save_credentials(ACCME_SANDBOX, REAL)
    save_credentials(ACCME_PRODUCTION, other)
    assert load_credentials(ACCME_SANDBOX) == REAL
    assert load_credentials(ACCME_PRODUCTION) == other


def test_delete_forgets_account_and_password(data_dir: Path):
    save_credentials(ACCME_SANDBOX, REAL)
    delete_credentials(ACCME_SANDBOX)
    assert load_credentials(ACCME_SANDBOX) is None
    assert ACCME_SANDBOX not in json.loads((data_dir / "secrets.json").read_text())


def test_keyring_keeps_the_password_under_the_environment_service(memory_keyring: MemoryKeyring, data_dir: Path):
    save_credentials(ACCME_PRODUCTION, REAL)
    assert memory_keyring.passwords == {("ParsDesk/accme-production", "office-user"): "pa55-word"}
    assert not (data_dir / "secrets.json").exists()
    assert load_credentials(ACCME_PRODUCTION) == REAL
    delete_credentials(ACCME_PRODUCTION)
    assert memory_keyring.passwords == {}


def test_without_a_keyring_saving_explains_the_fallbacks(no_keyring):
    with pytest.raises(CredentialStoreError) as raised:
        save_credentials(ACCME_SANDBOX, REAL)
    assert "PARSDESK_PASSWORD" in str(raised.value) and "PARSDESK_KEYRING=file" in str(raised.value)
    assert "pa55-word" not in str(raised.value)


def test_without_a_keyring_the_password_can_come_from_the_environment(
    no_keyring, data_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    (data_dir / "accounts.json").write_text(json.dumps({ACCME_SANDBOX: {"provider_id": "7654321", "user": "office-user"}}))
    with pytest.raises(CredentialStoreError):
        load_credentials(ACCME_SANDBOX)
    monkeypatch.setenv("PARSDESK_PASSWORD", "from-env")
    assert load_credentials(ACCME_SANDBOX) == Credentials("7654321", "office-user", "from-env")


def test_keyring_availability_tells_the_fail_backend_apart(memory_keyring):
    assert creds_module.keyring_available() is True
    keyring.set_keyring(fail.Keyring())
    assert creds_module.keyring_available() is False


def test_password_never_shows_in_repr():
    assert "pa55-word" not in repr(REAL) and "pa55-word" not in str(REAL)


# ------------------------------------------------------------------ environments


def test_bundled_environments_have_every_operation_and_placeholders_are_marked():
    environments = load_environments()
    assert set(environments) >= {LOCAL, ACCME_SANDBOX, ACCME_PRODUCTION}
    for env in environments.values():
        assert set(env.paths) == set(OPERATIONS)
    assert environments[LOCAL].base_url == "" and not environments[LOCAL].placeholder
    for name in (ACCME_SANDBOX, ACCME_PRODUCTION):
        assert environments[name].placeholder
        assert environments[name].base_url.startswith("https://") and ".invalid" in environments[name].base_url


def test_user_file_overrides_host_and_paths_key_by_key(tmp_path: Path):
    user_file = tmp_path / "environments.toml"
    user_file.write_text(
        '[environments.accme-sandbox]\nbase_url = "https://pars-test.example.org"\nplaceholder = false\n'
        '[environments.accme-sandbox.paths]\nSaveLearnerActivity = "/ws/learners"\n'
    )
    env = environment(ACCME_SANDBOX, user_file=user_file)
    assert env.base_url == "https://pars-test.example.org" and not env.placeholder
    assert env.paths["SaveLearnerActivity"] == "/ws/learners"
    assert env.paths["GetActivity"] == "/pars/v1/GetActivity"  # untouched keys stay


def test_unknown_environment_and_missing_paths_are_reported(tmp_path: Path):
    with pytest.raises(EnvironmentConfigError, match="unknown PARS environment"):
        environment("nowhere")
    user_file = tmp_path / "environments.toml"
    user_file.write_text('[environments.extra]\nbase_url = "https://x.example.org"\n')
    with pytest.raises(EnvironmentConfigError, match="extra"):
        load_environments(user_file)


def test_batches_in_flight_are_a_setting_of_the_environment_with_a_cap(tmp_path: Path):
    from app.pars.environments import DEFAULT_IN_FLIGHT, MAX_IN_FLIGHT

    assert all(env.in_flight == DEFAULT_IN_FLIGHT for env in load_environments().values())
    user_file = tmp_path / "environments.toml"
    user_file.write_text("[environments.accme-production]\nin_flight = 1\n")
    assert environment(ACCME_PRODUCTION, user_file=user_file).in_flight == 1
    assert environment(ACCME_SANDBOX, user_file=user_file).in_flight == DEFAULT_IN_FLIGHT
    for bad in (0, MAX_IN_FLIGHT + 1, '"4"', "true", 2.5):
        user_file.write_text(f"[environments.accme-production]\nin_flight = {bad}\n")
        with pytest.raises(EnvironmentConfigError, match="accme-production.*in_flight must be a whole number from 1"):
            load_environments(user_file)
