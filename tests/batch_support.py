"""Helpers for the batch upload tests and bench: an activity to report against, and learner files
(.xlsx in the PARS template layout, .xml in the PARS document shape) built from plain rows."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from app.models import Store
from app.models.schema import ActivityBoardRow, ActivityRow, CompletionRow, OutboxRow, UploadLine, UploadRow
from app.pars.domain import (
    F_ACTION,
    F_ACTIVITY_ID,
    F_BOARD,
    F_BOARD_ID,
    F_BOARD_POINTS,
    F_CME_CREDITS,
    F_COMPLETION_DATE,
    F_CREDIT_TYPE,
    F_CREDIT_TYPE_AMOUNT,
    F_DOB,
    F_FIRST_NAME,
    F_LAST_NAME,
    F_LICENSE_ID,
    F_STATE,
    Activity,
    BoardPart,
    BoardRegistration,
    CmePart,
    Completion,
    Learner,
    RecordAction,
)

ACTIVITY_ID = "123456789"
AS_OF = date(2026, 2, 15)
PROVIDER = "1234567"


# A course in January 2026: 8 CME credits and 8 ABIM points (Medical Knowledge). The sandbox gets the
# same activity, so local checks and PARS agree.
ACTIVITY = Activity(
    activity_id=ACTIVITY_ID,
    title="Cardiology Update",
    activity_type="Course",
    start_date=date(2026, 1, 5),
    end_date=date(2026, 1, 31),
    cme_credits=Decimal("8"),
    boards=(BoardRegistration("ABIM", Decimal("8"), ("Medical Knowledge",), date(2026, 3, 31)),),
)


def add_activity(store: Store) -> None:
    with store.transaction() as s:
        s.add(
            ActivityRow(
                accme_id=ACTIVITY.activity_id,
                title=ACTIVITY.title,
                activity_type=ACTIVITY.activity_type,
                start_date=ACTIVITY.start_date,
                end_date=ACTIVITY.end_date,
                cme_credits=ACTIVITY.cme_credits,
                boards=[
                    ActivityBoardRow(
                        board=b.board, max_points=b.max_points, credit_types=list(b.credit_types),
                        credit_claim_date=b.credit_claim_date,
                    )
                    for b in ACTIVITY.boards
                ],
            )
        )


def row(n: int, **changes: str) -> dict[str, str]:
    """A valid CME+MOC Add row for learner number n; keyword changes use the header with spaces as _."""
    cells = {
        F_ACTION: "Add",
        F_ACTIVITY_ID: ACTIVITY_ID,
        F_COMPLETION_DATE: "01-06-2026",
        F_FIRST_NAME: f"Learner{n}",
        F_LAST_NAME: "Testperson",
        F_DOB: "03/14",
        F_STATE: "CA",
        F_LICENSE_ID: f"A{n:07d}",
        F_CME_CREDITS: "4",
        F_BOARD: "ABIM",
        F_BOARD_ID: f"{100000 + n}",
        F_BOARD_POINTS: "4",
        F_CREDIT_TYPE: "Medical Knowledge",
        F_CREDIT_TYPE_AMOUNT: "4",
    }
    for key, value in changes.items():
        cells[key.replace("_", " ")] = value
    return cells


def write_xlsx(path: Path, rows: list[dict[str, str]]) -> Path:
    """A workbook in the PARS template layout: guidance row, header row, data from row 3."""
    from openpyxl import Workbook

    from app.pars.excel import HEADERS

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["PARS learner upload"])
    sheet.append(list(HEADERS))
    for cells in rows:
        sheet.append([cells.get(header, "") for header in HEADERS])
    workbook.save(path)
    return path


def completion(n: int, *, credit_id: str | None = None, action: RecordAction = RecordAction.ADD,
               completion_date: date = date(2026, 1, 6), cme: str = "4") -> Completion:
    return Completion(
        action=action,
        activity_id=ACTIVITY_ID,
        credit_id=credit_id,
        learner=Learner(f"Learner{n}", "Testperson", "03/14", "CA", f"A{n:07d}"),
        completion_date=completion_date,
        cme=CmePart(Decimal(cme)),
        boards=[BoardPart("ABIM", f"{100000 + n}", Decimal("4"), {"Medical Knowledge": Decimal("4")})],
    )


def write_xml(path: Path, completions: list[Completion]) -> Path:
    from app.pars.xml_codec import render_document

    path.write_bytes(render_document(completions, PROVIDER, datetime(2026, 2, 15, tzinfo=timezone.utc)))
    return path


def counts(store: Store) -> dict[str, int]:
    """Row counts of everything an upload may write: unchanged counts mean an untouched store."""
    with store.session() as s:
        return {
            table.__tablename__: s.scalar(select(func.count()).select_from(table)) or 0
            for table in (CompletionRow, OutboxRow, UploadRow, UploadLine)
        }


def statuses(store: Store) -> dict[str, str]:
    """creditID -> status of every stored record."""
    with store.session() as s:
        return dict(s.execute(select(CompletionRow.credit_id, CompletionRow.status)).all())
