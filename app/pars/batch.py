"""A learner batch file (PARS Excel template or XML document) read into records ready for validation.

    batch = load_batch(path)          # BatchFileError (one line, for the user) when it cannot be read
    for record in batch.records:
        record.row, record.completion

`load_batch` picks the reader from the extension, then checks the content really is of that kind, so a
renamed file gets a precise message instead of a parser's traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from operator import attrgetter
from pathlib import Path

from app.pars.batch_limits import (  # noqa: F401 - re-exported: the names every reader and caller uses
    ACCEPTED_TYPES,
    MAX_RECORDS,
    BatchFileError,
    checked_batch_path,
    too_many_records_message,
)
from app.pars.domain import Completion, History, RecordAction

# Stands in for the provider in creditIDs that exist only while a file is being checked.
PROVISIONAL_PROVIDER = "check"


@dataclass(slots=True)
class BatchRecord:
    row: int  # sheet row number (xlsx) or 1-based ActivityReport index (xml)
    values: list[str]  # the record's cells as text, in `BatchFile.headers` order
    completion: Completion
    source: str | None = None  # XML: the ActivityReport as read (for a rejection file in the same format)


@dataclass(slots=True)
class BatchFile:
    format: str  # "xlsx" | "xml"
    headers: list[str]
    records: list[BatchRecord] = field(default_factory=list)


def load_batch(path: Path | str) -> BatchFile:
    """Read an .xlsx or .xml learner batch; raises BatchFileError with a one-line reason."""
    from app.pars.batch_reading import start_reading

    return start_reading(path).batch()


def completions_for_validation(
    records: Sequence[BatchRecord], history: History, *, match_deletes_by_content: bool = True
) -> list[Completion]:
    """The batch's completions as PARS will receive them, for judging the file before import.

    A record may leave Credit ID empty: an Add gets its creditID when ParsDesk queues it, so it is
    judged with a provisional one. An Excel Delete names its record by content, so (with
    `match_deletes_by_content`, i.e. for .xlsx) it takes the creditID of the earlier record sent with
    the same content, and stays without one when none matches; an XML Delete must carry its creditID.
    The records themselves are left as read.
    """
    from app.pars.matching import fingerprint

    sent_by_content: dict[object, str] = {}
    for credit_id, sent in history.sent.items():
        sent_by_content.setdefault(fingerprint(sent), credit_id)
    prepared: list[Completion] = []
    for record in records:
        completion = record.completion
        if not (completion.credit_id or "").strip():
            if completion.action is RecordAction.ADD:
                # Cheap and unique within the file; the "check" provider never occurs in a real creditID.
                completion = _with_credit_id(completion, f"ccid:{PROVISIONAL_PROVIDER}:row{record.row}")
            elif completion.action is RecordAction.DELETE and match_deletes_by_content:
                matched = sent_by_content.get(fingerprint(completion))
                if matched is not None:
                    completion = _with_credit_id(completion, matched)
        prepared.append(completion)
    return prepared


_COMPLETION_FIELDS = tuple(item.name for item in fields(Completion) if item.init)
_COMPLETION_VALUES = attrgetter(*_COMPLETION_FIELDS)
_CREDIT_ID_AT = _COMPLETION_FIELDS.index("credit_id")


def _with_credit_id(completion: Completion, credit_id: str) -> Completion:
    """dataclasses.replace(completion, credit_id=credit_id), without replace()'s look at the class's
    fields on every call (a batch asks it for each of its rows): the fields in order, positionally."""
    values = list(_COMPLETION_VALUES(completion))
    values[_CREDIT_ID_AT] = credit_id
    return Completion(*values)
