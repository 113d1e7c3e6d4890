"""Reading a learner workbook, first steps, kept light so that a command can take them before it
loads the rest of ParsDesk: the container is checked (xlsx_guard: sizes, zip bombs, cell positions,
before python-calamine sees anything), then python-calamine parses the first sheet on a thread of
its own. It does so without holding the GIL, so the command gets its other work done meanwhile
(`parsdesk check` reads its activities file and loads its modules and the catalogue).

    started = start_reading(path)                       # BatchFileError: refused or not a workbook
    ...                                                 # anything else
    batch = excel.read_started_workbook(path, started)  # waits; the records, as read_workbook gives them
"""

from __future__ import annotations

import threading
from pathlib import Path

from app.pars import xlsx_guard


class FirstSheet:
    """python-calamine opening a checked workbook and parsing its first sheet on a thread."""

    def __init__(self, path: Path) -> None:
        # Imported here, not on the thread: two threads importing at once could wait on each other.
        from python_calamine import CalamineWorkbook

        self._outcome: list[object] = []
        self._thread = threading.Thread(target=self._parse, args=(CalamineWorkbook, path),
                                        name="parsdesk-read-sheet", daemon=True)
        self._thread.start()

    def _parse(self, workbook_class, path: Path) -> None:  # noqa: ANN001 - CalamineWorkbook
        try:
            workbook = workbook_class.from_path(str(path))
            sheet = workbook.get_sheet_by_index(0) if workbook.sheet_names else None
            self._outcome.append((workbook, sheet))
        except BaseException as exc:  # raised again in the caller's thread by result()
            self._outcome.append(exc)

    def result(self):  # noqa: ANN201 - (CalamineWorkbook, rows of its first sheet or None)
        """Waits; the workbook and its first sheet's rows, or what calamine raised. The rows are made
        here, in the caller's thread, which works on them next (they stay in its processor's cache)."""
        self._thread.join()
        outcome = self._outcome[0]
        if isinstance(outcome, BaseException):
            raise outcome
        workbook, sheet = outcome
        return workbook, (sheet.to_python(skip_empty_area=False) if sheet is not None else None)


def start_reading(path: Path) -> FirstSheet:
    """Check the container now (BatchFileError), then parse the first sheet in the background."""
    xlsx_guard.check_container(path)
    return FirstSheet(path)
