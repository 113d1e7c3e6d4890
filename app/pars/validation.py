"""The local verdict on a learner record: every problem PARS would reject it for, checked before sending.

One function judges a record wherever it came from (entry form, Excel row, XML element, the sandbox),
so the same record gets the same verdict everywhere. Each problem is an `Issue` with the PARS error code
(or `LOCAL_CHECK` for ParsDesk's own checks), the field it concerns and a specific message that names
the offending value and the limit. Messages never repeat a date of birth or license number.

Board rules (which credit types, whether an ID or DOB is required, deadlines) come from
`app.pars.catalog`, which reads them from data files.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from operator import attrgetter

from app.pars import catalog
from app.pars.catalog import LOCAL_CHECK, BoardInfo, Deadline
from app.pars.domain import (
    F_ACTION,
    F_ACTIVITY_ID,
    F_BOARD,
    F_BOARD_ID,
    F_BOARD_POINTS,
    F_CME_CREDITS,
    F_COMPLETION_DATE,
    F_CREDIT_ID,
    F_CREDIT_TYPE,
    F_CREDIT_TYPE_AMOUNT,
    F_DOB,
    F_FIRST_NAME,
    F_LAST_NAME,
    F_LICENSE_ID,
    F_PERMISSION,
    F_REMS_PROFESSION,
    F_STATE,
    Activity,
    BoardPart,
    BoardRegistration,
    Completion,
    History,
    Issue,
    Learner,
    PriorCompletion,
    RecordAction,
    Status,
    learner_key,
)
from app.pars.values import (
    format_amount,
    format_pars_date,
    MAX_AMOUNT,
    is_quarter_step,
    normalize_birth_date,
    npi_check_digit,
    parse_amount,
    parse_pars_date,
    refused_character,
    shown,
)

# REMS participant fields beyond the profession (no Excel header of their own).
F_REMS_STATE = "REMS State of Practice"
F_REMS_DEA = "REMS DEA Registration"
F_REMS_TIME_IN_PRACTICE = "REMS Time in Practice"

# Field names of an activity, for validate_activity (the activity dialog places messages by them).
A_TITLE = "Title"
A_ACTIVITY_ID = F_ACTIVITY_ID
A_ACTIVITY_TYPE = "Activity Type"
A_START_DATE = "Start Date"
A_END_DATE = "End Date"
A_CME_CREDITS = "AMA PRA Category 1 Credits"
A_BOARD = F_BOARD
A_MOC_POINTS = "MOC Points"
A_CREDIT_TYPES = "Credit Types"
A_CREDIT_CLAIM_DATE = "Credit Claim Date"

CREDIT_ID_MAX_LENGTH = 300
_ZERO = Decimal(0)
_ACTIVITY_ID = re.compile(r"\d{9}")
_NPI = re.compile(r"\d{10}")
# The state column may say "NPI" when the ID is an NPI rather than a state license number.
_NPI_MARKERS = frozenset({"", "NPI"})


# Helpers other parts use ---------------------------------------------------------------------------

def is_valid_npi(text: str | None) -> bool:
    """A 10-digit NPI whose last digit is its Luhn check digit (see values.npi_check_digit)."""
    if not text or not _NPI.fullmatch(text.strip()):
        return False
    npi = text.strip()
    return npi_check_digit(npi[:9]) == npi[9]


def record_action(value: RecordAction | str | None) -> RecordAction | None:
    """Add or Delete from "add", " DELETE " or the enum; None when missing or anything else."""
    if isinstance(value, RecordAction):
        return value
    if not value or not value.strip():
        return None
    folded = value.strip().casefold()
    for action in RecordAction:
        if action.value.casefold() == folded:
            return action
    return None


def prior_from_completion(completion: Completion, counts: bool = True) -> PriorCompletion:
    """What a stored or sent record tells later checks (603, 605, 710, 711, 717), built the same way
    by the store, the services and the batch check."""
    return _prior(completion, _prior_content(completion), counts)


def _prior_content(completion: Completion) -> tuple[str | None, date | None, tuple[tuple[str, Decimal], ...]]:
    """The parts of a PriorCompletion that depend on the record's content alone, not on its learner:
    activity, completion date, points per board."""
    board_points: list[tuple[str, Decimal]] = []
    for part in completion.boards:
        code = catalog.board_code(part.board) or (part.board or "").strip().upper()
        points = parse_amount(part.points)
        if code and points is not None:
            board_points.append((code, points))
    return _activity_key(completion.activity_id), parse_pars_date(completion.completion_date), tuple(board_points)


def _prior(completion: Completion, content: tuple[str | None, date | None, tuple[tuple[str, Decimal], ...]],
           counts: bool) -> PriorCompletion:
    activity_id, completed, board_points = content
    return PriorCompletion(
        credit_id=(completion.credit_id or "").strip(),
        activity_id=activity_id,
        learner_key=_prior_learner_key(completion),
        completion_date=completed,
        board_points=board_points,
        counts=counts,
    )


def history_from_completions(sent: Iterable[tuple[Completion, bool]]) -> History:
    """A History from earlier records and whether each still counts (False once deleted or rejected)."""
    return history_from_priors(
        (prior_from_completion(completion, counts=counts), completion) for completion, counts in sent
    )


def history_from_priors(sent: Iterable[tuple[PriorCompletion, Completion]]) -> History:
    """A History from earlier records whose `prior_from_completion` the caller already holds (a
    server judging batch after batch against everything it stored keeps them rather than redo them)."""
    history = History()
    for prior, completion in sent:
        if prior.credit_id:
            history.add_prior(prior)
            history.sent[prior.credit_id] = completion
    return history


def delete_refusal(status: str) -> str | None:
    """PARS's lifecycle rule for deletes: a Submitted record must finish processing by the board
    (Accepted or Rejected) before it can be deleted. Returns why a delete is refused, or None."""
    if status == Status.SUBMITTED.value:
        return ("The record is still being processed by the board (Submitted); "
                "delete it once it is Accepted or Rejected.")
    if status == Status.UPLOADED.value:
        return ("The record went to PARS in an upload file whose results are not in yet; import PARS's "
                "rejection workbook (or mark the file's other records Submitted) before deleting it.")
    return None


def needs_board_processing(completion: Completion) -> bool:
    """Whether PARS passes a valid record on to a board: a certifying board for MOC, or for CME the
    learner's state medical board when it takes PARS data as primary source. Such a record is
    Submitted until the board answers; any other valid record is Accepted at once (and its delete
    done at once), as the tutorial describes."""
    if completion.boards:
        return True
    if completion.cme is None:
        return False
    state = catalog.state(catalog.state_code(completion.learner.licensing_state))
    return state is not None and state.pars_primary_source and bool(completion.learner.license_id)


def queue_blockers(completion: Completion) -> list[Issue]:
    """What keeps a record as a Draft although PARS would accept it: the learner's permission."""
    if completion.permission:
        return []
    return [Issue(LOCAL_CHECK, F_PERMISSION,
                  "The learner has not given permission to report this completion; it stays a Draft")]


