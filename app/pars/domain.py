"""The PARS domain in plain values: activities, learners, completions and validation issues.

These classes carry no Qt and no ORM. Everything that produces a learner record (the entry form, an
Excel row, an XML ActivityReport, a row of the store) turns it into a `Completion`, so that
`app.pars.validation` can give the same verdict to all of them.

Values a reader could not parse are kept as the original text (`str`) instead of being dropped, so
validation can say precisely what was wrong with them (e.g. 671 for a completion date "13-45-2026").
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


class RecordAction(enum.StrEnum):
    ADD = "Add"
    DELETE = "Delete"


class Status(enum.StrEnum):
    """Where a learner record stands. PARS's own statuses plus the local ones before sending."""

    DRAFT = "Draft"  # kept locally: no permission to report, or not yet valid
    QUEUED = "Queued"  # waiting in the outbox for the next sync
    SUBMITTED = "Submitted"  # PARS took it and sent it to the board(s)
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"  # by PARS validation (code) or by a board (message)
    DELETE_QUEUED = "Delete Queued"  # a delete waiting in the outbox
    DELETE_SUBMITTED = "Delete Submitted"  # PARS passed the delete to the board
    DELETED = "Deleted"
    # The upload-file route (no web services): the record went out in a PARS upload file and PARS's
    # results for that file are not in yet.
    UPLOADED = "Uploaded by file"
    DELETE_UPLOADED = "Delete uploaded by file"

    @property
    def is_final(self) -> bool:
        return self in (Status.ACCEPTED, Status.REJECTED, Status.DELETED)


# Field names used in Issue.field; the Excel headers double as the user-facing field names.
F_ACTION = "Record Action"
F_ACTIVITY_ID = "ACCME Activity ID"
F_COMPLETION_DATE = "Completion Date"
F_FIRST_NAME = "First Name"
F_LAST_NAME = "Last Name"
F_DOB = "Date of Birth"
F_STATE = "Licensing State"
F_LICENSE_ID = "Licensing ID or NPI"
F_CME_CREDITS = "Number of CME Credits"
F_BOARD = "Certifying Board"
F_BOARD_ID = "Certifying Board ID"
F_BOARD_POINTS = "Total Board Credits"
F_CREDIT_TYPE = "Credit Type"
F_CREDIT_TYPE_AMOUNT = "Credits Awarded for Credit Type"
F_CREDIT_ID = "Credit ID"
F_PERMISSION = "Permission to Report"
F_REMS_PROFESSION = "REMS Profession"


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem with a record: the PARS code, the field it concerns, and a specific message."""

    code: int
    field: str
    message: str


@dataclass(frozen=True, slots=True)
class BoardRegistration:
    """An activity's registration with one certifying board for MOC."""

    board: str  # board code, e.g. "ABIM"
    max_points: Decimal
    credit_types: tuple[str, ...]
    credit_claim_date: date | None = None


@dataclass(frozen=True, slots=True)
class Activity:
    activity_id: str | None  # 9-digit ACCME ID; None until PARS registered it
    title: str
    activity_type: str
    start_date: date
    end_date: date
    cme_credits: Decimal | None = None  # AMA PRA Category 1 credits offered
    boards: tuple[BoardRegistration, ...] = ()
    rems: bool = False
    state_collaboration: bool = False

    def board(self, code: str) -> BoardRegistration | None:
        code = code.upper()
        for registration in self.boards:
            if registration.board.upper() == code:
                return registration
        return None


@dataclass(slots=True)
class Learner:
    first_name: str | None = None
    last_name: str | None = None
    birth_date: str | None = None  # "MM/DD" as PARS asks; other text kept for validation to judge
    licensing_state: str | None = None  # 2-letter code when recognised, else the original text
    license_id: str | None = None  # state license number or NPI


@dataclass(slots=True)
class CmePart:
    """The 'Report for CME credit' part: AMA PRA Category 1 credit."""

    credits: Decimal | str | None


@dataclass(slots=True)
class BoardPart:
    """MOC points for one certifying board, split by credit type (each defaults to the total)."""

    board: str
    board_id: str | None = None
    points: Decimal | str | None = None
    credit_types: dict[str, Decimal | str | None] = field(default_factory=dict)
    # Credit types named again in the same record (Excel's Additional Credit Type, a second XML
    # CreditReceived): kept so that validation can say 678 instead of one silently replacing the other.
    repeated_types: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RemsPart:
    profession: str | None = None
    state_of_practice: str | None = None
    dea_registration: str | None = None  # Individual / Institutional / None
    practice_area: str | None = None
    performs_surgery: bool | None = None
    time_in_practice: str | None = None


@dataclass(slots=True)
class Completion:
    """One learner record as PARS sees it (an ActivityReport)."""

    action: RecordAction | str | None = RecordAction.ADD
    activity_id: str | None = None
    credit_id: str | None = None
    learner: Learner = field(default_factory=Learner)
    completion_date: date | str | None = None
    cme: CmePart | None = None
    boards: list[BoardPart] = field(default_factory=list)
    rems: RemsPart | None = None
    permission: bool = True  # the learner gave permission to report; without it nothing is sent


@dataclass(frozen=True, slots=True)
class PriorCompletion:
    """What an earlier record (stored or sent) tells validation: for 603, 605, 710, 711, 717."""

    credit_id: str
    activity_id: str | None
    learner_key: str
    completion_date: date | None
    board_points: tuple[tuple[str, Decimal], ...] = ()  # (board, points)
    counts: bool = True  # False once deleted or rejected: it no longer uses up points


@dataclass(slots=True)
class History:
    """Earlier records of the provider that a new record must be consistent with."""

    priors: list[PriorCompletion] = field(default_factory=list)
    # creditIDs ever used for an Add (also for rejected/deleted records: PARS never reuses one)
    used_credit_ids: set[str] = field(default_factory=set)
    # creditID -> the completion as originally sent, for deletes (605 when absent)
    sent: dict[str, Completion] = field(default_factory=dict)

    def add_prior(self, prior: PriorCompletion) -> None:
        self.priors.append(prior)
        self.used_credit_ids.add(prior.credit_id)


def learner_key(learner: Learner, board: BoardPart | None = None) -> str:
    """A stable identity for duplicate checks: board ID when there is one, else name and DOB."""
    if board is not None and board.board_id:
        return f"{board.board.upper()}#{board.board_id.strip().upper()}"
    parts = [
        (learner.first_name or "").strip().casefold(),
        (learner.last_name or "").strip().casefold(),
        (learner.birth_date or "").strip(),
        (learner.license_id or "").strip().upper(),
    ]
    return "|".join(parts)


def new_credit_id(provider_id: str) -> str:
    """A fresh creditID in PARS's `ccid:<provider>:<unique>` form (well under the 300-char limit)."""
    import uuid

    return f"ccid:{provider_id}:{uuid.uuid4().hex}"
