"""A learner batch file (PARS Excel template or XML document) read into records ready for validation.

    batch = load_batch(path)          # BatchFileError (one line, for the user) when it cannot be read
    for record in batch.records:
        record.row, record.completion

`load_batch` picks the reader from the extension, then checks the content really is of that kind, so a
renamed file gets a precise message instead of a parser's traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

from app.pars.domain import Completion, History, RecordAction

# PARS: "providers have the option to upload a file with up to 5,000 learner records".
MAX_RECORDS = 5000
ACCEPTED_TYPES = (".xlsx", ".xml")
# Stands in for the provider in creditIDs that exist only while a file is being checked.
PROVISIONAL_PROVIDER = "check"


class BatchFileError(Exception):
    """The file cannot be read as a learner batch. str() is one line meant for the user."""


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


def too_many_records_message(count: int) -> str:
    return f"The file has {count:,} learner records; PARS accepts at most {MAX_RECORDS:,} per file."


def load_batch(path: Path | str) -> BatchFile:
    """Read an .xlsx or .xml learner batch; raises BatchFileError with a one-line reason."""
    path = _batch_path(path)
    if path.suffix.lower() == ".xlsx":
        from app.pars.excel import read_workbook

        return read_workbook(path)
    from app.pars.xml_codec import read_xml_batch

    return read_xml_batch(path)


def begin_loading(path: Path | str) -> Callable[[], BatchFile]:
    """`load_batch` in two steps, for a caller with other work to do meanwhile: the file is checked
    now (BatchFileError), and a workbook's sheet is parsed on a thread of its own (see
    excel.begin_reading_workbook); calling the function returned waits and gives the BatchFile."""
    path = _batch_path(path)
    if path.suffix.lower() == ".xlsx":
        from app.pars.excel import begin_reading_workbook

        return begin_reading_workbook(path)
    batch = load_batch(path)
    return lambda: batch


def _batch_path(path: Path | str) -> Path:
    """The path of a file that may be a batch: BatchFileError for a wrong type, a missing or empty file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in ACCEPTED_TYPES:
        shown = path.suffix or "no extension"
        raise BatchFileError(
            f"{path.name}: unsupported file type ({shown}); PARS learner batches are .xlsx or .xml files."
        )
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise BatchFileError(f"{path.name}: no such file.") from None
    except OSError as exc:
        raise BatchFileError(f"{path.name}: cannot be read ({exc.strerror or exc}).") from None
    if not path.is_file():
        raise BatchFileError(f"{path.name}: not a file.")
    if size == 0:
        raise BatchFileError(f"{path.name}: the file is empty.")
    return path


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


_COMPLETION_FIELDS = tuple(item.name for item in fields(Completion))


def _with_credit_id(completion: Completion, credit_id: str) -> Completion:
    """dataclasses.replace(completion, credit_id=credit_id), without replace()'s look at the class's
    fields on every call (a batch asks it for each of its rows)."""
    values = {name: getattr(completion, name) for name in _COMPLETION_FIELDS}
    values["credit_id"] = credit_id
    return Completion(**values)