def can_queue(completion: Completion) -> bool:
    return not queue_blockers(completion)


# Earlier records, indexed ---------------------------------------------------------------------------

def _activity_key(activity_id: str | None) -> str | None:
    text = (activity_id or "").strip()
    return text or None


# catalog.board_code for the board texts a batch repeats thousands of times (forgotten when the
# catalogue reloads, below).
_board_code = lru_cache(maxsize=256)(catalog.board_code)


def _board_learner_key(learner: Learner, code: str, board_id: str | None) -> str:
    # learner_key(learner, BoardPart(board=code, board_id=board_id)), without building the part
    if board_id:
        return f"{code.upper()}#{board_id.strip().upper()}"
    return learner_key(learner)


def _prior_learner_key(completion: Completion) -> str:
    # One key per record: the board ID when the record has a single board, else name/DOB/license.
    # Checks look a learner up under both forms, so either one is found.
    if len(completion.boards) == 1:
        part = completion.boards[0]
        code = catalog.board_code(part.board) or (part.board or "").strip().upper()
        return _board_learner_key(completion.learner, code, part.board_id)
    return learner_key(completion.learner)


def _learner_keys(completion: Completion) -> set[str] | None:
    """Every key under which the ledger could find this record's learner, or a later record find it:
    the name key and a board key per board part, as _EarlierRecords.check makes them. (The key of
    its PriorCompletion is one of these, or "CODE#" for a board ID of spaces, which no check asks.)
    None when a learner field is not text: such a record goes the long way, as it always did."""
    learner = completion.learner
    try:
        keys = {learner_key(learner)}
        for part in completion.boards:
            board_id = part.board_id
            board_id = board_id.strip() if board_id.__class__ is str else _text(board_id)
            if board_id:
                code = _board_code(part.board) or _text(part.board).upper()
                keys.add(_board_learner_key(learner, code, board_id))
    except (AttributeError, TypeError):
        return None
    return keys


def _shared_keys(learner_keys: Sequence[set[str] | None]) -> set[str]:
    """The learner keys of more than one record of a batch."""
    seen: set[str] = set()
    shared: set[str] = set()
    for keys in learner_keys:
        if keys is None:
            continue
        shared.update(keys & seen)
        seen |= keys
    return shared


class _Ledger:
    """Indexes over a History (never modified) so that each check is a dict lookup, not a scan."""

    def __init__(self, history: History) -> None:
        self.used_credit_ids: set[str] = set(history.used_credit_ids)
        self.sent: Mapping[str, Completion] = history.sent
        self.deleted: set[str] = set()
        self._points: defaultdict[tuple[str | None, str, str], Decimal] = defaultdict(Decimal)
        self._days: defaultdict[tuple[str | None, str, date, str], int] = defaultdict(int)
        self._counted: dict[str, PriorCompletion] = {}
        # The learner keys of the records counted (kept after a delete: "perhaps here" is enough).
        self.learners: set[str] = set()
        for prior in history.priors:
            self.add(prior)

    def add(self, prior: PriorCompletion) -> None:
        if prior.credit_id:
            self.used_credit_ids.add(prior.credit_id)
        if not prior.counts:
            return
        if prior.credit_id:
            self._counted[prior.credit_id] = prior
        self.learners.add(prior.learner_key)
        self._apply(prior, 1)

    def remove(self, credit_id: str) -> None:
        """A delete accepted earlier in the same batch: its points are available again."""
        self.deleted.add(credit_id)
        prior = self._counted.pop(credit_id, None)
        if prior is not None:
            self._apply(prior, -1)

    def _apply(self, prior: PriorCompletion, sign: int) -> None:
        for board, points in prior.board_points:
            code = board.upper()
            self._points[(prior.activity_id, prior.learner_key, code)] += sign * points
            if prior.completion_date is not None:
                self._days[(prior.activity_id, prior.learner_key, prior.completion_date, code)] += sign

    def points(self, activity_id: str | None, keys: Iterable[str], board: str) -> Decimal:
        total = _ZERO
        for key in keys:
            earlier = self._points.get((activity_id, key, board))
            if earlier:
                total += earlier
        return total

    def completed_on(self, activity_id: str | None, keys: Iterable[str], day: date, board: str) -> bool:
        for key in keys:
            if self._days.get((activity_id, key, day, board), 0) > 0:
                return True
        return False


# The checks -----------------------------------------------------------------------------------------

class _Findings:
    # A plain class rather than a dataclass with default factories: one is made per record judged.
    __slots__ = ("issues", "late_reasons")

    def __init__(self) -> None:
        self.issues: list[Issue] = []
        # Why a real completion date is too late (future, after end or claim date): one 671 names them all.
        self.late_reasons: list[str] = []

    def add(self, code: int, field_name: str, message: str) -> None:
        self.issues.append(Issue(code, field_name, message))

    def too_late(self, reason: str) -> None:
        if reason not in self.late_reasons:
            self.late_reasons.append(reason)


def _fmt(amount: Decimal) -> str:
    return format_amount(amount)


def _text(value: object) -> str:
    if value.__class__ is str:  # nearly always: the isinstance() below covers str subclasses
        return value.strip()  # type: ignore[union-attr]
    return value.strip() if isinstance(value, str) else "" if value is None else str(value)


def _amount(value: object, field_name: str, label: str, found: _Findings,
            missing_code: int | None = 632) -> Decimal | None:
    """A credit amount checked for 632 (missing), 673 (not a positive number) and 675 (0.25 steps).

    Returns the amount when it is a positive number (even off-step, so limits can still be checked)."""
    # A batch repeats a handful of amounts thousands of times: each verdict is worked out once. The
    # key holds the type (2 == 2.0 == True) and a Decimal's own spelling (2 == 2.00).
    key = (value.__class__, str(value) if value.__class__ is Decimal else value, field_name, label, missing_code)
    try:
        amount, issues = _AMOUNT_VERDICTS[key]
    except KeyError:
        checked = _Findings()
        amount = _amount_verdict(value, field_name, label, checked, missing_code)
        issues = tuple(checked.issues)
        if len(_AMOUNT_VERDICTS) >= _AMOUNT_VERDICTS_KEPT:
            _AMOUNT_VERDICTS.clear()
        _AMOUNT_VERDICTS[key] = amount, issues
    except TypeError:  # an unhashable value (never from the readers): judged as it is
        return _amount_verdict(value, field_name, label, found, missing_code)
    if issues:
        found.issues.extend(issues)
    return amount


_AMOUNT_VERDICTS: dict[tuple[object, ...], tuple[Decimal | None, tuple[Issue, ...]]] = {}
_AMOUNT_VERDICTS_KEPT = 4096


