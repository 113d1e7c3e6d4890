"""The activities JSON file (docs/activities-json.md): a list of activities with their board registrations.

    [{"activity_id": "123456789", "title": "...", "type": "Course",
      "start_date": "2026-01-01", "end_date": "2026-12-31", "cme_credits": "2",
      "rems": false, "state_collaboration": false,
      "boards": [{"board": "ABIM", "max_points": "2", "credit_types": ["Medical Knowledge"],
                  "credit_claim_date": "2027-01-31"}]}]

Reading is strict: any problem raises ActivitiesFileError naming the item index and field, because a
wrong activity silently changes every verdict `parsdesk check` gives.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from app.pars.domain import Activity, BoardRegistration
from app.pars.values import parse_amount

MAX_FILE_BYTES = 20 * 1024 * 1024


class ActivitiesFileError(ValueError):
    """The activities file is unusable; str() is one line naming the item and field."""


def _where(index: int, field: str) -> str:
    return f"activity #{index + 1}, field '{field}'"


def _string(item: dict[str, Any], key: str, index: int) -> str:
    """A required text field (a number is taken as its digits, e.g. an activity ID)."""
    value = item.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ActivitiesFileError(f"{_where(index, key)}: missing")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ActivitiesFileError(f"{_where(index, key)}: expected text, got {type(value).__name__}")
    return value.strip()


def _optional_date(value: Any, where: str) -> date | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ActivitiesFileError(f"{where}: expected an ISO date text like 2026-03-14")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ActivitiesFileError(f"{where}: '{value}' is not an ISO date (YYYY-MM-DD)") from None


def _date(value: Any, where: str) -> date:
    parsed = _optional_date(value, where)
    if parsed is None:
        raise ActivitiesFileError(f"{where}: missing")
    return parsed


def _optional_decimal(value: Any, where: str) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ActivitiesFileError(f"{where}: expected a number")
    amount = parse_amount(value)
    if amount is None or amount < 0:
        raise ActivitiesFileError(f"{where}: '{value}' is not a non-negative number")
    return amount


def _decimal(value: Any, where: str) -> Decimal:
    amount = _optional_decimal(value, where)
    if amount is None:
        raise ActivitiesFileError(f"{where}: missing")
    return amount


def _bool(item: dict[str, Any], key: str, index: int) -> bool:
    value = item.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ActivitiesFileError(f"{_where(index, key)}: expected true or false")
    return value


def _board(value: Any, index: int, board_index: int) -> BoardRegistration:
    prefix = f"activity #{index + 1}, boards[{board_index}]"
    if not isinstance(value, dict):
        raise ActivitiesFileError(f"{prefix}: expected an object")
    code = value.get("board")
    if not isinstance(code, str) or not code.strip():
        raise ActivitiesFileError(f"{prefix}, field 'board': missing")
    types = value.get("credit_types", [])
    if not isinstance(types, list) or not all(isinstance(t, str) and t.strip() for t in types):
        raise ActivitiesFileError(f"{prefix}, field 'credit_types': expected a list of names")
    return BoardRegistration(
        board=code.strip().upper(),
        max_points=_decimal(value.get("max_points"), f"{prefix}, field 'max_points'"),
        credit_types=tuple(t.strip() for t in types),
        credit_claim_date=_optional_date(value.get("credit_claim_date"), f"{prefix}, field 'credit_claim_date'"),
    )


def activity_from_json(item: Any, index: int = 0) -> Activity:
    if not isinstance(item, dict):
        raise ActivitiesFileError(f"activity #{index + 1}: expected an object")
    activity_id = _string(item, "activity_id", index)
    if not (len(activity_id) == 9 and activity_id.isdigit()):
        raise ActivitiesFileError(
            f"{_where(index, 'activity_id')}: '{activity_id}' is not a 9-digit ACCME activity ID"
        )
    start = _date(item.get("start_date"), _where(index, "start_date"))
    end = _date(item.get("end_date"), _where(index, "end_date"))
    if end < start:
        raise ActivitiesFileError(f"{_where(index, 'end_date')}: {end.isoformat()} is before the start date")
    boards_value = item.get("boards", [])
    if boards_value is None:
        boards_value = []
    if not isinstance(boards_value, list):
        raise ActivitiesFileError(f"{_where(index, 'boards')}: expected a list")
    boards = tuple(_board(value, index, position) for position, value in enumerate(boards_value))
    codes = [board.board for board in boards]
    if len(set(codes)) != len(codes):
        raise ActivitiesFileError(f"{_where(index, 'boards')}: a board is listed twice")
    return Activity(
        activity_id=activity_id,
        title=_string(item, "title", index),
        activity_type=_string(item, "type", index),
        start_date=start,
        end_date=end,
        cme_credits=_optional_decimal(item.get("cme_credits"), _where(index, "cme_credits")),
        boards=boards,
        rems=_bool(item, "rems", index),
        state_collaboration=_bool(item, "state_collaboration", index),
    )


def parse_activities(data: bytes | str) -> list[Activity]:
    try:
        items = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ActivitiesFileError(f"not valid JSON: {exc}") from None
    if isinstance(items, dict) and isinstance(items.get("activities"), list):
        items = items["activities"]  # also accept {"activities": [...]}
    if not isinstance(items, list):
        raise ActivitiesFileError("expected a JSON list of activities")
    activities = [activity_from_json(item, index) for index, item in enumerate(items)]
    seen: set[str | None] = set()
    for index, activity in enumerate(activities):
        if activity.activity_id in seen:
            raise ActivitiesFileError(f"{_where(index, 'activity_id')}: {activity.activity_id} is listed twice")
        seen.add(activity.activity_id)
    return activities


def read_activities(path: Path | str) -> list[Activity]:
    """Activities from a JSON file; ActivitiesFileError (one line, with the file name) on any problem."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ActivitiesFileError(f"{path.name}: larger than {MAX_FILE_BYTES // 1_048_576} MB")
        data = path.read_bytes()
    except OSError as exc:
        raise ActivitiesFileError(f"{path.name}: cannot be read ({exc.strerror or exc})") from None
    try:
        return parse_activities(data)
    except ActivitiesFileError as exc:
        raise ActivitiesFileError(f"{path.name}: {exc}") from None


def _amount_json(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def activity_to_json(activity: Activity) -> dict[str, Any]:
    return {
        "activity_id": activity.activity_id,
        "title": activity.title,
        "type": activity.activity_type,
        "start_date": activity.start_date.isoformat(),
        "end_date": activity.end_date.isoformat(),
        "cme_credits": _amount_json(activity.cme_credits),
        "rems": activity.rems,
        "state_collaboration": activity.state_collaboration,
        "boards": [
            {
                "board": board.board,
                "max_points": _amount_json(board.max_points),
                "credit_types": list(board.credit_types),
                "credit_claim_date": board.credit_claim_date.isoformat() if board.credit_claim_date else None,
            }
            for board in activity.boards
        ],
    }


def write_activities(path: Path | str, activities: list[Activity]) -> None:
    text = json.dumps([activity_to_json(a) for a in activities], indent=2, ensure_ascii=False)
    Path(path).write_text(text + "\n", encoding="utf-8")
