"""An upload's rejection file written from a worker thread (the desktop app's "Download rejections…").

A rejection workbook or XML file of thousands of rows takes a noticeable moment (reading the rows,
building and compressing the file, writing it): on the GUI thread the window would freeze meanwhile.
The worker calls this with the Store; it opens the thread's own read-only Session, as
`export_filtered_in_worker` does for exports.
"""

from __future__ import annotations

from pathlib import Path

from app.models import Store
from app.services import batch_import


def write_upload_rejections_in_worker(store: Store, upload_id: int, path: Path | str) -> int:
    """`batch_import.write_upload_rejections` in its own read-only Session; returns how many records or
    rows the file holds. OSError (OutputError) when the file cannot be written; nothing is left at `path`."""
    with store.reading() as session:
        return batch_import.write_upload_rejections(session, upload_id, path)