def _amount_verdict(value: object, field_name: str, label: str, found: _Findings,
                    missing_code: int | None) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if missing_code is not None:
            found.add(missing_code, field_name, f"{label} is missing")
        return None
    amount = parse_amount(value)
    if amount is None:
        found.add(673, field_name, f"{label} '{shown(_text(value))}' is not a number")
        return None
    if amount <= 0:
        found.add(673, field_name, f"{label} must be more than 0, not {shown(_fmt(amount))}")
        return None
    if amount > MAX_AMOUNT:
        found.add(673, field_name, f"{label} {shown(_fmt(amount))} is not a credit amount "
                                   f"(at most {_fmt(MAX_AMOUNT)})")
        return None
    if not is_quarter_step(amount):
        found.add(675, field_name, f"{label} {_fmt(amount)} is not in steps of 0.25 "
                                   "(amounts must end in .00, .25, .50 or .75)")
    return amount


# Longest text accepted per field. PARS publishes no limits except the creditID's; these are far
# beyond any real value and keep a pasted paragraph (or a 50,000-character cell) out of the outbox.
NAME_MAX_LENGTH = 100
ACTIVITY_TITLE_MAX_LENGTH = 500
ID_MAX_LENGTH = 50
SHORT_TEXT_MAX_LENGTH = 50
LONG_TEXT_MAX_LENGTH = 200
F_REMS_PRACTICE_AREA = "REMS Practice Area"


def _raw(value: object) -> str | None:
    """The text of a value that may have been kept as typed (str); None for parsed values."""
    return value if isinstance(value, str) else None


def _record_texts(completion: Completion) -> list[tuple[str, str | None, int]]:
    """(field, text, longest accepted) for every text a record carries."""
    learner = completion.learner
    texts: list[tuple[str, str | None, int]] = [
        (F_ACTION, _raw(completion.action), SHORT_TEXT_MAX_LENGTH),
        (F_ACTIVITY_ID, completion.activity_id, SHORT_TEXT_MAX_LENGTH),
        (F_CREDIT_ID, completion.credit_id, CREDIT_ID_MAX_LENGTH),
        (F_COMPLETION_DATE, _raw(completion.completion_date), SHORT_TEXT_MAX_LENGTH),
        (F_FIRST_NAME, learner.first_name, NAME_MAX_LENGTH),
        (F_LAST_NAME, learner.last_name, NAME_MAX_LENGTH),
        (F_DOB, learner.birth_date, SHORT_TEXT_MAX_LENGTH),
        (F_STATE, learner.licensing_state, SHORT_TEXT_MAX_LENGTH),
        (F_LICENSE_ID, learner.license_id, ID_MAX_LENGTH),
    ]
    if completion.cme is not None:
        texts.append((F_CME_CREDITS, _raw(completion.cme.credits), SHORT_TEXT_MAX_LENGTH))
    for part in completion.boards:
        texts += [(F_BOARD, part.board, SHORT_TEXT_MAX_LENGTH), (F_BOARD_ID, part.board_id, ID_MAX_LENGTH),
                  (F_BOARD_POINTS, _raw(part.points), SHORT_TEXT_MAX_LENGTH)]
        for name, amount in part.credit_types.items():
            texts += [(F_CREDIT_TYPE, name, NAME_MAX_LENGTH),
                      (F_CREDIT_TYPE_AMOUNT, _raw(amount), SHORT_TEXT_MAX_LENGTH)]
        for name in part.repeated_types:
            texts.append((F_CREDIT_TYPE, name, NAME_MAX_LENGTH))
    rems = completion.rems
    if rems is not None:
        texts += [(F_REMS_PROFESSION, rems.profession, NAME_MAX_LENGTH),
                  (F_REMS_STATE, rems.state_of_practice, SHORT_TEXT_MAX_LENGTH),
                  (F_REMS_DEA, rems.dea_registration, SHORT_TEXT_MAX_LENGTH),
                  (F_REMS_PRACTICE_AREA, rems.practice_area, LONG_TEXT_MAX_LENGTH),
                  (F_REMS_TIME_IN_PRACTICE, rems.time_in_practice, SHORT_TEXT_MAX_LENGTH)]
    return texts


def check_text(field_name: str, text: str | None, longest: int) -> Issue | None:
    """The one rule for every text field ParsDesk accepts (records and activities, typed or read):
    no control, direction or zero-width characters, and no more than `longest` characters."""
    if not text:
        return None
    why = refused_character(text)
    if why is not None:
        return Issue(LOCAL_CHECK, field_name, f"{field_name} contains {why}: retype it without that character")
    if len(text) > longest:
        return Issue(LOCAL_CHECK, field_name, f"{field_name} is {len(text):,} characters long; at most "
                                              f"{longest:,} are accepted")
    return None


def _plainly_clean(completion: Completion) -> bool:
    """The fast verdict for a record without REMS (nearly every record of a batch): its texts, all
    within the shortest limit, joined and searched once. False means "look field by field"."""
    return _plain_learner_texts(completion) and _plain_content_texts(completion)


def _plain_learner_texts(completion: Completion) -> bool:
    """_plainly_clean for the texts that identify the learner and the record (names, birth date,
    license, board IDs, credit ID) and the action as typed: those a batch rarely repeats."""
    learner = completion.learner
    texts = [learner.first_name, learner.last_name, learner.birth_date, learner.license_id]
    if isinstance(completion.action, str):
        texts.append(completion.action)
    for part in completion.boards:
        texts.append(part.board_id)
    present = [text for text in texts if text]
    credit_id = completion.credit_id or ""
    return (len(credit_id) <= CREDIT_ID_MAX_LENGTH
            and max(map(len, present), default=0) <= SHORT_TEXT_MAX_LENGTH
            and refused_character(" ".join(present) + " " + credit_id) is None)


def _all_plain_learner_texts(completions: Sequence[Completion]) -> bool:
    """_plain_learner_texts for every record of a batch at once (one search over all their texts):
    True when it holds for each of them. False means "ask record by record"."""
    learners = [completion.learner for completion in completions]
    texts: list[str] = []
    for name in ("first_name", "last_name", "birth_date", "license_id"):
        texts += filter(None, map(attrgetter(name), learners))
    # An action read as Add or Delete (RecordAction, a str) is plain text by definition: left out.
    texts += [action for action in map(attrgetter("action"), completions)
              if action and action.__class__ is not RecordAction and isinstance(action, str)]
    texts += [part.board_id for completion in completions for part in completion.boards if part.board_id]
    credit_ids = list(filter(None, map(attrgetter("credit_id"), completions)))
    try:
        return (max(map(len, credit_ids), default=0) <= CREDIT_ID_MAX_LENGTH
                and max(map(len, texts), default=0) <= SHORT_TEXT_MAX_LENGTH
                and refused_character(" ".join(texts) + " " + " ".join(credit_ids)) is None)
    except TypeError:  # a value that is not text: the record-by-record look says what it says of it
        return False


