"""A learner batch file read in two steps, so that the workbook's parse overlaps the caller's other work.

    reading = start_reading(path)   # BatchFileError now for a wrong type or a refused container
    ...                             # meanwhile: imports, the catalogue, the activities file
    batch = reading.batch()         # the records (BatchFileError when the file cannot be used)

python-calamine parses a sheet (inflating it, its XML, its cells) without holding the interpreter lock;
only turning the parsed cells into Python lists needs it. So `start_reading` first checks the container
(xlsx_guard: nothing is parsed before its sizes are bounded), then parses the first sheet on a thread,
and `batch()` waits for it only after importing and loading what the records need. For `parsdesk check`
of 5,000 rows that hides most of the parse behind work it had to do anyway (bench/bench_check.py).

Kept light on purpose (no domain, no catalogue): everything imported here comes before the parse starts.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from app.pars import xlsx_guard
from app.pars.batch_limits import checked_batch_path

if TYPE_CHECKING:
    from app.pars.batch import BatchFile

# Zip-bomb guard (xlsx_guard.check_container): an honest 5,000-row template unpacks to a few MB.
MAX_UNCOMPRESSED_BYTES = xlsx_guard.MAX_UNCOMPRESSED_BYTES
MAX_COMPRESSION_RATIO = xlsx_guard.MAX_COMPRESSION_RATIO
RATIO_CHECK_MIN_BYTES = xlsx_guard.RATIO_CHECK_MIN_BYTES


def check_workbook_container(path: Path) -> None:
    """Refuse what is not a real .xlsx zip, a zip that would unpack to something enormous, and a
    workbook whose cells or strings would make the reader allocate without bound (xlsx_guard)."""
    xlsx_guard.check_container(path, MAX_UNCOMPRESSED_BYTES, MAX_COMPRESSION_RATIO, RATIO_CHECK_MIN_BYTES)


class SheetParse:
    """The sheets of a checked workbook, the first one parsed on a thread from `start` on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._workbook = None  # python_calamine.CalamineWorkbook once opened
        self._first_sheet = None  # its first CalamineSheet, parsed
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._parse_first_sheet, name="parsdesk-sheet-parse", daemon=True)

    @classmethod
    def start(cls, path: Path) -> SheetParse:
        """Check the container (BatchFileError), then start parsing the first sheet."""
        check_workbook_container(path)
        import python_calamine  # noqa: F401 - imported here, not by the thread, so no import runs in two threads

        parse = cls(path)
        parse._thread.start()
        return parse

    def _parse_first_sheet(self) -> None:
        from python_calamine import CalamineWorkbook

        try:
            self._workbook = CalamineWorkbook.from_path(str(self.path))
            if self._workbook.sheet_names:
                self._first_sheet = self._workbook.get_sheet_by_index(0)
        except BaseException as exc:  # noqa: BLE001 - CalamineError, OSError, pyo3's PanicException: the reader reports it
            self._failure = exc

    def wait(self) -> None:
        self._thread.join()

    def sheets(self) -> Iterator[list[list[object]]]:
        """The cells of each sheet in order, as python-calamine gives them (empty leading area kept).
        Raises what python-calamine raised; the caller turns it into a message."""
        self._thread.join()
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure
        if self._workbook is None or self._first_sheet is None:
            return
        first, self._first_sheet = self._first_sheet, None  # its cells are not kept twice
        yield first.to_python(skip_empty_area=False)
        for index in range(1, len(self._workbook.sheet_names)):
            yield self._workbook.get_sheet_by_index(index).to_python(skip_empty_area=False)


class BatchReading:
    """A batch file whose reading `start_reading` began; `batch()` finishes it."""

    def __init__(self, path: Path, parse: SheetParse | None) -> None:
        self.path = path
        self._parse = parse

    def batch(self) -> BatchFile:
        """The file's records; BatchFileError (one line, for the user) when it cannot be used."""
        if self._parse is None:
            from app.pars.xml_codec import read_xml_batch

            return read_xml_batch(self.path)
        from app.pars.excel import read_parsed_workbook

        return read_parsed_workbook(self._parse)

    def close(self) -> None:
        """Wait for a parse still running (a caller that gives up before `batch()`): the process must
        not end while python-calamine works on its thread."""
        if self._parse is not None:
            self._parse.wait()


def start_reading(path: Path | str) -> BatchReading:
    """Begin reading an .xlsx or .xml learner batch (see the module docstring)."""
    path = checked_batch_path(path)
    if path.suffix.lower() == ".xlsx":
        return BatchReading(path, SheetParse.start(path))
    return BatchReading(path, None)
