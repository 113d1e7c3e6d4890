"""`check --db` on a store file reads it through sqlite3 (app/models/sqlite_view.py), `import` and the
office database through SQLAlchemy (app/services/batch_import.py): both must see the same activities
and the same History, and so give every row the same verdict."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from app.cli import main
from app.models import Store, sqlite_view
from app.models.schema import ActivityRow
from app.pars.batch import load_batch
from app.pars.domain import (
    Activity,
    BoardPart,
    BoardRegistration,
    CmePart,
    Completion,
    Learner,
    RemsPart,
    Status,
)
from app.pars.excel import HEADERS, completion_to_values
from app.services import batch_import, records
from app.services.activities import import_activities
from app.services.history import load_domain_activities
from tests.xlsx_support import ROOT

AS_OF = date(2026, 4, 1)
MOC = Activity(
    activity_id="123456789", title="Cardiology Update", activity_type="Course",
    start_date=date(2026, 1, 5), end_date=date(2026, 3, 31), cme_credits=Decimal("8"),
    boards=(BoardRegistration("ABIM", Decimal("8"), ("Medical Knowledge", "Patient Safety"), date(2026, 6, 30)),
            BoardRegistration("ABP", Decimal("4.5"), ("Lifelong Learning & Self-Assessment",), None)),
)
REMS = Activity(
    activity_id="987654321", title="Opioid Prescribing", activity_type="Internet Enduring Material",
    start_date=date(2026, 1, 1), end_date=date(2026, 12, 31), cme_credits=Decimal("2"), rems=True,
    state_collaboration=True,
)
UNREGISTERED = Activity(
    activity_id=None, title="Not yet registered", activity_type="Course",
    start_date=date(2026, 1, 1), end_date=date(2026, 1, 2),
)


def _stored(n: int, **changes: object) -> Completion:
    completion = Completion(
        activity_id=MOC.activity_id,
        credit_id=f"ccid:1234567:stored-{n}",
        learner=Learner(f"First{n}", f"Last{n}", "04/15", "CA", f"A{n}"),
        completion_date=date(2026, 3, 10 + n % 5),
        cme=CmePart(Decimal("2")),
        boards=[BoardPart("ABIM", f"10000{n}", Decimal("2"), {"Medical Knowledge": Decimal("2")})],
    )
    for name, value in changes.items():
        setattr(completion, name, value)
    return completion


# (record, status): every status, REMS parts, two boards, no CME, accents and case in names.
STORED = [
    (_stored(1), Status.ACCEPTED),
    (_stored(2), Status.REJECTED),
    (_stored(3), Status.DELETED),
    (_stored(4), Status.QUEUED),
    (_stored(5), Status.DRAFT),
    (_stored(6), Status.SUBMITTED),
    (_stored(7, cme=None, boards=[
        BoardPart("ABIM", "100007", Decimal("3"), {"Medical Knowledge": Decimal("1.5"), "Patient Safety": Decimal("1.5")}),
        BoardPart("ABP", "P-7", Decimal("4.5"), {"Lifelong Learning & Self-Assessment": Decimal("4.5")})]),
     Status.ACCEPTED),
    (_stored(8, learner=Learner("José", "Müller", "02/29", "NY", "0012345")), Status.ACCEPTED),
    (_stored(9, activity_id=REMS.activity_id, boards=[], rems=RemsPart(
        "Physician", "TX", "Individual", "Pain medicine", True, "10-20 years")), Status.ACCEPTED),
    (_stored(10, activity_id=REMS.activity_id, boards=[], rems=RemsPart("Nurse Practitioner", None, None, None,
                                                                         False, None)), Status.SUBMITTED),
    (_stored(11, activity_id=REMS.activity_id, boards=[], rems=RemsPart("Pharmacist", None, None, None, None,
                                                                         None)), Status.REJECTED),
    (_stored(12), Status.DELETE_QUEUED),
    (_stored(13, learner=Learner("Other", "Person", None, None, None)), Status.ACCEPTED),  # not in the file
]


def _make_store(path: Path) -> Store:
    store = Store.open(path)
    with store.transaction() as session:
        import_activities(session, [MOC, REMS])
        rows = {row.accme_id: row for row in session.scalars(select(ActivityRow))}
        for completion, status in STORED:
            row = records.store_completion(session, completion, rows[completion.activity_id], source="test")
            if status is not Status.DRAFT:
                records.set_status(session, row, status, source="PARS")
    return store


def _row(completion: Completion, action: str = "Add", **cells: str) -> list[str]:
    values = dict(zip(HEADERS, completion_to_values(completion)))
    values["Record Action"] = action
    values.update(cells)
    return [values[header] for header in HEADERS]


def _file_rows() -> list[list[str]]:
    """Rows that meet the stored records every way a check looks them up: by name (any accents and
    case), by board ID, by creditID, by content (an Excel Delete), and rows of nobody stored."""
    rows = []
    for completion, _ in STORED[:12]:
        again = _stored(0, activity_id=completion.activity_id, learner=completion.learner, boards=completion.boards,
                        rems=completion.rems, cme=completion.cme, credit_id=None)
        rows.append(_row(again))  # the same learner again: 710/711/717 against the stored points
        rows.append(_row(completion, "Delete", **{"Credit ID": ""}))  # a delete by content
    rows.append(_row(_stored(1), **{"Credit ID": "ccid:1234567:stored-2"}))  # a used creditID: 603
    rows.append(_row(_stored(8), **{"First Name": "JOSE", "Last Name": "muller", "Credit ID": ""}))
    rows.append(_row(_stored(20, credit_id=None, boards=[BoardPart("ABIM", "100007", Decimal("6"),
                                                                   {"Medical Knowledge": Decimal("6")})])))
    rows.append(_row(_stored(21, credit_id=None)))  # nobody stored
    return rows


def _write_xlsx(path: Path, rows: list[list[str]]) -> Path:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["guidance"])
    sheet.append(list(HEADERS))
    for values in rows:
        sheet.append(values)
    workbook.save(path)
    return path


@pytest.fixture
def checked(tmp_path: Path):  # noqa: ANN201
    store = _make_store(tmp_path / "store.sqlite3")
    batch = load_batch(_write_xlsx(tmp_path / "learners.xlsx", _file_rows()))
    yield store, batch, tmp_path / "learners.xlsx"
    store.close()


def test_the_sqlite_view_sees_the_same_activities_and_history_as_sqlalchemy(checked) -> None:
    store, batch, _ = checked
    with store.session() as session:
        activities = load_domain_activities(session)
        history = batch_import.history_for_batch(session, batch)
    connection = sqlite_view.open_store_file(store.path)
    try:
        assert sqlite_view.load_activities(connection) == activities
        seen = sqlite_view.history_for_batch(connection, batch)
    finally:
        connection.close()
    assert len(history.priors) >= 12 and len(history.sent) >= 8  # the lookups found the file's learners
    assert "ccid:1234567:stored-13" not in {prior.credit_id for prior in history.priors}
    assert seen == history


def test_check_db_gives_the_rows_the_verdicts_of_the_store_read_as_import_reads_it(checked, capsys) -> None:
    """The verdicts of `check --db` on the file equal those of the same check with the activities and
    History read through SQLAlchemy (the office database's way, and `check --db` before sqlite_view)."""
    from app.commands.check import check_batch

    store, batch, path = checked
    with store.session() as session:
        expected = check_batch(batch, load_domain_activities(session), batch_import.history_for_batch(session, batch),
                               AS_OF)
    store.close()
    assert main(["check", str(path), "--db", str(store.path), "--as-of", AS_OF.isoformat(), "--format", "json"]) == 1
    reported = {row["row"]: [(error["code"], error["message"]) for error in row["errors"]]
                for row in json.loads(capsys.readouterr().out)["rows"]}
    assert reported == {record.row: [(issue.code, issue.message) for issue in issues]
                        for record, issues in zip(batch.records, expected) if issues}
    assert {603, 605, 711}.issubset({code for errors in reported.values() for code, _ in errors})


def test_check_db_never_loads_sqlalchemy_for_a_store_file(checked) -> None:
    store, _, path = checked
    store.close()
    probe = (
        "import sys, runpy; sys.argv = ['parsdesk', 'check', sys.argv[1], '--db', sys.argv[2], '--as-of', '2026-04-01']\n"
        "try:\n    runpy.run_module('app.cli', run_name='__main__')\nexcept SystemExit as end:\n    code = end.code\n"
        "print('sqlalchemy' in sys.modules, code, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(path), str(store.path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.stderr.strip().splitlines()[-1] == "False 1", done.stderr[-2000:]


def test_a_file_that_is_not_a_store_and_a_damaged_store_are_one_line_exit_3(tmp_path: Path, capsys) -> None:
    learners = _write_xlsx(tmp_path / "learners.xlsx", [_row(_stored(1))])
    not_a_store = tmp_path / "notes.sqlite3"
    not_a_store.write_text("hello")
    assert main(["check", str(learners), "--db", str(not_a_store)]) == 3
    assert main(["check", str(learners), "--db", str(tmp_path / "missing.sqlite3")]) == 3
    old = tmp_path / "old.sqlite3"
    import sqlite3

    connection = sqlite3.connect(old)  # ParsDesk's tables, but not the columns a check reads
    connection.executescript("CREATE TABLE alembic_version (version_num TEXT); CREATE TABLE meta (key TEXT);"
                             "CREATE TABLE activity (id INTEGER PRIMARY KEY, accme_id TEXT);")
    connection.close()
    assert main(["check", str(learners), "--db", str(old)]) == 3
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("parsdesk check: ") for line in lines)
    assert "no ParsDesk store" in lines[1] and "(check --db or PARSDESK_DB)" in lines[1]
    assert "is not a usable ParsDesk store (no such column" in lines[2]


def test_the_sqlite_view_finds_the_files_learners_through_indexes(checked) -> None:
    """As import's lookups (tests/test_batch_import.py): each statement starts from the file's learners
    (a name, board ID or creditID index, or record ids), never from a walk of the records."""
    store, batch, _ = checked
    connection = sqlite_view.open_store_file(store.path)
    statements: list[tuple[str, object]] = []

    class Recording:
        def execute(self, sql: str, parameters: object = ()):  # noqa: ANN202
            statements.append((sql, parameters))
            return connection.execute(sql, parameters)

    try:
        sqlite_view.history_for_batch(Recording(), batch)
        plans = [" | ".join(str(step[-1]) for step in connection.execute(f"EXPLAIN QUERY PLAN {sql}", parameters))
                 for sql, parameters in statements if "completion" in sql]
    finally:
        connection.close()
    assert len(plans) >= 4
    for plan in plans:
        assert "SCAN completion" not in plan, plan
        assert "ix_completion_activity" not in plan, plan


def test_check_db_on_the_office_database_gives_the_verdicts_of_the_same_store_file(
        checked, postgres_url: str, capsys) -> None:
    """The office database (postgresql://) is still read through SQLAlchemy: the same records give the
    same report as a store file read through sqlite3."""
    store, _, path = checked
    store.close()
    _make_store(postgres_url).close()
    arguments = [str(path), "--as-of", AS_OF.isoformat(), "--format", "json"]
    assert main(["check", *arguments, "--db", str(store.path)]) == 1
    from_file = json.loads(capsys.readouterr().out)
    assert main(["check", *arguments, "--db", postgres_url]) == 1
    assert json.loads(capsys.readouterr().out) == from_file
    assert from_file["invalid"] >= 5