def _plain_content_texts(completion: Completion) -> bool:
    """_plainly_clean for the other texts (activity, dates, state, amounts, boards, credit types):
    all of them are part of _content_key, so a batch decides this once per combination."""
    texts = [completion.learner.licensing_state, completion.activity_id]
    for value in (completion.completion_date, completion.cme.credits if completion.cme is not None else None):
        if isinstance(value, str):
            texts.append(value)
    for part in completion.boards:
        texts += (part.board, *part.credit_types, *part.repeated_types)
        if isinstance(part.points, str):
            texts.append(part.points)
        texts += [amount for amount in part.credit_types.values() if isinstance(amount, str)]
    present = [text for text in texts if text]
    return max(map(len, present), default=0) <= SHORT_TEXT_MAX_LENGTH and refused_character(" ".join(present)) is None


def _check_text(completion: Completion, found: _Findings) -> None:
    if completion.rems is None and _plainly_clean(completion):
        return
    _check_texts_one_by_one(completion, found)


def _check_texts_one_by_one(completion: Completion, found: _Findings) -> None:
    texts = _record_texts(completion)
    for field_name, text, longest in texts:
        issue = check_text(field_name, text, longest)
        if issue is not None:
            found.issues.append(issue)


def _activity_label(activity: Activity) -> str:
    return activity.activity_id or f"'{shown(activity.title)}'"


def validate(completion: Completion, activity: Activity | None, history: History, as_of: date) -> list[Issue]:
    """Every problem PARS would reject this record for (empty when it may be sent).

    `activity` is the record's activity (None when ParsDesk does not know it: 690); `history` holds the
    provider's earlier records; `as_of` is today's date (for future dates and deadlines)."""
    return _check(completion, activity, _Ledger(history), as_of)


def validate_batch(completions: Sequence[Completion], activities: Mapping[str, Activity],
                   history: History, as_of: date) -> list[list[Issue]]:
    """The issues of each record of a batch, in order, including duplicates within the batch.

    `activities` maps 9-digit activity IDs to activities. Each record is judged against the history
    plus the valid records before it in the batch; the caller's history is left untouched."""
    ledger = _Ledger(history)
    results: list[list[Issue]] = []
    # A batch repeats a few hundred combinations of activity, date, state, amounts, board and credit
    # type: the verdict on each combination is worked out once (see _content_key).
    verdicts: dict[tuple[object, ...], _ContentVerdict] = {}
    # Most learners appear once in a file and nowhere in the ledger: no earlier record can count
    # against them (710, 711, 717), and their own points need not be counted for later ones.
    learner_keys = [_learner_keys(completion) for completion in completions]
    shared = _shared_keys(learner_keys)
    plain_learners = _all_plain_learner_texts(completions)
    # Looked up once, not per record: the ledger adds to these very sets as the batch goes.
    activity_of, verdict_of, learners_so_far, used_credit_ids = (activities.get, verdicts.get, ledger.learners,
                                                                 ledger.used_credit_ids)
    add, delete = RecordAction.ADD, RecordAction.DELETE
    for completion, keys in zip(completions, learner_keys):
        activity = activity_of(_activity_key(completion.activity_id) or "")
        action = record_action(completion.action)
        key = _content_key(completion, activity)
        verdict = verdict_of(key)
        if verdict is None:
            verdict = verdicts[key] = _ContentVerdict(completion, activity, as_of)
        alone = keys is not None and keys.isdisjoint(shared) and keys.isdisjoint(learners_so_far)
        issues = _check(completion, activity, ledger, as_of, action, verdict, alone, plain_learners)
        results.append(issues)
        credit_id = (completion.credit_id or "").strip()
        if action is add and credit_id:
            # PARS never reuses a creditID, even one whose record it rejected.
            used_credit_ids.add(credit_id)
            if not issues and not alone:
                ledger.add(_prior(completion, verdict.prior_content(), True))
        elif action is delete and credit_id and not issues:
            ledger.remove(credit_id)
    return results


_UNREAD = object()


def _check(completion: Completion, activity: Activity | None, ledger: _Ledger, as_of: date,
           action: RecordAction | None | object = _UNREAD, verdict: _ContentVerdict | None = None,
           alone: bool = False, plain_learner: bool = False) -> list[Issue]:
    found = _Findings()
    if action is _UNREAD:
        action = record_action(completion.action)
    if action is None:
        raw_action = _text(completion.action)
        if raw_action:
            found.add(602, F_ACTION, f"Record action '{shown(raw_action)}' is not valid: use Add or Delete")
        else:
            found.add(601, F_ACTION, "Record action is missing: use Add or Delete")

    if verdict is None:
        _check_text(completion, found)
    elif not (completion.rems is None and verdict.plain_texts
              and (plain_learner or _plain_learner_texts(completion))):
        _check_texts_one_by_one(completion, found)

    credit_id = (completion.credit_id or "").strip()
    if not credit_id:
        # Only an Add or a Delete needs one; for another action (an "Update" row) 602 says it all.
        if action is not None:
            found.add(650, F_CREDIT_ID, "Credit ID is missing")

    if action is RecordAction.DELETE:
        _check_delete(completion, credit_id, ledger, as_of, found)
        return found.issues
    if action is RecordAction.ADD and credit_id and credit_id in ledger.used_credit_ids:
        found.add(603, F_CREDIT_ID, f"Credit ID {shown(credit_id, 80)} was already used by an earlier record; "
                                    "each Add needs a new credit ID")

    if verdict is None:
        _check_content(completion, activity, as_of, found, _EarlierRecords(ledger, completion))
    else:
        verdict.apply(completion, None if alone else ledger, found)
    return found.issues


@dataclass(frozen=True, slots=True)
class _EarlierQuestion:
    """What a board part asks of the earlier records (710, 711, 717), everything but the learner."""

    part: int  # index of the board part in the record
    code: str
    activity_id: str | None
    points: Decimal | None
    max_points: Decimal | None
    completed: date
    one_per_day: bool


class _ContentVerdict:
    """The issues of _check_content for one combination of content (see _content_key): those that do
    not depend on earlier records, with where (and what) to ask them; whether its texts are plainly
    clean; its PriorCompletion parts. It keeps the record and activity it judged, so that the
    objects whose id() is in the key stay alive (and their ids unique) while the batch is judged."""

    __slots__ = ("issues", "questions", "plain_texts", "_prior_content", "_record", "_activity")

    def __init__(self, completion: Completion, activity: Activity | None, as_of: date) -> None:
        found = _Findings()
        questions = _EarlierRecords(None, completion)
        _check_content(completion, activity, as_of, found, questions)
        self.issues = found.issues
        self.questions = questions.asked
        self.plain_texts = _plain_content_texts(completion)
        self._prior_content: tuple[str | None, date | None, tuple[tuple[str, Decimal], ...]] | None = None
        self._record = completion
        self._activity = activity

    def apply(self, completion: Completion, ledger: _Ledger | None, found: _Findings) -> None:
        """Add the issues to a record of this content, asking the ledger its questions in their places
        (None: the ledger holds nothing of this record's learner, so every answer is "nothing")."""
        if not self.questions or ledger is None:
            found.issues += self.issues
            return
        earlier = _EarlierRecords(ledger, completion)
        done = 0
        for position, question in self.questions:
            found.issues += self.issues[done:position]
            earlier.check(question, found)
            done = position
        found.issues += self.issues[done:]

    def prior_content(self) -> tuple[str | None, date | None, tuple[tuple[str, Decimal], ...]]:
        if self._prior_content is None:
            self._prior_content = _prior_content(self._record)
        return self._prior_content


