"""What `parsdesk check --db` reads from a SQLite store, through the standard library's sqlite3.

A check needs little from the store: the registered activities and, for the file's learners, the
earlier records that validation weighs a row against (app/services/batch_import.history_for_batch
reads the same through SQLAlchemy for `import` and for the office database). Loading SQLAlchemy and
the ORM models costs more than the whole check of a 5,000-row file, so for a store *file* the same
statements are sent through sqlite3: the same index lookups, the same values decoded the way the
models' column types decode them, the same History (tests/test_check_store_view.py compares them).

    connection = open_store_file(path)            # StoreViewError: one line for the user
    activities = load_activities(connection)      # {accme_id: Activity}
    history = history_for_batch(connection, batch)

Nothing is written: the connection is `query_only`, and a read-only store will do.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from app.models import store_file
from app.models.file_lookup import FileKeys, chunks
from app.models.search_keys import id_key, name_key
from app.pars.domain import (
    Activity,
    BoardPart,
    BoardRegistration,
    CmePart,
    Completion,
    History,
    Learner,
    RemsPart,
    Status,
)

if TYPE_CHECKING:
    from app.pars.batch import BatchFile

# As app/services/history.py: records that no longer use up points, and records PARS never saw.
_NOT_COUNTING = frozenset({Status.REJECTED.value, Status.DELETED.value})
_NOT_SENT = frozenset({Status.DRAFT.value, Status.QUEUED.value})
_BUSY_TIMEOUT_MS = 10_000  # as the app's engine: wait for a desk that is writing, do not fail at once


class StoreViewError(Exception):
    """The store cannot be read; str() is one line for the user."""


def open_store_file(path: Path | str) -> sqlite3.Connection:
    """A read-only look at an existing ParsDesk store file (never created, never migrated or written)."""
    try:
        prepared = store_file.prepare(path, create=False, for_writing=False)
    except store_file.StoreFileError as exc:
        raise StoreViewError(str(exc)) from None
    try:
        connection = sqlite3.connect(str(prepared.path), timeout=_BUSY_TIMEOUT_MS / 1000)
        connection.execute("PRAGMA query_only = ON")
    except sqlite3.Error as exc:
        raise StoreViewError(f"{prepared.path} is not a usable ParsDesk store: {error_text(exc)}") from None
    return connection


def error_text(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# The column types' decoding (app/models/schema.py: Date, Boolean, DecimalText, JSON on SQLite).

def _date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _bool(value: int | None) -> bool | None:
    return None if value is None else bool(value)


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _json(value: str | None) -> object:
    return None if value is None else json.loads(value)


def _marks(values: list) -> str:  # noqa: ANN001
    return ", ".join("?" * len(values))


def load_activities(connection: sqlite3.Connection) -> dict[str, Activity]:
    """Every registered activity (one with an ACCME ID), keyed by its 9-digit ID (as
    app/services/history.load_domain_activities)."""
    rows = connection.execute(
        "SELECT id, accme_id, title, activity_type, start_date, end_date, cme_credits, rems, state_collaboration "
        "FROM activity WHERE accme_id IS NOT NULL"
    ).fetchall()
    boards: dict[int, list[BoardRegistration]] = defaultdict(list)
    ids = [row[0] for row in rows]
    for chunk in chunks(ids):
        for activity_id, board, max_points, credit_types, claim_date in connection.execute(
            "SELECT activity_id, board, max_points, credit_types, credit_claim_date FROM activity_board "
            f"WHERE activity_id IN ({_marks(chunk)}) ORDER BY board", chunk
        ):
            boards[activity_id].append(BoardRegistration(
                board=board,
                max_points=_decimal(max_points),
                credit_types=tuple(_json(credit_types) or ()),
                credit_claim_date=_date(claim_date),
            ))
    activities: dict[str, Activity] = {}
    for row_id, accme_id, title, activity_type, start, end, cme_credits, rems, state_collaboration in rows:
        if accme_id:
            activities[accme_id] = Activity(
                activity_id=accme_id,
                title=title,
                activity_type=activity_type,
                start_date=_date(start),
                end_date=_date(end),
                cme_credits=_decimal(cme_credits),
                boards=tuple(boards.get(row_id, ())),
                rems=_bool(rems),
                state_collaboration=_bool(state_collaboration),
            )
    return activities


def _candidate_ids(connection: sqlite3.Connection, activity_row_ids: list[int], completions: list[Completion],
                   credit_ids: set[str]) -> set[int]:
    """As batch_import._candidate_ids: the records of these activities with a folded name, a board
    ID or a creditID of the file, each found through its index (one seek per name pair through
    json_each, as app/models/bulk.key_pairs_join has SQLite do it)."""
    wanted_activities = set(activity_row_ids)
    names = sorted({(name_key(c.learner.last_name), name_key(c.learner.first_name)) for c in completions})
    board_keys = sorted({id_key(b.board_id) for c in completions for b in c.boards if b.board_id} - {""})
    found: set[int] = set()

    def keep(rows: Iterable[tuple[int, int]]) -> None:
        found.update(record_id for record_id, activity_id in rows if activity_id in wanted_activities)

    keep(connection.execute(
        "SELECT completion.id, completion.activity_id FROM completion JOIN json_each(?) AS wanted "
        "ON completion.last_key = json_extract(wanted.value, '$[0]') "
        "AND completion.first_key = json_extract(wanted.value, '$[1]')", (json.dumps(names),)))
    for chunk in chunks(board_keys):
        keep(connection.execute(
            "SELECT completion_board.completion_id, completion.activity_id FROM completion_board "
            "JOIN completion ON completion_board.completion_id = completion.id "
            f"WHERE completion_board.board_id_key IN ({_marks(chunk)})", chunk))
    for chunk in chunks(sorted(credit_ids)):
        keep(connection.execute(
            f"SELECT completion.id, completion.activity_id FROM completion WHERE completion.credit_id IN ({_marks(chunk)})",
            chunk))
    return found


def history_for_batch(connection: sqlite3.Connection, batch: BatchFile) -> History:
    """The History a check of this file needs (as batch_import.history_for_batch): priors of the
    file's learners in the file's activities, the file's creditIDs already used, and those records
    as sent, for deletes."""
    from app.pars.validation import prior_from_completion

    keys = FileKeys.of(batch)
    completions = keys.completions

    history = History()
    for chunk in chunks(sorted(keys.credit_ids)):
        history.used_credit_ids.update(credit_id for credit_id, in connection.execute(
            f"SELECT credit_id FROM completion WHERE credit_id IN ({_marks(chunk)})", chunk))
    if not keys.activity_ids:
        return history
    activity_row_ids = [row_id for row_id, in connection.execute(
        f"SELECT id FROM activity WHERE accme_id IN ({_marks(keys.activity_ids)})", keys.activity_ids)]
    candidate_ids = sorted(_candidate_ids(connection, activity_row_ids, completions, set(keys.credit_ids)))
    boards: dict[int, list[BoardPart]] = defaultdict(list)
    for chunk in chunks(candidate_ids):
        for completion_id, board, board_id, points, credit_types in connection.execute(
            "SELECT completion_id, board, board_id, points, credit_types FROM completion_board "
            f"WHERE completion_id IN ({_marks(chunk)}) ORDER BY id", chunk
        ):
            boards[completion_id].append(BoardPart(
                board, board_id, _decimal(points), {k: Decimal(v) for k, v in (_json(credit_types) or {}).items()}
            ))
    for chunk in chunks(candidate_ids):
        for (record_id, credit_id, status, completion_date, report_cme, cme_credits, accme_id, first_name,
             last_name, birth_date, licensing_state, license_id, profession, state_of_practice,
             dea_registration, practice_area, performs_surgery, time_in_practice) in connection.execute(
            "SELECT completion.id, completion.credit_id, completion.status, completion.completion_date, "
            "completion.report_cme, completion.cme_credits, activity.accme_id, completion.first_name, "
            "completion.last_name, completion.birth_date, completion.licensing_state, completion.license_id, "
            "completion_rems.profession, completion_rems.state_of_practice, completion_rems.dea_registration, "
            "completion_rems.practice_area, completion_rems.performs_surgery, completion_rems.time_in_practice "
            "FROM completion JOIN activity ON completion.activity_id = activity.id "
            "LEFT OUTER JOIN completion_rems ON completion_rems.completion_id = completion.id "
            f"WHERE completion.id IN ({_marks(chunk)})", chunk
        ):
            parts = boards.get(record_id, ())
            completed = _date(completion_date)
            candidate = keys.is_candidate(credit_id, accme_id, last_name, first_name, completed)
            if not keys.bears_on_file(candidate, last_name, first_name, (b.board_id for b in parts)):
                continue  # another learner: cannot bear on this file
            completion = Completion(
                activity_id=accme_id,
                credit_id=credit_id,
                learner=Learner(first_name, last_name, birth_date, licensing_state, license_id),
                completion_date=completed,
                cme=CmePart(_decimal(cme_credits)) if report_cme else None,
                boards=list(parts),
                rems=RemsPart(profession, state_of_practice, dea_registration, practice_area,
                              _bool(performs_surgery), time_in_practice) if profession is not None else None,
            )
            history.add_prior(prior_from_completion(completion, counts=status not in _NOT_COUNTING))
            if status not in _NOT_SENT:
                history.sent[credit_id] = completion
    return history
