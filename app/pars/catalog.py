"""The PARS catalogues: certifying boards, error codes, states and other reference lists.

They live in TOML files under `resources/pars/` so that an office can follow a board's rule change by
editing data (see docs/pars-rules.md). A file of the same name in the override folder — the
`PARSDESK_CATALOG_DIR` environment variable, else `catalog/` in ParsDesk's data folder — replaces the
bundled one, so edits survive upgrades. Files are read once and cached; `reload()` reads them again.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from datetime import date
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Callable

from app import paths

BOARDS_FILE = "boards.toml"
ERRORS_FILE = "error_codes.toml"
REFERENCE_FILE = "reference.toml"
CATALOG_FILES = (BOARDS_FILE, ERRORS_FILE, REFERENCE_FILE)

# Code of issues that are ParsDesk's own checks rather than a PARS error code.
LOCAL_CHECK = 0


class CatalogError(ValueError):
    """A catalogue file is missing or malformed; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class Deadline:
    """A cut-off relative to a completion's year: month/day of (year + years_after)."""

    years_after: int
    month: int
    day: int

    def for_year(self, year: int) -> date:
        return date(year + self.years_after, self.month, self.day)


@dataclass(frozen=True, slots=True)
class BoardInfo:
    code: str
    name: str
    board_id_required: bool
    dob_required: bool
    credit_types: tuple[str, ...]
    credit_type_aliases: tuple[tuple[str, str], ...]  # (alias, canonical name)
    retired_credit_types: tuple[str, ...]
    patient_safety_types: tuple[str, ...]
    practice_assessment_types: tuple[str, ...]
    one_completion_per_day: bool
    earliest_completion: date | None
    report_deadline: Deadline
    delete_deadline: Deadline
    aliases: tuple[str, ...] = ()
    # folded name or alias -> canonical credit type; built from the fields above (validation is hot)
    _credit_type_index: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    _canonical_memo: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict, compare=False,
                                                                     repr=False)

    def __post_init__(self) -> None:
        index = {_fold(alias): canonical for alias, canonical in self.credit_type_aliases}
        index.update((_fold(name), name) for name in self.credit_types)
        object.__setattr__(self, "_credit_type_index", index)

    def credit_type(self, name: str) -> str | None:
        """The canonical name of a credit type (case, spaces and aliases forgiven); None if unknown."""
        return self._credit_type_index.get(_fold(name))

    def canonical_types(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """Names as the catalogue spells them (unknown ones unchanged); memoised, as validation asks
        this for every record of an activity."""
        found = self._canonical_memo.get(names)
        if found is None:
            found = tuple(self.credit_type(name) or name for name in names)
            self._canonical_memo[names] = found
        return found

    def is_retired(self, name: str) -> bool:
        wanted = _fold(name)
        return any(_fold(retired) == wanted for retired in self.retired_credit_types)

    def is_patient_safety(self, credit_type: str) -> bool:
        return credit_type in self.patient_safety_types

    def is_practice_assessment(self, credit_type: str) -> bool:
        return credit_type in self.practice_assessment_types


@dataclass(frozen=True, slots=True)
class CmeRules:
    credit_name: str
    dob_required: bool
    report_deadline: Deadline
    delete_deadline: Deadline


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    code: int
    message: str  # PARS's message
    meaning: str
    fix: str
    side: str  # "local": checked before sending; "pars": only PARS or the board decides

    @property
    def checked_locally(self) -> bool:
        return self.side == "local"


@dataclass(frozen=True, slots=True)
class StateInfo:
    code: str
    name: str
    pars_primary_source: bool
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Catalog:
    boards: dict[str, BoardInfo]
    board_lookup: dict[str, str]  # folded code or alias -> code
    cme: CmeRules
    errors: dict[int, ErrorInfo]
    states: dict[str, StateInfo]
    state_lookup: dict[str, str]  # folded code, name or alias -> code
    activity_types: tuple[str, ...]
    activity_type_lookup: dict[str, str]
    rems_professions: tuple[str, ...]
    dea_registrations: tuple[str, ...]
    time_in_practice: tuple[str, ...]


@lru_cache(maxsize=8192)
def _fold(text: str) -> str:
    """Case- and spacing-insensitive form for matching names people type."""
    return " ".join(text.split()).casefold()


def override_dir() -> Path | None:
    """Where an office's edited catalogue files live; None when overrides are switched off."""
    configured = os.environ.get("PARSDESK_CATALOG_DIR")
    if configured is not None:
        return Path(configured).expanduser() if configured.strip() else None
    return paths.data_dir() / "catalog"


def catalog_path(name: str) -> Path:
    """The file actually used for a catalogue: the office's override if present, else the bundled one."""
    folder = override_dir()
    if folder is not None and (folder / name).is_file():
        return folder / name
    return paths.resource("pars", name)


def _load(name: str) -> tuple[Path, dict[str, Any]]:
    path = catalog_path(name)
    try:
        with path.open("rb") as handle:
            return path, tomllib.load(handle)
    except FileNotFoundError as exc:
        raise CatalogError(f"{path}: catalogue file is missing") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{path}: not valid TOML ({exc})") from exc


def _require(table: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in table:
        raise CatalogError(f"{where}: '{key}' is missing")
    value = table[key]
    if not isinstance(value, kind):
        raise CatalogError(f"{where}: '{key}' has the wrong type ({type(value).__name__})")
    return value


def _strings(table: dict[str, Any], key: str, where: str, default: tuple[str, ...] | None = None
             ) -> tuple[str, ...]:
    if key not in table and default is not None:
        return default
    values = _require(table, key, list, where)
    if not all(isinstance(value, str) and value.strip() for value in values):
        raise CatalogError(f"{where}: '{key}' must be a list of non-empty strings")
    return tuple(value.strip() for value in values)


def _deadline(value: Any, where: str) -> Deadline:
    if not isinstance(value, dict):
        raise CatalogError(f"{where}: must be a table like {{ years_after = 1, month_day = \"12-31\" }}")
    years_after = _require(value, "years_after", int, where)
    month_day = _require(value, "month_day", str, where)
    try:
        month_text, day_text = month_day.split("-")
        month, day = int(month_text), int(day_text)
        date(2000, month, day)
    except ValueError as exc:
        raise CatalogError(f"{where}: month_day '{month_day}' is not a real MM-DD") from exc
    return Deadline(years_after=years_after, month=month, day=day)


def _parse_boards(path: Path, data: dict[str, Any]
                  ) -> tuple[dict[str, BoardInfo], dict[str, str], CmeRules]:
    defaults = data.get("defaults", {})
    default_report = _deadline(_require(defaults, "report_deadline", dict, f"{path} [defaults]"),
                               f"{path} [defaults] report_deadline")
    default_delete = _deadline(_require(defaults, "delete_deadline", dict, f"{path} [defaults]"),
                               f"{path} [defaults] delete_deadline")
    cme_table = _require(data, "cme", dict, str(path))
    where = f"{path} [cme]"
    cme = CmeRules(
        credit_name=_require(cme_table, "credit_name", str, where),
        dob_required=_require(cme_table, "dob_required", bool, where),
        report_deadline=_deadline(cme_table["report_deadline"], f"{where} report_deadline")
        if "report_deadline" in cme_table else default_report,
        delete_deadline=_deadline(cme_table["delete_deadline"], f"{where} delete_deadline")
        if "delete_deadline" in cme_table else default_delete,
    )
    boards: dict[str, BoardInfo] = {}
    lookup: dict[str, str] = {}
    for raw_code, table in _require(data, "boards", dict, str(path)).items():
        code = raw_code.strip().upper()
        where = f"{path} [boards.{raw_code}]"
        credit_types = _strings(table, "credit_types", where)
        aliases_table = table.get("credit_type_aliases", {})
        if not isinstance(aliases_table, dict):
            raise CatalogError(f"{where}: 'credit_type_aliases' must be a table of alias = \"name\"")
        for alias, canonical in aliases_table.items():
            if canonical not in credit_types:
                raise CatalogError(f"{where}: alias '{alias}' points to '{canonical}', "
                                   "which is not in credit_types")
        special: dict[str, tuple[str, ...]] = {}
        for key in ("patient_safety_types", "practice_assessment_types"):
            special[key] = _strings(table, key, where, default=())
            unknown = [name for name in special[key] if name not in credit_types]
            if unknown:
                raise CatalogError(f"{where}: '{key}' names {unknown}, which are not in credit_types")
        earliest = table.get("earliest_completion")
        if earliest is not None and not isinstance(earliest, date):
            raise CatalogError(f"{where}: 'earliest_completion' must be a date like 2021-03-01")
        info = BoardInfo(
            code=code,
            name=_require(table, "name", str, where),
            board_id_required=_require(table, "board_id_required", bool, where),
            dob_required=_require(table, "dob_required", bool, where),
            credit_types=credit_types,
            credit_type_aliases=tuple((str(a), str(c)) for a, c in aliases_table.items()),
            retired_credit_types=_strings(table, "retired_credit_types", where, default=()),
            patient_safety_types=special["patient_safety_types"],
            practice_assessment_types=special["practice_assessment_types"],
            one_completion_per_day=bool(table.get("one_completion_per_day", False)),
            earliest_completion=earliest,
            report_deadline=_deadline(table["report_deadline"], f"{where} report_deadline")
            if "report_deadline" in table else default_report,
            delete_deadline=_deadline(table["delete_deadline"], f"{where} delete_deadline")
            if "delete_deadline" in table else default_delete,
            aliases=_strings(table, "aliases", where, default=()),
        )
        boards[code] = info
        for name in (code, *info.aliases):
            lookup[_fold(name)] = code
    if not boards:
        raise CatalogError(f"{path}: no [boards.*] tables")
    return boards, lookup, cme


def _parse_errors(path: Path, data: dict[str, Any]) -> dict[int, ErrorInfo]:
    errors: dict[int, ErrorInfo] = {}
    for raw_code, table in _require(data, "codes", dict, str(path)).items():
        where = f"{path} [codes.{raw_code}]"
        try:
            code = int(raw_code)
        except ValueError as exc:
            raise CatalogError(f"{where}: the code must be a number") from exc
        side = _require(table, "side", str, where)
        if side not in ("local", "pars"):
            raise CatalogError(f"{where}: side must be \"local\" or \"pars\", not '{side}'")
        errors[code] = ErrorInfo(
            code=code,
            message=_require(table, "message", str, where).strip(),
            meaning=_require(table, "meaning", str, where).strip(),
            fix=_require(table, "fix", str, where).strip(),
            side=side,
        )
    return errors


def _lookup_with_aliases(names: tuple[str, ...], aliases: dict[str, str], where: str) -> dict[str, str]:
    lookup = {_fold(name): name for name in names}
    for alias, canonical in aliases.items():
        if canonical not in names:
            raise CatalogError(f"{where}: alias '{alias}' points to unknown '{canonical}'")
        lookup[_fold(alias)] = canonical
    return lookup


@cache
def _catalog() -> _Catalog:
    boards_path, boards_data = _load(BOARDS_FILE)
    boards, board_lookup, cme = _parse_boards(boards_path, boards_data)
    errors_path, errors_data = _load(ERRORS_FILE)
    errors = _parse_errors(errors_path, errors_data)
    reference_path, reference = _load(REFERENCE_FILE)

    states: dict[str, StateInfo] = {}
    state_lookup: dict[str, str] = {}
    for raw_code, table in _require(reference, "states", dict, str(reference_path)).items():
        where = f"{reference_path} [states.{raw_code}]"
        code = raw_code.strip().upper()
        info = StateInfo(
            code=code,
            name=_require(table, "name", str, where),
            pars_primary_source=bool(table.get("pars_primary_source", False)),
            aliases=_strings(table, "aliases", where, default=()),
        )
        states[code] = info
        for name in (code, info.name, *info.aliases):
            state_lookup[_fold(name)] = code

    activities = _require(reference, "activities", dict, str(reference_path))
    where = f"{reference_path} [activities]"
    activity_types = _strings(activities, "types", where)
    activity_type_lookup = _lookup_with_aliases(activity_types, activities.get("aliases", {}), where)
    rems = _require(reference, "rems", dict, str(reference_path))
    where = f"{reference_path} [rems]"
    return _Catalog(
        boards=boards,
        board_lookup=board_lookup,
        cme=cme,
        errors=errors,
        states=states,
        state_lookup=state_lookup,
        activity_types=activity_types,
        activity_type_lookup=activity_type_lookup,
        rems_professions=_strings(rems, "professions", where),
        dea_registrations=_strings(rems, "dea_registrations", where),
        time_in_practice=_strings(rems, "time_in_practice", where),
    )


def load() -> None:
    """Read the catalogue files now rather than at their first use (CatalogError when one is bad)."""
    _catalog()


def reload() -> None:
    """Forget the cached catalogues so the next call reads the files again (after an office edit)."""
    _catalog.cache_clear()
    for forget in _on_reload:
        forget()


# Caches elsewhere that hold catalogue entries register here to be cleared by reload().
_on_reload: list[Callable[[], None]] = []


def on_reload(forget: Callable[[], None]) -> None:
    _on_reload.append(forget)


# Boards --------------------------------------------------------------------------------------------

def boards() -> dict[str, BoardInfo]:
    """All certifying boards by code, in catalogue order."""
    return dict(_catalog().boards)


def board_codes() -> tuple[str, ...]:
    return tuple(_catalog().boards)


def board_code(text: str | None) -> str | None:
    """The catalogue code for a board as written ("abpath", " ABPath " -> "ABPATH"); None if unknown."""
    if not text:
        return None
    return _catalog().board_lookup.get(_fold(text))


def board(code: str | None) -> BoardInfo | None:
    """A board by code or alias, ignoring case; None if it is not one of the catalogue's boards."""
    canonical = board_code(code)
    return _catalog().boards[canonical] if canonical else None


def cme_rules() -> CmeRules:
    return _catalog().cme


# Error codes ---------------------------------------------------------------------------------------

_LOCAL_CHECK_INFO = ErrorInfo(
    code=LOCAL_CHECK,
    message="ParsDesk check",
    meaning="A problem ParsDesk finds before sending that has no PARS error code of its own.",
    fix="Correct the field named in the message.",
    side="local",
)


def errors() -> dict[int, ErrorInfo]:
    """Every PARS error code in the catalogue."""
    return dict(_catalog().errors)


def error(code: int) -> ErrorInfo:
    """What an error code means and how to fix it; unknown codes get a generic entry, never an exception."""
    if code == LOCAL_CHECK:
        return _LOCAL_CHECK_INFO
    found = _catalog().errors.get(code)
    if found is not None:
        return found
    return ErrorInfo(
        code=code,
        message=f"PARS error {code}",
        meaning=f"Code {code} is not in ParsDesk's error catalogue.",
        fix="Read the message PARS sent with it; contact ACCME (info@accme.org) if it is unclear.",
        side="pars",
    )


def describe(code: int) -> str:
    """One line for tooltips and reports: "671 Activity completion date not valid"."""
    info = error(code)
    return info.message if code == LOCAL_CHECK else f"{code} {info.message}"


# States --------------------------------------------------------------------------------------------

def states() -> dict[str, StateInfo]:
    return dict(_catalog().states)


def state_code(text: str | None) -> str | None:
    """The 2-letter code for "CA", "ca", "California" or " california "; None if not a US state/territory."""
    if not text:
        return None
    return _catalog().state_lookup.get(_fold(text))


def state_name(code: str | None) -> str | None:
    canonical = state_code(code)
    return _catalog().states[canonical].name if canonical else None


def state(code: str | None) -> StateInfo | None:
    canonical = state_code(code)
    return _catalog().states[canonical] if canonical else None


# Activities and REMS -------------------------------------------------------------------------------

def activity_types() -> tuple[str, ...]:
    return _catalog().activity_types


def activity_type(text: str | None) -> str | None:
    """The catalogue's name for an activity type ("rss" -> "Regularly Scheduled Series"); None if unknown."""
    if not text:
        return None
    return _catalog().activity_type_lookup.get(_fold(text))


def rems_professions() -> tuple[str, ...]:
    return _catalog().rems_professions


def rems_profession(text: str | None) -> str | None:
    """The catalogue's spelling of a REMS profession, ignoring case; None if unknown."""
    return _match(text, _catalog().rems_professions)


def dea_registrations() -> tuple[str, ...]:
    return _catalog().dea_registrations


def dea_registration(text: str | None) -> str | None:
    return _match(text, _catalog().dea_registrations)


def time_in_practice_values() -> tuple[str, ...]:
    return _catalog().time_in_practice


def time_in_practice(text: str | None) -> str | None:
    """The catalogue's value for "6-10", "6-10 years" or "6-10 yrs"; None if unknown."""
    if not text:
        return None
    wanted = _without_years(text)
    for name in _catalog().time_in_practice:
        if _without_years(name) == wanted:
            return name
    return None


def _without_years(text: str) -> str:
    folded = _fold(text)
    for suffix in (" years", " year", " yrs"):
        if folded.endswith(suffix):
            return folded[: -len(suffix)]
    return folded


def _match(text: str | None, names: tuple[str, ...]) -> str | None:
    if not text:
        return None
    wanted = _fold(text)
    for name in names:
        if _fold(name) == wanted:
            return name
    return None