class _EarlierRecords:
    """Answers a record's questions about earlier records (its learner's points and days so far)."""

    def __init__(self, ledger: _Ledger | None, completion: Completion) -> None:
        self.ledger = ledger
        self.completion = completion
        self.name_key: str | None = None
        self.asked: list[tuple[int, _EarlierQuestion]] = []

    def ask(self, question: _EarlierQuestion, found: _Findings) -> None:
        if self.ledger is None:  # working out a verdict to reuse: note where the answer goes
            self.asked.append((len(found.issues), question))
        else:
            self.check(question, found)

    def check(self, question: _EarlierQuestion, found: _Findings) -> None:
        ledger = self.ledger
        assert ledger is not None
        learner = self.completion.learner
        if self.name_key is None:
            self.name_key = learner_key(learner)
        code, activity_id, points, max_points = (question.code, question.activity_id, question.points,
                                                 question.max_points)
        board_id = _text(self.completion.boards[question.part].board_id)
        keys = {self.name_key, _board_learner_key(learner, code, board_id)}
        earlier = ledger.points(activity_id, keys, code) if max_points is not None else _ZERO
        # With no earlier points, exceeding the maximum is 674 alone.
        if points is not None and max_points is not None and earlier > 0:
            if earlier >= max_points:
                found.add(710, F_BOARD_POINTS,
                          f"The learner already has {_fmt(earlier)} of the {_fmt(max_points)} {code} points "
                          "this activity offers")
            elif earlier + points > max_points:
                found.add(711, F_BOARD_POINTS,
                          f"{_fmt(points)} more {code} points would bring the learner to "
                          f"{_fmt(earlier + points)}, above the {_fmt(max_points)} the activity offers "
                          f"({_fmt(max_points - earlier)} remain)")
        completed = question.completed
        if question.one_per_day and ledger.completed_on(activity_id, keys, completed, code):
            found.add(717, F_COMPLETION_DATE,
                      f"{code} allows one completion per activity per learner per day, and this learner "
                      f"already has one on {format_pars_date(completed)}")


def _same(value: object) -> object:
    """A value as part of a verdict's key: text by its content; anything else (a Decimal whose
    spelling "2.0" a message repeats, a date) as the very object, which the batch keeps alive."""
    return value if value.__class__ is str or value is None else id(value)


def _content_key(completion: Completion, activity: Activity | None) -> tuple[object, ...]:
    """Everything the content checks (_check_content, apart from the questions about earlier records)
    read from a record and its activity. Learner names and IDs enter only as the checks see them:
    present or not, a real birth date or not, a valid NPI or not. (Written out, not with _same and
    _text: a batch asks this for every record.)"""
    learner = completion.learner
    first, last, birth_date, license_id, state = (learner.first_name, learner.last_name, learner.birth_date,
                                                  learner.license_id, learner.licensing_state)
    birth_date = birth_date.strip() if birth_date.__class__ is str else _text(birth_date)
    license_id = license_id.strip() if license_id.__class__ is str else _text(license_id)
    activity_id, completed, cme, rems = (completion.activity_id, completion.completion_date, completion.cme,
                                         completion.rems)
    npi = credits = None
    if cme is not None:
        credits = cme.credits
        credits = credits if credits.__class__ is str or credits is None else id(credits)
        if license_id and (state.strip() if state.__class__ is str else _text(state)).upper() in _NPI_MARKERS:
            npi = is_valid_npi(license_id)
    key = [
        activity_id if activity_id.__class__ is str or activity_id is None else id(activity_id),
        id(activity),
        bool(first.strip() if first.__class__ is str else _text(first)),
        bool(last.strip() if last.__class__ is str else _text(last)),
        completed if completed.__class__ is str or completed is None else id(completed),
        bool(birth_date) and _is_real_birth_date(birth_date), bool(birth_date),
        bool(license_id), npi,
        state if state.__class__ is str or state is None else id(state),
        cme is None, credits,
        None if rems is None else (_same(rems.profession), _same(rems.state_of_practice),
                                   _same(rems.dea_registration), _same(rems.time_in_practice)),
    ]
    for part in completion.boards:
        board, board_id, points, credit_types, repeated_types = (part.board, part.board_id, part.points,
                                                                 part.credit_types, part.repeated_types)
        # The counts first, so that the names and amounts after them can be told apart.
        key += (
            board if board.__class__ is str or board is None else id(board),
            bool(board_id.strip() if board_id.__class__ is str else _text(board_id)),
            points if points.__class__ is str or points is None else id(points),
            len(credit_types), len(repeated_types),
        )
        for name, amount in credit_types.items():
            key += (name if name.__class__ is str or name is None else id(name),
                    amount if amount.__class__ is str or amount is None else id(amount))
        if repeated_types:
            key += map(_same, repeated_types)
    return tuple(key)


def _check_content(completion: Completion, activity: Activity | None, as_of: date, found: _Findings,
                   earlier: _EarlierRecords) -> None:
    """The checks after the action and the credit ID: activity, learner, dates, CME, REMS, boards."""
    activity_id = _activity_key(completion.activity_id)
    if activity_id is None:
        # An activity created in ParsDesk gets its ID when it is registered, before its learners go.
        if not (activity is not None and activity.activity_id is None):
            found.add(630, F_ACTIVITY_ID, "ACCME activity ID is missing")
    elif not _ACTIVITY_ID.fullmatch(activity_id):
        found.add(690, F_ACTIVITY_ID, f"Activity ID '{shown(activity_id)}' is not a 9-digit ACCME activity ID")
    elif activity is None:
        found.add(690, F_ACTIVITY_ID, f"Activity {activity_id} is not one of this provider's activities "
                                      "known to ParsDesk; check the ID or add the activity")

    learner = completion.learner
    if not _text(learner.first_name):
        found.add(622, F_FIRST_NAME, "First name is missing")
    if not _text(learner.last_name):
        found.add(623, F_LAST_NAME, "Last name is missing")

    completed = _completion_date(completion.completion_date, as_of, found)

    has_cme = completion.cme is not None
    has_rems = completion.rems is not None
    if not has_cme and not completion.boards and not has_rems:
        found.add(677, F_CME_CREDITS, "The record reports nothing: add CME credits, board points or REMS")

    _check_birth_date(completion, found)
    if has_cme:
        _check_cme(completion, activity, found)
    if has_rems:
        _check_rems(completion, activity, found)

    boards = _check_boards(completion, activity, activity_id, completed, earlier, found)

    if completed is not None:
        if activity is not None:
            if completed < activity.start_date:
                found.add(672, F_COMPLETION_DATE,
                          f"Completion date {format_pars_date(completed)} is before the activity's "
                          f"start date {format_pars_date(activity.start_date)}")
            # CME and REMS end with the activity; MOC may be claimed until the board's claim date.
            if (has_cme or has_rems or not completion.boards) and completed > activity.end_date:
                found.too_late(f"after the activity's end date {format_pars_date(activity.end_date)}")
        if found.late_reasons:
            found.add(671, F_COMPLETION_DATE, f"Completion date {format_pars_date(completed)} is "
                                              f"{' and '.join(found.late_reasons)}")
        _check_report_deadline(completed, has_cme or has_rems, boards, as_of, found)


