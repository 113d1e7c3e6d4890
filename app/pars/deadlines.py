"""PARS reporting deadlines: the rules of `resources/pars/deadlines.toml` and how to judge a record.

Pure: no database, no Qt. The attention service turns the date arithmetic here into SQL (every rule's
deadline grows with the completion date, so "deadline on or before D" is "completed on or before
`latest_completion_due_by(rule, D)`"); the entry dialog and Batch Upload ask `record_warnings` about a
single record before it is queued. The 705/706 rules take their dates from the board catalogue
(`report_deadline` / `delete_deadline` in boards.toml), the same dates validation refuses with.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

from app.pars import catalog
from app.pars.catalog import CatalogError, Deadline
from app.pars.domain import Activity, Completion
from app.pars.values import format_pars_date, parse_pars_date

DEADLINES_FILE = "deadlines.toml"

# rule kinds ParsDesk knows how to evaluate
DAYS_AFTER_COMPLETION = "days_after_completion"
COMPLETION_YEAR = "completion_year"
REPORT_DEADLINE = "report_deadline"
DELETE_DEADLINE = "delete_deadline"
CREDIT_CLAIM_DATE = "credit_claim_date"
BOARD_ACTIVITY_START = "board_activity_start"
BOARD_SELF_REPORTING_END = "board_self_reporting_end"
DEADLINE_KINDS = (DAYS_AFTER_COMPLETION, COMPLETION_YEAR, REPORT_DEADLINE, DELETE_DEADLINE, CREDIT_CLAIM_DATE,
                  BOARD_ACTIVITY_START, BOARD_SELF_REPORTING_END)

REJECTED_WAITING = "rejected_waiting"
DRAFTS_WITHOUT_PERMISSION = "drafts_without_permission"
SUBMITTED_WITHOUT_ANSWER = "submitted_without_answer"
SYNC_FAILING = "sync_failing"
FOLLOW_UP_KINDS = (REJECTED_WAITING, DRAFTS_WITHOUT_PERMISSION, SUBMITTED_WITHOUT_ANSWER, SYNC_FAILING)

OVERDUE = "overdue"
DUE = "due"

_LAST_DAY = date.max
_FIRST_DAY = date.min


@dataclass(frozen=True, slots=True)
class DeadlineRule:
    name: str
    kind: str
    title: str
    action: str
    notice_days: int
    programs: str = "all"  # "moc": records with board points; "all": every record
    days: int = 0  # days_after_completion
    cutoff: Deadline | None = None  # completion_year: month/day of (completion year + years_after)
    board: str | None = None  # board_activity_start / board_self_reporting_end
    on: date | None = None  # board_activity_start: first eligible start; self_reporting_end: the end

    @property
    def activity_level(self) -> bool:
        """Concerns activities (their claim dates) rather than a date of each record."""
        return self.kind == CREDIT_CLAIM_DATE


@dataclass(frozen=True, slots=True)
class FollowUpRule:
    name: str
    kind: str
    title: str
    action: str
    days: int = 0  # submitted_without_answer: waiting longer than this
    attempts: int = 1  # sync_failing: failed sends at least this often


@dataclass(frozen=True, slots=True)
class DeadlineSet:
    due_soon_days: int
    deadlines: tuple[DeadlineRule, ...]
    follow_ups: tuple[FollowUpRule, ...]

    def rule(self, name: str) -> DeadlineRule | FollowUpRule | None:
        return next((r for r in (*self.deadlines, *self.follow_ups) if r.name == name), None)


@dataclass(frozen=True, slots=True)
class DeadlineWarning:
    """One deadline a single record is past or near."""

    rule: str
    title: str
    deadline: date
    state: str  # OVERDUE | DUE
    message: str


# --- loading -----------------------------------------------------------------------------------------

@cache
def rules() -> DeadlineSet:
    """The deadline rules in force (the office's copy of deadlines.toml if there is one)."""
    path = catalog.catalog_path(DEADLINES_FILE)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise CatalogError(f"{path}: catalogue file is missing") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{path}: not valid TOML ({exc})") from exc
    return parse_rules(data, str(path))


catalog.on_reload(rules.cache_clear)


def parse_rules(data: dict[str, Any], where: str) -> DeadlineSet:
    settings = data.get("settings", {})
    due_soon = _int(settings, "due_soon_days", f"{where} [settings]", default=7)
    deadlines: list[DeadlineRule] = []
    for name, table in _tables(data, "deadlines", where):
        here = f"{where} [deadlines.{name}]"
        if table.get("enabled", True) is False:
            continue
        kind = _text(table, "kind", here)
        if kind not in DEADLINE_KINDS:
            raise CatalogError(f"{here}: kind '{kind}' is not one of {', '.join(DEADLINE_KINDS)}")
        programs = str(table.get("programs", "all"))
        if programs not in ("all", "moc"):
            raise CatalogError(f"{here}: programs must be \"all\" or \"moc\", not '{programs}'")
        rule = DeadlineRule(
            name=name, kind=kind, title=_text(table, "title", here), action=_text(table, "action", here),
            notice_days=_int(table, "notice_days", here, default=due_soon), programs=programs,
        )
        if kind == DAYS_AFTER_COMPLETION:
            rule = _replace(rule, days=_int(table, "days", here))
        elif kind == COMPLETION_YEAR:
            rule = _replace(rule, cutoff=catalog._deadline(  # noqa: SLF001 - the catalogue's own parser
                {"years_after": table.get("years_after", 0), "month_day": table.get("month_day")}, here))
        elif kind in (BOARD_ACTIVITY_START, BOARD_SELF_REPORTING_END):
            board = catalog.board_code(_text(table, "board", here))
            if board is None:
                raise CatalogError(f"{here}: board '{table.get('board')}' is not in boards.toml")
            on = table.get("date")
            if not isinstance(on, date):
                raise CatalogError(f"{here}: 'date' must be a date like 2025-01-01")
            rule = _replace(rule, board=board, on=on)
        deadlines.append(rule)
    follow_ups: list[FollowUpRule] = []
    for name, table in _tables(data, "follow_ups", where):
        here = f"{where} [follow_ups.{name}]"
        if table.get("enabled", True) is False:
            continue
        kind = _text(table, "kind", here)
        if kind not in FOLLOW_UP_KINDS:
            raise CatalogError(f"{here}: kind '{kind}' is not one of {', '.join(FOLLOW_UP_KINDS)}")
        follow_ups.append(FollowUpRule(
            name=name, kind=kind, title=_text(table, "title", here), action=_text(table, "action", here),
            days=_int(table, "days", here, default=0), attempts=_int(table, "attempts", here, default=1),
        ))
    return DeadlineSet(due_soon, tuple(deadlines), tuple(follow_ups))


def _tables(data: dict[str, Any], key: str, where: str) -> list[tuple[str, dict[str, Any]]]:
    section = data.get(key, {})
    if not isinstance(section, dict) or not all(isinstance(t, dict) for t in section.values()):
        raise CatalogError(f"{where}: [{key}.*] must be tables")
    return list(section.items())


def _text(table: dict[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CatalogError(f"{where}: '{key}' must be non-empty text")
    return " ".join(value.split())


def _int(table: dict[str, Any], key: str, where: str, default: int | None = None) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3660:
        raise CatalogError(f"{where}: '{key}' must be a whole number of days from 0 to 3660")
    return value


def _replace(rule: DeadlineRule, **changes: Any) -> DeadlineRule:
    from dataclasses import replace

    return replace(rule, **changes)


# --- dates ---------------------------------------------------------------------------------------------

def year_deadline(cutoff: Deadline, completed: date) -> date:
    return cutoff.for_year(completed.year)


def latest_completion_for_cutoff(cutoff: Deadline, day: date) -> date:
    """The last completion date whose year-based deadline falls on or before `day`."""
    year = day.year - cutoff.years_after
    if (cutoff.month, cutoff.day) > (day.month, day.day):
        year -= 1
    if year < _FIRST_DAY.year:
        return _FIRST_DAY
    return date(min(year, _LAST_DAY.year), 12, 31)


def days_deadline(rule: DeadlineRule, completed: date) -> date:
    return completed + timedelta(days=rule.days)


def latest_completion_due_by(rule: DeadlineRule, day: date) -> date:
    """For rules whose deadline follows from the completion date alone: the last completion date
    whose deadline is on or before `day`. Records completed up to it are due by `day`."""
    if rule.kind == DAYS_AFTER_COMPLETION:
        try:
            return day - timedelta(days=rule.days)
        except OverflowError:
            return _FIRST_DAY
    if rule.kind == COMPLETION_YEAR and rule.cutoff is not None:
        return latest_completion_for_cutoff(rule.cutoff, day)
    raise ValueError(f"rule {rule.name} ({rule.kind}) has no deadline per completion date")


def report_cutoffs() -> list[tuple[Deadline, tuple[str, ...]]]:
    """The catalogue's reporting deadlines (705), each with the programs it governs: "CME" for
    CME/REMS records, else board codes."""
    return _program_cutoffs("report_deadline")


def delete_cutoffs() -> list[tuple[Deadline, tuple[str, ...]]]:
    """The catalogue's delete deadlines (706), each with the programs it governs."""
    return _program_cutoffs("delete_deadline")


def _program_cutoffs(attribute: str) -> list[tuple[Deadline, tuple[str, ...]]]:
    grouped: dict[Deadline, list[str]] = {getattr(catalog.cme_rules(), attribute): ["CME"]}
    for code, info in catalog.boards().items():
        grouped.setdefault(getattr(info, attribute), []).append(code)
    return [(cutoff, tuple(names)) for cutoff, names in grouped.items()]


def state_of(deadline: date, as_of: date, notice_days: int) -> str | None:
    if deadline < as_of:
        return OVERDUE
    if (deadline - as_of).days <= notice_days:
        return DUE
    return None


# --- one record --------------------------------------------------------------------------------------

def record_deadlines(completion: Completion, activity: Activity | None, *, deleting: bool = False
                     ) -> list[tuple[DeadlineRule, date]]:
    """Each deadline rule that applies to this record with the record's deadline under it."""
    completed = parse_pars_date(completion.completion_date)  # batch rows may still hold the text read
    if completed is None:
        return []
    boards = [code for code in (catalog.board_code(part.board) for part in completion.boards) if code]
    has_moc = bool(boards)
    has_cme = completion.cme is not None or completion.rems is not None
    found: list[tuple[DeadlineRule, date]] = []
    for rule in rules().deadlines:
        if rule.programs == "moc" and not has_moc:
            continue
        if deleting != (rule.kind == DELETE_DEADLINE):
            continue
        deadline: date | None = None
        if rule.kind == DAYS_AFTER_COMPLETION:
            deadline = days_deadline(rule, completed)
        elif rule.kind == COMPLETION_YEAR and rule.cutoff is not None:
            deadline = year_deadline(rule.cutoff, completed)
        elif rule.kind in (REPORT_DEADLINE, DELETE_DEADLINE):
            governed = ["CME"] if has_cme or not boards else []
            cutoffs = report_cutoffs() if rule.kind == REPORT_DEADLINE else delete_cutoffs()
            dates = [year_deadline(cutoff, completed) for cutoff, names in cutoffs
                     if any(name in names for name in (*governed, *boards))]
            deadline = min(dates) if dates else None
        elif rule.kind == CREDIT_CLAIM_DATE and activity is not None:
            claims = [r.credit_claim_date for r in activity.boards
                      if r.credit_claim_date is not None and catalog.board_code(r.board) in boards]
            deadline = min(claims) if claims else None
        elif rule.kind == BOARD_ACTIVITY_START and activity is not None and rule.board in boards:
            if activity.start_date < rule.on:
                deadline = rule.on - timedelta(days=1)  # never reportable: past from the start
        if deadline is not None:
            found.append((rule, deadline))
    return found


def record_warnings(completion: Completion, activity: Activity | None, as_of: date, *, deleting: bool = False
                    ) -> list[DeadlineWarning]:
    """The deadlines this record is already past or close to, most urgent first (for the entry
    dialog and Batch Upload, before the record is queued)."""
    warnings: list[DeadlineWarning] = []
    for rule, deadline in record_deadlines(completion, activity, deleting=deleting):
        state = state_of(deadline, as_of, rule.notice_days)
        if state is None:
            continue
        when = format_pars_date(deadline)
        if rule.kind == BOARD_ACTIVITY_START:
            message = f"{rule.title}: {rule.action}"
        elif state == OVERDUE:
            message = f"{rule.title}: the deadline was {when}. {rule.action}"
        else:
            left = (deadline - as_of).days
            days = "today" if left == 0 else f"in {left} day{'s' if left != 1 else ''}"
            message = f"{rule.title}: due {when} ({days}). {rule.action}"
        warnings.append(DeadlineWarning(rule.name, rule.title, deadline, state, message))
    warnings.sort(key=lambda w: (w.state != OVERDUE, w.deadline))
    return warnings
