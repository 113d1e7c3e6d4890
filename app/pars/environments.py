"""PARS web-service environments (local sandbox, ACCME sandbox, ACCME production) as data.

The bundled `resources/pars/environments.toml` lists each environment's base URL and one path per
operation. ACCME's real hosts and paths (document 715) are not public, so a user file may override
the bundled one key by key: `PARSDESK_ENVIRONMENTS=<file>` if set, else `environments.toml` in the
ParsDesk data folder. Changing a host or a path is an edit of that file, never of code.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.paths import data_dir, resource

LOCAL = "local"
ACCME_SANDBOX = "accme-sandbox"
ACCME_PRODUCTION = "accme-production"
# Where `parsdesk sandbox` listens by default, and so where `parsdesk sync --env local` looks first.
LOCAL_SANDBOX_PORT = 8765
LOCAL_SANDBOX_URL = f"http://127.0.0.1:{LOCAL_SANDBOX_PORT}"

# The six operations ParsDesk speaks; see docs/pars-protocol.md.
SAVE_ACTIVITY = "SaveActivity"
GET_ACTIVITY = "GetActivity"
SAVE_LEARNER_ACTIVITY = "SaveLearnerActivity"
GET_LEARNER_MATCH = "GetLearnerMatch"
GET_LEARNER_STATUS_BY_CREDIT_ID = "GetLearnerStatusByCreditId"
GET_LEARNER_STATUS_BY_LEARNER = "GetLearnerStatusByLearner"
OPERATIONS: tuple[str, ...] = (
    SAVE_ACTIVITY,
    GET_ACTIVITY,
    SAVE_LEARNER_ACTIVITY,
    GET_LEARNER_MATCH,
    GET_LEARNER_STATUS_BY_CREDIT_ID,
    GET_LEARNER_STATUS_BY_LEARNER,
)

# Learner batches a sync sends to one PARS environment at once (`in_flight` in environments.toml,
# `parsdesk sync --in-flight`). A few hide the round trip; more would only load PARS with parallel
# requests (politeness: an ACCME host may throttle a provider that opens many), so it is capped.
DEFAULT_IN_FLIGHT = 4
MAX_IN_FLIGHT = 8


class EnvironmentConfigError(ValueError):
    """The environments file is missing an environment or an operation path, or is not valid TOML."""


@dataclass(frozen=True, slots=True)
class Environment:
    name: str
    label: str
    base_url: str  # empty for "local": the sandbox's URL is known only once it runs
    paths: dict[str, str]
    placeholder: bool  # True while the host is still the unfilled placeholder for document 715
    in_flight: int = DEFAULT_IN_FLIGHT  # learner batches sent at once, 1..MAX_IN_FLIGHT


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise EnvironmentConfigError(f"{path}: not valid TOML ({exc})") from exc


def user_environments_file() -> Path:
    override = os.environ.get("PARSDESK_ENVIRONMENTS")
    if override:
        return Path(override).expanduser()
    return data_dir() / "environments.toml"


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_environments(user_file: Path | None = None) -> dict[str, Environment]:
    """All environments: the bundled file overlaid with the user's file when it exists."""
    data = _read_toml(resource("pars", "environments.toml"))
    user_file = user_environments_file() if user_file is None else user_file
    if user_file.is_file():
        data = _merge(data, _read_toml(user_file))
    environments: dict[str, Environment] = {}
    for name, entry in data.get("environments", {}).items():
        paths = {str(op): str(path) for op, path in entry.get("paths", {}).items()}
        missing = [op for op in OPERATIONS if not paths.get(op)]
        if missing:
            raise EnvironmentConfigError(f"environment {name!r} has no path for {', '.join(missing)}")
        in_flight = entry.get("in_flight", DEFAULT_IN_FLIGHT)
        if isinstance(in_flight, bool) or not isinstance(in_flight, int) or not 1 <= in_flight <= MAX_IN_FLIGHT:
            raise EnvironmentConfigError(
                f"environment {name!r}: in_flight must be a whole number from 1 to {MAX_IN_FLIGHT} "
                "(learner batches sent at once)"
            )
        environments[name] = Environment(
            name=name,
            label=str(entry.get("label", name)),
            base_url=str(entry.get("base_url", "")),
            paths=paths,
            placeholder=bool(entry.get("placeholder", False)),
            in_flight=in_flight,
        )
    return environments


def environment(name: str, user_file: Path | None = None) -> Environment:
    environments = load_environments(user_file)
    try:
        return environments[name]
    except KeyError:
        known = ", ".join(sorted(environments))
        raise EnvironmentConfigError(f"unknown PARS environment {name!r} (known: {known})") from None


def default_paths() -> dict[str, str]:
    """The operation paths of the local sandbox, which ParsDesk's own server serves."""
    return dict(environment(LOCAL, user_file=Path(os.devnull)).paths)