def _completion_date(value: date | str | None, as_of: date, found: _Findings) -> date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        found.add(631, F_COMPLETION_DATE, "Completion date is missing")
        return None
    completed = parse_pars_date(value)
    if completed is None:
        found.add(671, F_COMPLETION_DATE, f"Completion date '{shown(_text(value))}' is not a real date in "
                                          "MM-DD-YYYY form")
        return None
    if completed > as_of:
        found.too_late(f"in the future (today is {format_pars_date(as_of)})")
    return completed


def _check_birth_date(completion: Completion, found: _Findings) -> None:
    needed_by: list[str] = []
    if completion.cme is not None and catalog.cme_rules().dob_required:
        needed_by.append("CME credit")
    for part in completion.boards:
        info = catalog.board(part.board)
        if info is not None and info.dob_required and info.code not in needed_by:
            needed_by.append(info.code)
    birth_date = _text(completion.learner.birth_date)
    if not birth_date:
        if needed_by:
            found.add(624, F_DOB, f"Date of birth (MM/DD) is required for {', '.join(needed_by)}")
    elif not _is_real_birth_date(birth_date):
        # The value itself is left out of the message: it is personal data.
        found.add(624, F_DOB, "Date of birth is not a real month and day: write it as MM/DD, e.g. 03/07")


def _check_cme(completion: Completion, activity: Activity | None, found: _Findings) -> None:
    learner = completion.learner
    license_id = _text(learner.license_id)
    state_text = _text(learner.licensing_state)
    if not license_id:
        found.add(621, F_LICENSE_ID, "A state license number or NPI is required for CME credit")
    if state_text.upper() in _NPI_MARKERS:
        if license_id and not is_valid_npi(license_id):
            found.add(712, F_LICENSE_ID, "Without a licensing state the ID must be a valid 10-digit NPI "
                                         "(its last digit is a check digit); this one is not")
    elif catalog.state_code(state_text) is None:
        found.add(712, F_STATE, f"Licensing state '{shown(state_text)}' is not a US state or territory")

    credits = _amount(completion.cme.credits if completion.cme else None, F_CME_CREDITS,
                      "Number of CME credits", found)
    if credits is None or activity is None:
        return
    offered = activity.cme_credits
    if offered is None or offered <= 0:
        found.add(674, F_CME_CREDITS, f"Activity {_activity_label(activity)} offers no AMA PRA Category 1 "
                                      f"credit, so {_fmt(credits)} CME credits cannot be reported")
    elif credits > offered:
        found.add(674, F_CME_CREDITS, f"CME credits {_fmt(credits)} exceed the {_fmt(offered)} credits the "
                                      "activity offers")


def _check_rems(completion: Completion, activity: Activity | None, found: _Findings) -> None:
    rems = completion.rems
    assert rems is not None
    if activity is not None and not activity.rems:
        found.add(713, F_REMS_PROFESSION, f"Activity {_activity_label(activity)} is not registered as a REMS "
                                          "activity, so REMS participation cannot be reported")
    profession = _text(rems.profession)
    if not profession:
        found.add(LOCAL_CHECK, F_REMS_PROFESSION, "REMS profession is required")
    elif catalog.rems_profession(profession) is None:
        found.add(LOCAL_CHECK, F_REMS_PROFESSION, f"REMS profession '{shown(profession)}' is not one of: "
                                                  f"{', '.join(catalog.rems_professions())}")
    state_text = _text(rems.state_of_practice)
    if state_text and catalog.state_code(state_text) is None:
        found.add(LOCAL_CHECK, F_REMS_STATE, f"State of practice '{shown(state_text)}' is not a US state or territory")
    dea = _text(rems.dea_registration)
    if dea and catalog.dea_registration(dea) is None:
        found.add(LOCAL_CHECK, F_REMS_DEA, f"DEA registration '{shown(dea)}' is not one of: "
                                           f"{', '.join(catalog.dea_registrations())}")
    years = _text(rems.time_in_practice)
    if years and catalog.time_in_practice(years) is None:
        found.add(LOCAL_CHECK, F_REMS_TIME_IN_PRACTICE, f"Time in practice '{shown(years)}' is not one of: "
                                                        f"{', '.join(catalog.time_in_practice_values())}")


def _check_boards(completion: Completion, activity: Activity | None, activity_id: str | None,
                  completed: date | None, earlier: _EarlierRecords, found: _Findings) -> list[BoardInfo]:
    """Checks each board part; returns the known boards of the record (for deadlines)."""
    known: list[BoardInfo] = []
    seen_codes: set[str] = set()
    for index, part in enumerate(completion.boards):
        board_text = _text(part.board)
        info = catalog.board(board_text)
        board_id = _text(part.board_id)
        if info is None:
            if not board_text:
                found.add(713, F_BOARD, "Certifying board is missing for the board points")
            else:
                found.add(713, F_BOARD, f"Certifying board '{shown(board_text)}' is not one of "
                                        f"{', '.join(catalog.board_codes())}")
                if board_id:
                    found.add(712, F_BOARD_ID, f"The board ID cannot be typed: board '{shown(board_text)}' "
                                               "does not exist")
            _amount(part.points, F_BOARD_POINTS, "Total board credits", found)
            continue
        code = info.code
        if code in seen_codes:
            found.add(678, F_BOARD, f"{code} appears twice in this record; report its points once")
            continue
        seen_codes.add(code)
        known.append(info)
        if not board_id and info.board_id_required:
            found.add(621, F_BOARD_ID, f"{code} requires the learner's board (diplomate) ID")
        points = _amount(part.points, F_BOARD_POINTS, f"{code} points", found)

        registration: BoardRegistration | None = None
        if activity is not None:
            registration = activity.board(code) or _registration_by_alias(activity, code)
            if not activity.boards:
                found.add(670, F_BOARD, f"Activity {_activity_label(activity)} is not registered for MOC "
                                        "with any board")
            elif registration is None:
                registered = ", ".join(reg.board for reg in activity.boards)
                found.add(670, F_BOARD, f"Activity {_activity_label(activity)} is not registered with "
                                        f"{code} for MOC (registered: {registered})")
        max_points = parse_amount(registration.max_points) if registration is not None else None
        if points is not None and max_points is not None and points > max_points:
            found.add(674, F_BOARD_POINTS, f"{code} points {_fmt(points)} exceed the {_fmt(max_points)} "
                                           "points the activity offers")
        _check_credit_types(part, info, registration, points, found)

        if completed is None:
            continue
        if info.earliest_completion is not None and completed < info.earliest_completion:
            found.add(705, F_COMPLETION_DATE,
                      f"{code} accepts completions from {format_pars_date(info.earliest_completion)} on; "
                      f"this one is {format_pars_date(completed)}")
        if registration is not None and registration.credit_claim_date is not None:
            if completed > registration.credit_claim_date:
                found.too_late(f"after the {code} credit claim date "
                               f"{format_pars_date(registration.credit_claim_date)}")
        elif activity is not None and completed > activity.end_date:
            found.too_late(f"after the activity's end date {format_pars_date(activity.end_date)}")

        if (points is not None and max_points is not None) or info.one_completion_per_day:
            earlier.ask(_EarlierQuestion(index, code, activity_id, points, max_points, completed,
                                         info.one_completion_per_day), found)
    return known


