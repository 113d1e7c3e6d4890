"""When two learner records are "the same record" in PARS's eyes.

PARS matches an Excel Delete row to the record it deletes by content: "the same information as what
was entered into PARS originally, but with a record action of Delete". An XML Delete must carry the
original creditID *and* the same completion fields. The batch importer also uses this to recognise a
re-uploaded row that is already stored, so the same file uploaded twice creates no duplicates.

The fingerprint covers what identifies the completion: activity, learner identity, completion date,
CME credits and each board's part (board, diplomate ID, points, credit types). It leaves out the
creditID (Excel rows have none), the action, permission and REMS participant details.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from app.pars.domain import BoardPart, Completion
from app.pars.values import normalize_birth_date, parse_amount, parse_pars_date

Fingerprint = tuple[object, ...]


def _text(value: object) -> str:
    return " ".join(str(value or "").split()).casefold()


def _amount(value: Decimal | str | None) -> str:
    if value is None or value == "":
        return ""
    amount = parse_amount(value)
    return _text(value) if amount is None else format(amount.normalize(), "f")


def _date(value: date | str | None) -> str:
    if value is None or value == "":
        return ""
    parsed = parse_pars_date(value)
    return _text(value) if parsed is None else parsed.isoformat()


def _board(part: BoardPart) -> tuple[str, str, str, tuple[tuple[str, str], ...]]:
    points = _amount(part.points)
    # A credit type without its own amount gets the board total (PARS's default).
    types = tuple(
        sorted((_text(name), _amount(amount) or points) for name, amount in part.credit_types.items())
    )
    return (_text(part.board), _text(part.board_id), points, types)


def fingerprint(completion: Completion) -> Fingerprint:
    """A hashable summary that is equal for two records PARS would consider the same completion."""
    learner = completion.learner
    birth = learner.birth_date
    return (
        _text(completion.activity_id),
        _text(learner.first_name),
        _text(learner.last_name),
        _text(normalize_birth_date(birth) or birth),
        _text(learner.licensing_state),
        _text(learner.license_id),
        _date(completion.completion_date),
        None if completion.cme is None else _amount(completion.cme.credits),
        tuple(sorted(_board(part) for part in completion.boards)),
    )


def same_record(a: Completion, b: Completion) -> bool:
    return fingerprint(a) == fingerprint(b)
