"""Generated learner workbooks with every kind of problem a batch file can have, for the tests that
prove a faster reading or checking path gives exactly the verdicts of the record-by-record one.

    rows = variety_rows(seed, count)          # cell values as a spreadsheet holds them (mixed types)
    write_variety_workbook(path, rows)        # an .xlsx of them (guidance row, headers, data)
    history = variety_history()               # earlier records: for 603, 605, 710, 711, 717
    ACTIVITIES                                # the activities the rows are checked against

Everything is derived from the seed, never from today's date.
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from app.pars.batch import BatchRecord
from app.pars.domain import (
    Activity,
    BoardPart,
    BoardRegistration,
    CmePart,
    Completion,
    History,
    Learner,
    RecordAction,
)
from app.pars.excel import GUIDANCE, HEADERS
from app.pars.validation import history_from_completions

AS_OF = date(2026, 6, 30)
ACTIVITIES = (
    Activity(
        activity_id="123456789", title="Cardiology Update", activity_type="Course",
        start_date=date(2026, 1, 1), end_date=date(2026, 5, 31), cme_credits=Decimal("10"), rems=True,
        boards=(
            BoardRegistration("ABIM", Decimal("10"), ("Medical Knowledge", "Patient Safety"), date(2026, 6, 15)),
            BoardRegistration("ABA", Decimal("4"), ("Lifelong Learning",), None),
            BoardRegistration("ABP", Decimal("10"), ("Lifelong Learning & Self-Assessment",), date(2027, 1, 31)),
            BoardRegistration("ABPath", Decimal("10"), ("Lifelong Learning",), date(2027, 1, 31)),
        ),
    ),
    Activity(
        activity_id="987654321", title="Surgery Grand Rounds", activity_type="Regularly Scheduled Series",
        start_date=date(2024, 1, 1), end_date=date(2026, 12, 31), cme_credits=None,
        boards=(BoardRegistration("ABS", Decimal("2.5"), ("Accredited CME", "Self-Assessment"), None),),
    ),
    Activity(
        activity_id="111222333", title="No MOC", activity_type="Course",
        start_date=date(2025, 1, 1), end_date=date(2026, 12, 31), cme_credits=Decimal("3"),
    ),
)
ACTIVITIES_BY_ID = {activity.activity_id: activity for activity in ACTIVITIES}

# Control characters go in as Excel writes them (_xHHHH_), which the reader turns back into them.
_ZERO_WIDTH, _BIDI = "\u200b", "\u202e"


def _pick(rng: random.Random, common: object, *others: object, odds: float = 0.06) -> object:
    """Mostly `common`, sometimes one of `others` (so that clean rows dominate, as in real files)."""
    return rng.choice(others) if others and rng.random() < odds else common


def _taint(rng: random.Random, text: str) -> str:
    return rng.choice([
        text + _ZERO_WIDTH, _BIDI + text, text[:1] + "_x0007_" + text[1:], text + "\u2066", text + "\ufeff",
        "x" * 101, "y" * 51, "  " + text + "  ", text + "\u200d", text + "_x001F_", "_x001b_" + text,
    ])


# A few learners recur (duplicates within the file and with the history: 603, 710, 711, 717).
_RECURRING = [("Ann", "Lee", "04/15", "CA", "A100", "ABIM", "1000001"),
              ("Bob", "Ray", "11/02", "NY", "B200", "ABA", "2000002"),
              ("Cy", "Day", "02/29", "NPI", "1234567893", "ABP", "3000003"),
              ("Di", "Fox", "07/04", "Texas", "C300", "ABS", "")]


def variety_rows(seed: int, count: int) -> list[list[object]]:
    rng = random.Random(seed)
    rows: list[list[object]] = []
    base = date(2026, 1, 5)
    for index in range(count):
        recurring = rng.random() < 0.12
        if recurring:
            first, last, dob, state, license_id, board, board_id = rng.choice(_RECURRING)
        else:
            first, last = f"First{index}", f"Last{seed}x{index}"
            dob = f"{index % 12 + 1:02d}/{index % 28 + 1:02d}"
            state = _pick(rng, "CA", "California", "ny", "NPI", "", "Atlantis", "tx", " OR ", "Puerto Rico")
            license_id = f"L{100000 + index}"
            board = _pick(rng, "ABIM", "ABA", "ABP", "ABS", "ABPath", "abim", "XYZ", "", "ABOS", odds=0.5)
            board_id = str(500000 + index)
        completed: object = base + timedelta(days=rng.randrange(0, 140))
        completed = _pick(rng, completed, completed.strftime("%m-%d-%Y"), completed.strftime("%m/%d/%Y"),
                          completed.isoformat(), datetime(2026, 3, 3, 0, 0), "13-45-2026", "", None,
                          date(2019, 5, 5), date(2026, 12, 1), "2026-02-30", "03-03-2026 ", 45000, odds=0.12)
        if recurring and rng.random() < 0.5:  # on the day of an earlier record of theirs (717 for ABA)
            completed = date(2026, 2, rng.choice([1, 2, 5, 6]))
        activity = _pick(rng, "123456789", 123456789, "987654321", "111222333", "555555555", "12345",
                         "", "123456789" + _ZERO_WIDTH, " 123456789 ", odds=0.1)
        action = _pick(rng, "Add", "add", " ADD ", "Delete", "Update", "", None, "Delete ", odds=0.06)
        if rng.random() < 0.1:
            dob = _pick(rng, dob, "", "02/30", "13/01", "4/5", date(1970, 4, 15), 415, "00/00", odds=1)
        if rng.random() < 0.07:
            first = _pick(rng, first, "", "   ", None, 42, odds=1)
        if rng.random() < 0.07:
            last = _pick(rng, last, "", None, 3.5, odds=1)
        if rng.random() < 0.05:
            license_id = _pick(rng, license_id, "", "1234567890", 1234567893, "  ", odds=1)
        if rng.random() < 0.06:
            board_id = ""
        cme = _pick(rng, 1, 1.5, "2", "2.3", 0, -1, "abc", 20, "", 1.25, 0.1, "1e3", "10", None, 2.0, odds=0.15)
        points = _pick(rng, 2, "2.3", 11, "", "x", 10, 4, 2.5, 1.75, None, "-2", 3, odds=0.12)
        credit_types = {"ABIM": "Medical Knowledge", "ABA": "Lifelong Learning", "abim": "medical knowledge",
                        "ABP": "Part 2", "ABS": "Accredited CME", "ABPath": "LLL", "ABOS": "Lifelong Learning"}
        credit_type = credit_types.get(board, "Lifelong Learning")
        credit_type = _pick(rng, credit_type, "Patient Safety", "Practice Assessment", "Made Up", "",
                            "SAM", "Self-Assessment Module", "Improvement in Medical Practice", odds=0.1)
        amount = _pick(rng, "", 1, 2.3, 20, "abc", 1.25, odds=0.1)
        extra_type = _pick(rng, "", credit_type, "Patient Safety", "Lifelong Learning", odds=0.08)
        extra_amount = _pick(rng, "", 1, 0.5, "z", odds=0.5) if extra_type else ""
        credit_id = _pick(rng, "", "ccid:office:dup", "ccid:hist:1", "ccid:hist:2", "ccid:office:" + "9" * 300,
                          f"ccid:office:{index}", "ccid:hist:3", odds=0.06)
        rems = ["", "", "", "", "", ""]
        if rng.random() < 0.08:
            rems = [_pick(rng, "Physician", "Nurse", "Wizard", "", odds=0.4),
                    _pick(rng, "CA", "Atlantis", "", odds=0.3),
                    _pick(rng, "Individual", "Institutional", "Maybe", "", odds=0.4),
                    _pick(rng, "Pain", "p" * 201, "", odds=0.3),
                    _pick(rng, "Yes", "No", "maybe", "", odds=0.5),
                    _pick(rng, "0-5 years", "forever", "", odds=0.4)]
        row: list[object] = [
            action, activity, completed, first, last, dob, state, license_id,
            cme if rng.random() < 0.8 else "", board, board_id if board else _pick(rng, "", "77", odds=0.3),
            points if board or rng.random() < 0.1 else "", credit_type if board else "",
            amount if board else "", extra_type if board else "", extra_amount if board else "",
            credit_id, *rems,
        ]
        if rng.random() < 0.06:  # a refused character or an over-long text somewhere in the row
            column = rng.choice([0, 1, 3, 4, 5, 6, 7, 9, 10, 12, 16, 17, 20])
            if isinstance(row[column], str) and row[column]:
                row[column] = _taint(rng, row[column])
            else:
                row[column] = _taint(rng, "abc")
        if rng.random() < 0.03:
            row = [""] * len(HEADERS)  # a blank row in the middle: skipped
        if rng.random() < 0.02:
            row = [" "] * 5 + [""] * (len(HEADERS) - 5)  # only spaces: skipped too
        rows.append(row)
    # Deletes that repeat a record of the history exactly, or not quite (605 lists the fields).
    for completion in _history_completions()[:6]:
        from app.pars.excel import completion_to_values

        values: list[object] = list(completion_to_values(completion))
        values[0] = "Delete"
        values[16] = ""
        rows.append(values)
        changed = list(values)
        changed[3] = "Someone Else"
        rows.append(changed)
    return rows


def write_variety_workbook(path: Path, rows: list[list[object]], *, header_row: int = 2) -> Path:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Sheet1"
    if header_row == 2:
        sheet.append([GUIDANCE])
    sheet.append(list(HEADERS))
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def _history_completions() -> list[Completion]:
    completions = []
    for number, (first, last, dob, state, license_id, board, board_id) in enumerate(_RECURRING * 2, start=1):
        info = ACTIVITIES[0] if board != "ABS" else ACTIVITIES[1]
        completions.append(Completion(
            action=RecordAction.ADD, activity_id=info.activity_id, credit_id=f"ccid:hist:{number}",
            learner=Learner(first, last, dob, "CA" if state in ("California", "") else state, license_id),
            completion_date=date(2026, 2, number),
            cme=CmePart(Decimal("1")) if number % 2 else None,
            boards=[BoardPart(board if board != "ABPath" else "ABPATH", board_id or None, Decimal(number % 5 + 1),
                              {"Lifelong Learning" if board in ("ABA", "ABPath") else
                               "Medical Knowledge" if board == "ABIM" else
                               "Accredited CME" if board == "ABS" else "Lifelong Learning & Self-Assessment":
                               Decimal(number % 5 + 1)})],
        ))
    return completions


def record_digest(record: BatchRecord) -> str:
    """A short digest of a record as read (sheet row, cell texts, the Completion's every field)."""
    text = json.dumps([record.row, record.values, repr(record.completion)], ensure_ascii=True)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def variety_history() -> History:
    completions = _history_completions()
    # the last one was deleted earlier: its credit ID is used, its points no longer count
    return history_from_completions((completion, index != len(completions) - 1)
                                    for index, completion in enumerate(completions))


# The golden file: main's verdicts (166b175, before the column-wise reading and memoised checks),
# written by `python tests/batch_variety.py` on that code and never since.
GOLDEN = Path(__file__).with_name("data") / "check_equivalence_golden.json.gz"
GOLDEN_CASES = ((1, 600, 2), (2, 400, 1), (3, 1200, 2))  # (seed, rows, header row)


def case_name(seed: int, count: int, header_row: int) -> str:
    return f"{seed}-{count}-{header_row}"


def judge_case(folder: Path, seed: int, count: int, header_row: int) -> dict[str, object]:
    """What the check makes of one generated workbook: record digests, and verdicts with and without
    earlier records."""
    from app.commands.check import check_batch
    from app.pars.batch import load_batch

    path = write_variety_workbook(folder / f"variety{seed}.xlsx", variety_rows(seed, count), header_row=header_row)
    batch = load_batch(path)
    case: dict[str, object] = {"headers": batch.headers, "records": [record_digest(r) for r in batch.records]}
    for name, history in (("history", variety_history()), ("empty", History())):
        verdicts = check_batch(batch, ACTIVITIES_BY_ID, history, AS_OF)
        case[name] = [[[issue.code, issue.field, issue.message] for issue in issues] for issues in verdicts]
    return case


if __name__ == "__main__":
    import gzip
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        cases = {case_name(*case): judge_case(Path(folder), *case) for case in GOLDEN_CASES}
    GOLDEN.write_bytes(gzip.compress(json.dumps(cases, sort_keys=True).encode(), mtime=0))