def _registration_by_alias(activity: Activity, code: str) -> BoardRegistration | None:
    for registration in activity.boards:
        if catalog.board_code(registration.board) == code:
            return registration
    return None


def _check_credit_types(part: BoardPart, info: BoardInfo, registration: BoardRegistration | None,
                        points: Decimal | None, found: _Findings) -> None:
    code = info.code
    registered = info.canonical_types(tuple(registration.credit_types)) if registration is not None else None
    if not part.credit_types:
        # PARS: at least one credit certificate (credit type) per board in a record.
        offered = ", ".join(registered) if registered else ", ".join(info.credit_types)
        found.add(677, F_CREDIT_TYPE, f"Choose the {code} credit type: the record has none "
                                      f"({'the activity offers' if registered else 'valid'}: {offered})")
        return
    for repeated in part.repeated_types:
        found.add(678, F_CREDIT_TYPE, f"Credit type '{shown(repeated)}' appears twice in this record; "
                                      "report it once with its whole amount")
    seen: set[str] = set()
    for name, amount in part.credit_types.items():
        written = _text(name)
        canonical = info.credit_type(written) if written else None
        if canonical is None:
            if not written:
                found.add(676, F_CREDIT_TYPE, f"A {code} credit type is blank")
            elif info.is_retired(written):
                found.add(676, F_CREDIT_TYPE, f"{code} no longer accepts credit type '{shown(written)}'")
            else:
                found.add(676, F_CREDIT_TYPE, f"'{shown(written)}' is not a {code} credit type (valid: "
                                              f"{', '.join(info.credit_types)})")
        else:
            if canonical in seen:
                found.add(678, F_CREDIT_TYPE, f"Credit type '{canonical}' appears twice in this record")
            seen.add(canonical)
            if registered is not None and canonical not in registered:
                offered = ", ".join(registered) or "none"
                if info.is_patient_safety(canonical):
                    found.add(680, F_CREDIT_TYPE, f"The activity is not registered for {code} "
                                                  f"'{canonical}' credit (registered: {offered})")
                elif info.is_practice_assessment(canonical):
                    found.add(681, F_CREDIT_TYPE, f"The activity is not registered for {code} "
                                                  f"'{canonical}' credit (registered: {offered})")
                else:
                    found.add(676, F_CREDIT_TYPE, f"The activity is not registered for {code} credit type "
                                                  f"'{canonical}' (registered: {offered})")
        # An empty amount means the whole board total.
        value = _amount(amount, F_CREDIT_TYPE_AMOUNT, f"{code} '{shown(written)}' credits", found, missing_code=None)
        if value is not None and points is not None and value > points:
            found.add(674, F_CREDIT_TYPE_AMOUNT, f"{code} '{shown(written)}' credits {_fmt(value)} exceed the "
                                                 f"{code} total of {_fmt(points)} points")


def _check_report_deadline(completed: date, has_cme_or_rems: bool, boards: list[BoardInfo], as_of: date,
                           found: _Findings) -> None:
    deadlines = _report_deadlines(completed.year, has_cme_or_rems or not boards,
                                  tuple(info.code for info in boards))
    for deadline, names in deadlines:
        if as_of > deadline:
            found.add(705, F_COMPLETION_DATE,
                      f"{' and '.join(names)} no longer accept{'s' if len(names) == 1 else ''} "
                      f"{completed.year} completions: the reporting deadline was {format_pars_date(deadline)}")


@lru_cache(maxsize=256)
def _report_deadlines(year: int, with_cme: bool, board_codes: tuple[str, ...]
                      ) -> tuple[tuple[date, tuple[str, ...]], ...]:
    """The reporting deadlines for a completion year, each with the programs it applies to (memoised:
    a batch asks the same question for most of its records)."""
    programs: dict[date, list[str]] = {}
    if with_cme:
        programs.setdefault(catalog.cme_rules().report_deadline.for_year(year), []).append("PARS")
    for code in board_codes:
        info = catalog.board(code)
        if info is not None:
            programs.setdefault(info.report_deadline.for_year(year), []).append(code)
    return tuple((deadline, tuple(names)) for deadline, names in sorted(programs.items()))


@lru_cache(maxsize=2048)
def _is_real_birth_date(text: str) -> bool:
    return normalize_birth_date(text) is not None


def _check_delete(completion: Completion, credit_id: str, ledger: _Ledger, as_of: date,
                  found: _Findings) -> None:
    original = ledger.sent.get(credit_id) if credit_id else None
    if credit_id and (original is None or credit_id in ledger.deleted):
        found.add(605, F_CREDIT_ID, f"No sent record has credit ID {shown(credit_id, 80)}, so there is nothing to delete")
    elif original is not None:
        differing = _differing_fields(completion, original)
        if differing:
            found.add(605, F_CREDIT_ID, "A delete must repeat the record exactly as it was sent; these fields "
                                        f"differ: {', '.join(differing)}")
    source = original if original is not None else completion
    completed = parse_pars_date(completion.completion_date) or parse_pars_date(source.completion_date)
    if completed is None:
        return
    deadlines: list[Deadline] = []
    if source.cme is not None or source.rems is not None or not source.boards:
        deadlines.append(catalog.cme_rules().delete_deadline)
    for part in source.boards:
        info = catalog.board(part.board)
        if info is not None:
            deadlines.append(info.delete_deadline)
    closing = min(deadline.for_year(completed.year) for deadline in deadlines) if deadlines else None
    if closing is not None and as_of > closing:
        found.add(706, F_COMPLETION_DATE, f"Deletes of {completed.year} completions closed on "
                                          f"{format_pars_date(closing)}")


def _differing_fields(delete: Completion, original: Completion) -> list[str]:
    """The fields (by name, never value) in which a delete differs from the record as sent."""
    mine, theirs = _comparable(delete), _comparable(original)
    return [name for name in mine if mine[name] != theirs[name]]


def _explicit_amount(amount: object, points: Decimal | None) -> Decimal | str | None:
    # A credit type's empty amount means the board total, so "" and the total compare equal.
    value = parse_amount(amount) if _text(amount) else None
    return None if value is None or value == points else value


