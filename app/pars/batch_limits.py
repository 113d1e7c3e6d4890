"""What a learner batch file must be before it is read: its type, that it exists and is not empty,
at most 5,000 records; BatchFileError with a one-line reason otherwise. Apart from app.pars.batch
(which re-exports all of it) so that the container guard (xlsx_guard) needs nothing of the domain."""

from __future__ import annotations

from pathlib import Path

# PARS: "providers have the option to upload a file with up to 5,000 learner records".
MAX_RECORDS = 5000
ACCEPTED_TYPES = (".xlsx", ".xml")


class BatchFileError(Exception):
    """The file cannot be read as a learner batch. str() is one line meant for the user."""


def too_many_records_message(count: int) -> str:
    return f"The file has {count:,} learner records; PARS accepts at most {MAX_RECORDS:,} per file."


def checked_batch_path(path: Path | str) -> Path:
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
