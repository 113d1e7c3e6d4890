"""Writing files that hold learner data: owner-only (0600) and all-or-nothing.

    with private_output(path) as handle:     # a binary file object
        workbook.save(handle)

The data goes to a new owner-only file beside `path` (created with O_EXCL, mode 0600 from its first
byte), which then replaces `path` in one rename. So an export, a rejection workbook or a download is
never readable by other users, a failed write never leaves half a file, and no existing file's mode is
ever changed: a file already at `path` is replaced by the new one, as the user asked. The folder must
exist; ParsDesk does not create folders for an output path.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

PRIVATE_MODE = 0o600


class OutputError(OSError):
    """The output file cannot be written: `.strerror` says why, str() is one sentence naming the path."""

    def __str__(self) -> str:
        return f"cannot write {self.filename}: {self.strerror}"


def _describe(exc: OSError) -> str:
    return exc.strerror or str(exc)


@contextmanager
def private_output(path: Path | str | BinaryIO) -> Iterator[BinaryIO]:
    if hasattr(path, "write"):  # a stream the caller owns (an HTTP answer, a buffer): written as it is
        yield path  # type: ignore[misc]
        return
    target = Path(path)  # type: ignore[arg-type]
    folder = target.parent
    if target.is_dir():
        raise OutputError(21, "it is a folder", str(target))
    if not folder.is_dir():
        raise OutputError(2, f"the folder {folder} does not exist", str(target))
    partial = folder / f".{target.name}.{secrets.token_hex(4)}.partial"
    try:
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    except OSError as exc:
        raise OutputError(exc.errno, _describe(exc), str(target)) from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
        os.replace(partial, target)
    except OSError as exc:
        if isinstance(exc, OutputError):
            raise
        raise OutputError(exc.errno, _describe(exc), str(target)) from None
    finally:
        if partial.exists():
            partial.unlink()