def _comparable(completion: Completion) -> dict[str, object]:
    learner = completion.learner
    birth = _text(learner.birth_date)
    state_text = _text(learner.licensing_state)
    boards: dict[str, tuple[str, Decimal | str | None, frozenset[tuple[str, Decimal | str | None]]]] = {}
    for part in completion.boards:
        code = catalog.board_code(part.board) or _text(part.board).upper()
        points = parse_amount(part.points)
        info = catalog.board(code)
        types = frozenset(
            ((info.credit_type(_text(name)) if info else None) or _text(name).casefold(),
             _explicit_amount(amount, points))
            for name, amount in part.credit_types.items()
        )
        boards[code] = (_text(part.board_id).upper(), points, types)
    return {
        F_ACTIVITY_ID: _activity_key(completion.activity_id),
        F_COMPLETION_DATE: parse_pars_date(completion.completion_date) or _text(completion.completion_date),
        F_FIRST_NAME: _text(learner.first_name).casefold(),
        F_LAST_NAME: _text(learner.last_name).casefold(),
        F_DOB: normalize_birth_date(birth) or birth,
        F_STATE: catalog.state_code(state_text) or state_text.upper(),
        F_LICENSE_ID: _text(learner.license_id).upper(),
        F_CME_CREDITS: parse_amount(completion.cme.credits) if completion.cme is not None else None,
        F_BOARD: {code: value[0] for code, value in boards.items()},
        F_BOARD_POINTS: {code: value[1] for code, value in boards.items()},
        F_CREDIT_TYPE: {code: value[2] for code, value in boards.items()},
        F_REMS_PROFESSION: _text(completion.rems.profession).casefold() if completion.rems else None,
    }


# Activities -----------------------------------------------------------------------------------------

def validate_activity(activity: Activity) -> list[Issue]:
    """Problems with an activity as entered in the activity dialog or imported from JSON."""
    found = _Findings()
    if not activity.title or not activity.title.strip():
        found.add(LOCAL_CHECK, A_TITLE, "Title is required")
    for field_name, text, longest in ((A_TITLE, activity.title, ACTIVITY_TITLE_MAX_LENGTH),
                                      (A_ACTIVITY_ID, activity.activity_id, SHORT_TEXT_MAX_LENGTH),
                                      (A_ACTIVITY_TYPE, activity.activity_type, SHORT_TEXT_MAX_LENGTH)):
        issue = check_text(field_name, text if isinstance(text, str) else None, longest)
        if issue is not None:
            found.issues.append(issue)
    if activity.activity_id is not None and not _ACTIVITY_ID.fullmatch(activity.activity_id.strip()):
        found.add(690, A_ACTIVITY_ID, f"Activity ID '{shown(activity.activity_id)}' is not a 9-digit ACCME "
                                      "activity ID (leave it empty until PARS assigns one)")
    activity_type = _text(activity.activity_type)
    if not activity_type:
        found.add(LOCAL_CHECK, A_ACTIVITY_TYPE, "Activity type is required")
    elif catalog.activity_type(activity_type) is None:
        found.add(LOCAL_CHECK, A_ACTIVITY_TYPE, f"Activity type '{shown(activity_type)}' is not one of: "
                                                f"{', '.join(catalog.activity_types())}")
    # An imported activity may lack its dates; say so instead of failing on the comparison.
    if activity.start_date is None:
        found.add(LOCAL_CHECK, A_START_DATE, "Start date is required")
    if activity.end_date is None:
        found.add(LOCAL_CHECK, A_END_DATE, "End date is required")
    elif activity.start_date is not None and activity.end_date < activity.start_date:
        found.add(LOCAL_CHECK, A_END_DATE, f"End date {format_pars_date(activity.end_date)} is before the "
                                           f"start date {format_pars_date(activity.start_date)}")
    if activity.cme_credits is not None:
        credits = parse_amount(activity.cme_credits)
        if credits is None or credits < 0 or credits > MAX_AMOUNT:
            found.add(LOCAL_CHECK, A_CME_CREDITS, f"AMA PRA Category 1 credits must be from 0 to "
                                                  f"{_fmt(MAX_AMOUNT)}, not {shown(activity.cme_credits)}")
        elif not is_quarter_step(credits):
            found.add(675, A_CME_CREDITS, f"AMA PRA Category 1 credits {_fmt(credits)} are not in steps of 0.25")

    seen: set[str] = set()
    for registration in activity.boards:
        info = catalog.board(registration.board)
        if info is None:
            found.add(713, A_BOARD, f"Certifying board '{shown(registration.board)}' is not one of "
                                    f"{', '.join(catalog.board_codes())}")
            continue
        code = info.code
        if code in seen:
            found.add(LOCAL_CHECK, A_BOARD, f"{code} is registered twice for this activity")
            continue
        seen.add(code)
        points = parse_amount(registration.max_points)
        if points is None or points <= 0 or points > MAX_AMOUNT:
            found.add(673, A_MOC_POINTS, f"{code} MOC points must be more than 0 and at most "
                                         f"{_fmt(MAX_AMOUNT)}, not {shown(registration.max_points)}")
        elif not is_quarter_step(points):
            found.add(675, A_MOC_POINTS, f"{code} MOC points {_fmt(points)} are not in steps of 0.25")
        if not registration.credit_types:
            found.add(676, A_CREDIT_TYPES, f"{code} needs at least one credit type (valid: "
                                           f"{', '.join(info.credit_types)})")
        types_seen: set[str] = set()
        for name in registration.credit_types:
            canonical = info.credit_type(name)
            if canonical is None:
                reason = "is no longer accepted by" if info.is_retired(name) else "is not a credit type of"
                found.add(676, A_CREDIT_TYPES, f"'{shown(name)}' {reason} {code} (valid: {', '.join(info.credit_types)})")
            elif canonical in types_seen:
                found.add(678, A_CREDIT_TYPES, f"{code} credit type '{canonical}' is listed twice")
            else:
                types_seen.add(canonical)
        claim = registration.credit_claim_date
        if claim is not None and activity.start_date is not None and claim < activity.start_date:
            found.add(LOCAL_CHECK, A_CREDIT_CLAIM_DATE,
                      f"{code} credit claim date {format_pars_date(claim)} is before the start date "
                      f"{format_pars_date(activity.start_date)}")
    return found.issues


# Memoised deadlines and board codes come from the catalogue: drop them when it is reloaded.
catalog.on_reload(_report_deadlines.cache_clear)
catalog.on_reload(_board_code.cache_clear)


def record_key(completion: Completion) -> tuple[object, ...]:
    """A hashable form of the fields a delete must repeat (the same comparison as 605's): two records
    with equal keys are the same completion. Batch upload uses it to find the record an Excel Delete
    row deletes and to recognise a re-uploaded row that is already stored."""
    # The per-board maps are the only unhashable values (their own values are hashable already).
    return tuple(
        tuple(sorted(value.items())) if isinstance(value, dict) else value
        for value in _comparable(completion).values()
    )
