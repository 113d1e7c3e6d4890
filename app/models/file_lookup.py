"""What a batch file's rows look for in the store, and which stored records bear on the file.

`import` reads the store through SQLAlchemy (app/services/batch_import) and `check --db` through
sqlite3 (app/models/sqlite_view); both must weigh a row against the same earlier records, or the
check and the import would disagree. So the keys, and the test of whether a stored record can
matter to the file, live here once. No SQLAlchemy is imported: `check --db` must not load it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from app.pars.values import parse_pars_date

if TYPE_CHECKING:
    from app.pars.batch import BatchFile
    from app.pars.domain import Completion

CHUNK = 900  # ids per IN (...): well under every engine's parameter limit


def chunks(values: list) -> Iterator[list]:  # noqa: ANN001 - any sorted list
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


def text_key(value: object) -> str:
    """How a stored ID or name is compared with the file's: trimmed and case-folded."""
    return str(value or "").strip().casefold()


@dataclass(frozen=True)
class FileKeys:
    """The file's activity IDs, learner names, board IDs, creditIDs and (activity, name, date) rows."""

    completions: list[Completion]
    activity_ids: list[str]  # sorted
    names: frozenset[tuple[str, str]]  # (last, first)
    board_ids: frozenset[str]
    credit_ids: frozenset[str]
    row_keys: frozenset[tuple[str, str, str, date | None]]

    @classmethod
    def of(cls, batch: BatchFile) -> FileKeys:
        completions = [record.completion for record in batch.records]
        return cls(
            completions=completions,
            activity_ids=sorted({text_key(c.activity_id) for c in completions if c.activity_id}),
            names=frozenset((text_key(c.learner.last_name), text_key(c.learner.first_name)) for c in completions),
            board_ids=frozenset(text_key(b.board_id) for c in completions for b in c.boards if b.board_id),
            credit_ids=frozenset(c.credit_id.strip() for c in completions if c.credit_id and c.credit_id.strip()),
            row_keys=frozenset(
                (text_key(c.activity_id), text_key(c.learner.last_name), text_key(c.learner.first_name),
                 parse_pars_date(c.completion_date))
                for c in completions
            ),
        )

    def is_candidate(self, credit_id: str | None, accme_id: object, last_name: object, first_name: object,
                     completed: date | None) -> bool:
        """A stored record the file may repeat or delete: one of its creditIDs, or one of its rows."""
        return credit_id in self.credit_ids or (
            text_key(accme_id), text_key(last_name), text_key(first_name), completed) in self.row_keys

    def bears_on_file(self, candidate: bool, last_name: object, first_name: object,
                      record_board_ids: Iterable[object]) -> bool:
        """Whether validation must weigh a stored record: a candidate, or one of the file's learners
        (recognised by name or by a board ID)."""
        return (
            candidate
            or (text_key(last_name), text_key(first_name)) in self.names
            or any(text_key(board_id) in self.board_ids for board_id in record_board_ids)
        )
