"""Excel exports of learner records ("Download learners", "Download filtered list", `parsdesk export`).

The workbook opens cleanly in Excel: one header row, frozen below the header, real date cells with a
date number format (so the sheet sorts and filters by date), numbers as numbers, sensible column
widths, and each record's status with the PARS/board code and message that explain a rejection.
Streamed row by row into the sheet's XML (app/pars/xlsx_writer.py), never built in memory.
Birth dates are left out: the export is a worklist, and it may be mailed around.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.pars.files import private_output
from app.models import Store

from app.services.learners import LearnerRecordView, SearchFilters, SortKey, iter_records

DATE_FORMAT = "mm/dd/yyyy"
DATETIME_FORMAT = "mm/dd/yyyy hh:mm"
AMOUNT_FORMAT = "0.00"


@dataclass(frozen=True, slots=True)
class ExportColumn:
    header: str
    width: float
    value: Callable[[LearnerRecordView], Any]
    number_format: str | None = None


def _amount(value: Decimal | None) -> float | None:
    # Excel has no decimal type; amounts are quarter steps, which binary floats hold exactly.
    return None if value is None else float(value)


def _total_points(record: LearnerRecordView) -> float | None:
    if not record.boards:
        return None
    return float(sum((b.points for b in record.boards), Decimal(0)))


COLUMNS: tuple[ExportColumn, ...] = (
    ExportColumn("ACCME Activity ID", 14, lambda r: r.activity_accme_id),
    ExportColumn("Activity Title", 36, lambda r: r.activity_title),
    ExportColumn("Last Name", 18, lambda r: r.last_name),
    ExportColumn("First Name", 16, lambda r: r.first_name),
    ExportColumn("Licensing State", 9, lambda r: r.licensing_state),
    ExportColumn("Licensing ID or NPI", 18, lambda r: r.license_id),
    ExportColumn("Completion Date", 14, lambda r: r.completion_date, DATE_FORMAT),
    ExportColumn("Number of CME Credits", 12, lambda r: _amount(r.cme_credits), AMOUNT_FORMAT),
    ExportColumn("Certifying Board IDs", 22, lambda r: r.board_ids or None),
    ExportColumn("Total Board Credits", 12, _total_points, AMOUNT_FORMAT),
    ExportColumn("Board Points", 22, lambda r: r.board_points or None),
    ExportColumn("Credit Types", 40, lambda r: r.credit_type_details or None),
    ExportColumn("Status", 16, lambda r: r.status),
    ExportColumn("Status Code", 8, lambda r: r.status_code),
    ExportColumn("Status Message", 60, lambda r: r.status_message),
    ExportColumn("Status From", 10, lambda r: r.status_source),
    ExportColumn("Last Updated", 17, lambda r: r.updated_at, DATETIME_FORMAT),
    ExportColumn("Last Changed By", 18, lambda r: r.changed_by),
    ExportColumn("Credit ID", 48, lambda r: r.credit_id),
)


def export_records(path: Path | str, records: Iterable[LearnerRecordView], *, sheet_title: str = "Learners") -> int:
    """Write the records to an .xlsx file at `path`; returns how many rows were written.

    Owner-only and all-or-nothing, since it names learners (app/pars/files.py); the folder is checked
    before the first record is read. The sheet XML is streamed row by row (app/pars/xlsx_writer.py):
    every text is a Text cell, never a formula; dates are date cells and amounts numbers."""
    from app.pars.xlsx_writer import write_table_sheet

    values = [column.value for column in COLUMNS]

    def rows() -> Iterable[list[Any]]:
        for record in records:
            yield [_excel_value(value(record)) for value in values]

    with private_output(path) as handle:
        count = write_table_sheet(handle, sheet_title, [(c.header, c.width, c.number_format) for c in COLUMNS],
                                  rows())
    return count


def _excel_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None, microsecond=0)
    if isinstance(value, Decimal):
        return float(value)
    return value


def export_filtered(
    session: Session,
    path: Path | str,
    filters: SearchFilters,
    *,
    sort: str = SortKey.NAME,
    descending: bool = False,
    sheet_title: str = "Learners",
) -> int:
    """Write every record matching `filters` to an .xlsx file, streamed page by page from the store
    (exports of any size without holding them all); returns how many rows were written."""
    records = iter_records(session, filters, sort=sort, descending=descending)
    return export_records(path, records, sheet_title=sheet_title)


class ExportCancelled(Exception):
    """The coordinator cancelled an export; nothing was written."""


PROGRESS_EVERY = 500


def export_filtered_in_worker(
    store: Store,
    path: Path | str,
    filters: SearchFilters,
    *,
    sort: str = SortKey.NAME,
    descending: bool = False,
    sheet_title: str = "Learners",
    should_stop: Callable[[], bool] = lambda: False,
    on_progress: Callable[[int, int], None] = lambda done, total: None,
) -> int:
    """`export_filtered` for a worker thread: its own Session, progress every few hundred rows, and a
    stop check that abandons the export (raising ExportCancelled) before anything reaches `path`."""
    from app.services.learners import count_records

    with store.session() as session:
        total = count_records(session, filters)
        on_progress(0, total)

        def watched() -> Iterable[LearnerRecordView]:
            for done, record in enumerate(iter_records(session, filters, sort=sort, descending=descending), start=1):
                if done % PROGRESS_EVERY == 0:
                    if should_stop():
                        raise ExportCancelled
                    on_progress(done, total)
                yield record
            if should_stop():
                raise ExportCancelled

        written = export_records(path, watched(), sheet_title=sheet_title)
    on_progress(written, written)
    return written


def export_filtered_xml(session: Session, path: Path | str, filters: SearchFilters) -> int:
    """Write every record matching `filters` as one PARS learner XML document (the same
    `ACCMELearnerReports` document as an XML batch file, docs/xml-format.md); returns how many records.

    Each record is written as it would be sent: its own learner snapshot, CME, boards and REMS, its
    creditID and Record Action Add. The file is readable by its owner only (it holds learner data)."""
    from datetime import timezone

    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from app.models.schema import ActivityRow, CompletionRow
    from app.pars.xml_codec import render_document
    from app.services.records import completion_to_domain, provider_id

    ids = [record.completion_id for record in iter_records(session, filters, sort=SortKey.DATE, descending=False)]
    completions = []
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows = session.scalars(
            select(CompletionRow).where(CompletionRow.id.in_(chunk))
            .options(selectinload(CompletionRow.activity), selectinload(CompletionRow.boards),
                     selectinload(CompletionRow.rems))
        ).all()
        by_id = {row.id: row for row in rows}
        completions.extend(completion_to_domain(by_id[i]) for i in chunk if i in by_id)
    titles = dict(session.execute(select(ActivityRow.accme_id, ActivityRow.title)
                                  .where(ActivityRow.accme_id.is_not(None))).all())
    document = render_document(completions, provider_id(session), datetime.now(timezone.utc), titles=titles)
    with private_output(path) as handle:  # owner-only, all-or-nothing (app/pars/files.py)
        handle.write(document)
    return len(completions)
