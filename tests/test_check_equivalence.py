"""The fast batch path (column-wise reading, verdicts decided once per distinct value) gives exactly
the records and verdicts of the record-by-record path it replaced: same rows, fields, codes and
messages, for generated workbooks holding every kind of problem (tests/batch_variety.py)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from batch_variety import GOLDEN, GOLDEN_CASES, case_name, judge_case


@pytest.fixture(scope="module")
def golden() -> dict[str, dict[str, object]]:
    return json.loads(gzip.decompress(GOLDEN.read_bytes()))


@pytest.mark.parametrize("case", GOLDEN_CASES, ids=[case_name(*case) for case in GOLDEN_CASES])
def test_records_and_verdicts_are_those_of_the_record_by_record_path(
    tmp_path: Path, golden: dict[str, dict[str, object]], case: tuple[int, int, int]
) -> None:
    expected = golden[case_name(*case)]
    found = judge_case(tmp_path, *case)
    assert found["headers"] == expected["headers"]
    assert len(found["records"]) == len(expected["records"])
    differing = [index for index, (a, b) in enumerate(zip(found["records"], expected["records"])) if a != b]
    assert not differing, f"records read differently at indexes {differing[:10]}"
    for name in ("history", "empty"):
        for index, (mine, theirs) in enumerate(zip(found[name], expected[name])):
            assert mine == theirs, f"{name}: record {index}"
        assert len(found[name]) == len(expected[name])


# --------------------------------------------------------------------------------------------------
# Records built directly (as XML, the entry form and the sandbox make them): values the Excel reader
# never produces (CME without an amount, Decimal("2.0") beside Decimal("2"), floats, several boards,
# REMS, untrimmed text), judged by validate_batch and by the record-by-record path it replaced.

def _reference_batch(completions, activities, history, as_of):  # noqa: ANN001, ANN202
    """validate_batch as it was: every record checked field by field, no verdict reused."""
    from app.pars.domain import RecordAction
    from app.pars.validation import _activity_key, _check, _Ledger, prior_from_completion, record_action

    ledger = _Ledger(history)
    results = []
    for completion in completions:
        activity = activities.get(_activity_key(completion.activity_id) or "")
        action = record_action(completion.action)
        issues = _check(completion, activity, ledger, as_of, action)
        results.append(issues)
        credit_id = (completion.credit_id or "").strip()
        if action is RecordAction.ADD and credit_id:
            ledger.used_credit_ids.add(credit_id)
            if not issues:
                ledger.add(prior_from_completion(completion))
        elif action is RecordAction.DELETE and credit_id and not issues:
            ledger.remove(credit_id)
    return results


def _direct_completions(seed: int, count: int):  # noqa: ANN202
    """Records made of a few dozen base records with one to three fields changed each, so that many
    records share all but one field with another: a reused verdict that overlooks a field shows."""
    import random
    from datetime import date, datetime
    from decimal import Decimal

    from app.pars.domain import BoardPart, CmePart, Completion, Learner, RecordAction, RemsPart

    rng = random.Random(seed)
    pick = rng.choice
    amounts = [Decimal("2"), Decimal("2.0"), Decimal("2.00"), "2", " 2 ", 2, 2.0, 1.25, Decimal("0.1"), None, "",
               "x", Decimal("-1"), Decimal("11"), Decimal("10"), "2.3", Decimal("1E+3"), 4, Decimal("1.5")]
    choices: dict[str, list[object]] = {
        "action": [RecordAction.ADD] * 6 + ["Add", " add ", "Delete", RecordAction.DELETE, "Update", None, ""],
        "activity_id": ["123456789"] * 4 + ["987654321", "111222333", " 123456789", "555555555", "12", None],
        "credit_id": ["new"] * 6 + ["ccid:hist:1", "ccid:hist:2", "ccid:dup", None, "", "c" * 301, " ccid:x "],
        "first": ["own", "Ann", "Bob", "ann ", " ", "", None, "Bo\u200bb", "\u202eCy", "D" * 60, "E" * 101, "Fé"],
        "last": ["Lee", "Lee", "Ray", "", None, "Ray\x07"],
        "birth": ["04/15", "04/15", "4/15", "02/30", "", None, " 11/02 ", "13/01"],
        "state": ["CA", "CA", "NY", "NPI", "", None, "Atlantis", "npi", "TX", "California"],
        "license": ["A100", "A100", "1234567893", "1234567890", "", None, " A100 ", "L\u2066"],
        "date": [date(2026, 2, 2), date(2026, 3, 3), datetime(2026, 2, 2, 0, 0), "02-02-2026", "2026-02-02",
                 date(2026, 7, 1), date(2019, 1, 1), "13-45-2026", "", None, date(2026, 6, 20), date(2025, 12, 31),
                 date(2026, 1, 5), "\u200b02-02-2026"],
        "cme": ["none", "none", "2", "2", "empty", "any"],
        "boards": [1, 1, 1, 1, 0, 2],
        "board": ["ABIM", "ABIM", "ABA", "abim", "ABP", "ABS", "ABPATH", "ABPath", "XYZ", "", " ABIM ", "ABOS"],
        "board_id": ["1000001", "2000002", "", None, " 7 ", "own", "x" * 51, "   ", "own", "own"],
        "points": amounts,
        "types": ["one", "one", "one", "none", "two", "odd"],
        "type": ["Medical Knowledge", "Lifelong Learning", "medical knowledge", "Patient Safety", "LLL",
                 "Made Up", "", "SAM", "Accredited CME", "Practice Assessment", "Part 2"],
        "amount": amounts,
        "repeated": [[], [], [], ["Patient Safety"], ["Made Up"]],
        "rems": [None] * 6 + ["rems"],
    }

    def build(values: dict[str, object], index: int) -> Completion:
        def board_part(which: int) -> BoardPart:
            kind = values["types"]
            types: dict[str, object] = {}
            if kind == "one":
                types[values["type"]] = values["amount"]
            elif kind == "two":
                types[values["type"]] = values["amount"]
                types["Patient Safety"] = None
            elif kind == "odd":
                types[pick(choices["type"])] = pick(amounts)
            board_id = f"{index}" if values["board_id"] == "own" else values["board_id"]
            return BoardPart(values["board"] if which == 0 else "ABA", board_id, values["points"], types,
                             list(values["repeated"]))

        cme = {"none": None, "2": CmePart(Decimal("2")), "empty": CmePart(None), "any": CmePart(pick(amounts))}
        rems = None
        if values["rems"]:
            rems = RemsPart(pick(["Physician", "Nurse", "Wizard", None]), pick(["CA", "Atlantis", None]),
                            pick(["Individual", "Maybe", None]), pick(["Pain", "p" * 201, None]),
                            pick([True, False, None]), pick(["0-5 years", "forever", None]))
        return Completion(
            action=values["action"], activity_id=values["activity_id"],
            credit_id=f"ccid:x:{index}" if values["credit_id"] == "new" else values["credit_id"],
            learner=Learner(f"New{index}" if values["first"] == "own" else values["first"], values["last"], values["birth"], values["state"], values["license"]),
            completion_date=values["date"], cme=cme[values["cme"]],
            boards=[board_part(which) for which in range(values["boards"])], rems=rems,
        )

    sound = {"action": RecordAction.ADD, "activity_id": "123456789", "credit_id": "new", "first": "own",
             "last": "Lee", "birth": "04/15", "state": "CA", "license": "A100", "date": date(2026, 2, 2),
             "cme": "2", "boards": 1, "board": "ABIM", "board_id": "own", "points": Decimal("2"),
             "types": "one", "type": "Medical Knowledge", "amount": None, "repeated": [], "rems": None}
    bases = [sound, {**sound, "board": "ABA", "type": "Lifelong Learning", "board_id": "2000002", "first": "Bob"}]
    for _ in range(30):
        bases.append({name: pick(options) for name, options in choices.items()})
    completions = []
    for index in range(count):
        values = dict(pick(bases[:2] * 4 + bases))
        for name in rng.sample(sorted(choices), pick([0, 1, 1, 1, 2, 3])):
            values[name] = pick(choices[name])
        completions.append(build(values, index))
    return completions


@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_directly_built_records_get_the_record_by_record_verdicts(seed: int) -> None:
    from batch_variety import ACTIVITIES_BY_ID, AS_OF, variety_history

    from app.pars.domain import History
    from app.pars.validation import validate_batch

    completions = _direct_completions(seed, 1500)
    for history in (variety_history(), History()):
        expected = _reference_batch(completions, ACTIVITIES_BY_ID, history, AS_OF)
        found = validate_batch(completions, ACTIVITIES_BY_ID, history, AS_OF)
        assert len(found) == len(expected)
        for index, (mine, theirs) in enumerate(zip(found, expected)):
            assert mine == theirs, f"record {index}: {completions[index]}"
    assert sum(1 for issues in expected if not issues) > 20  # valid records too, not only failures


def test_a_learner_met_once_in_the_file_is_still_counted_against_earlier_records() -> None:
    """The ledger is skipped for learners no other record shares: one met once in the file but
    present in the history, or sharing only a board ID with another record, must still be counted."""
    from datetime import date
    from decimal import Decimal

    from batch_variety import ACTIVITIES_BY_ID, AS_OF, variety_history

    from app.pars.domain import BoardPart, Completion, History, Learner, RecordAction
    from app.pars.validation import validate_batch

    def record(first: str, board: str, board_id: str | None, points: str, number: int) -> Completion:
        types = {"ABA": "Lifelong Learning", "ABIM": "Medical Knowledge", "ABS": "Accredited CME"}
        activity = "987654321" if board == "ABS" else "123456789"
        return Completion(RecordAction.ADD, activity, f"ccid:new:{number}",
                          Learner(first, "Ray", "11/02", "NY", "B200"), date(2026, 2, 2),
                          boards=[BoardPart(board, board_id, Decimal(points), {types[board]: None})])

    cases = [
        # Bob Ray has ABA points in the history (variety_history): met once here, still 710/711/717.
        (variety_history(), [record("Bob", "ABA", "2000002", "3", 1)], {710, 711, 717}),
        (variety_history(), [record("Robert", "ABA", "2000002", "3", 1)], {710, 711, 717}),
        # Two learners by name, one by board ID: the second record goes past the maximum (711).
        (History(), [record("Ann", "ABIM", "777", "6", 1), record("Anne", "ABIM", " 777 ", "6", 2)], {711}),
        # The same name, no board ID (ABS does not require one): the name key joins them.
        (History(), [record("Ann", "ABS", None, "2", 1), record("Ann", "ABS", "  ", "2", 2)], {711}),
    ]
    for history, completions, codes in cases:
        expected = _reference_batch(completions, ACTIVITIES_BY_ID, history, AS_OF)
        assert validate_batch(completions, ACTIVITIES_BY_ID, history, AS_OF) == expected
        found = {issue.code for issues in expected for issue in issues}
        assert found & codes, (completions, expected)


@pytest.mark.parametrize("bad", ["Ann\u200b", "\u202eAnn", "An\x07n", "A" * 101, "B" * 51, "\ufeff"])
@pytest.mark.parametrize("field", ["first", "last", "birth", "license", "action", "board_id", "credit_id", "state",
                                   "activity_id", "board", "credit_type", "points"])
def test_one_refused_text_in_an_otherwise_clean_batch_is_found(field: str, bad: str) -> None:
    """Texts are searched for refused characters (and lengths) over the whole batch at once, and per
    combination of content: one bad value in any field of one record must still be reported there."""
    from datetime import date
    from decimal import Decimal

    from batch_variety import ACTIVITIES_BY_ID, AS_OF

    from app.pars.domain import BoardPart, CmePart, Completion, History, Learner, RecordAction
    from app.pars.validation import validate_batch

    def sound(number: int) -> Completion:
        return Completion(RecordAction.ADD, "123456789", f"ccid:ok:{number}",
                          Learner(f"Ann{number}", "Lee", "04/15", "CA", f"L{number}"), date(2026, 2, 2),
                          CmePart(Decimal("2")),
                          [BoardPart("ABIM", f"{number}", Decimal("2"), {"Medical Knowledge": None})])

    completions = [sound(number) for number in range(30)]
    odd = completions[17]
    part = odd.boards[0]
    if field in ("first", "last", "birth", "license", "state"):
        name = {"first": "first_name", "last": "last_name", "birth": "birth_date", "license": "license_id",
                "state": "licensing_state"}[field]
        setattr(odd.learner, name, bad)
    elif field == "action":
        odd.action = "Add" + bad
    elif field == "board_id":
        part.board_id = bad
    elif field == "board":
        part.board = bad
    elif field == "credit_type":
        part.credit_types = {bad: None}
    elif field == "points":
        part.points = bad
    else:
        setattr(odd, field, bad)
    expected = _reference_batch(completions, ACTIVITIES_BY_ID, History(), AS_OF)
    assert validate_batch(completions, ACTIVITIES_BY_ID, History(), AS_OF) == expected
    assert not any(expected[:17]) and not any(expected[18:])
    if not bad.isalpha() or (len(bad) > 100 and field != "credit_id"):  # refused, or too long anywhere
        assert expected[17], (field, bad)


def test_a_learner_field_that_is_not_text_fails_as_record_by_record() -> None:
    """No reader makes one, and the record-by-record check stops at it (its text check needs text):
    the batch path must stop there too, with the same error, not earlier and not with another one."""
    from datetime import date
    from decimal import Decimal

    from batch_variety import ACTIVITIES_BY_ID, AS_OF, variety_history

    from app.pars.domain import BoardPart, Completion, Learner, RecordAction
    from app.pars.validation import validate_batch

    for action in (RecordAction.DELETE, RecordAction.ADD):
        odd = Completion(action, "123456789", "ccid:hist:1", Learner(42, "Lee", "04/15", "CA", "A1"),
                         date(2026, 2, 1), boards=[BoardPart("ABIM", "1000001", Decimal("2"), {"Medical Knowledge": None})])
        failures = []
        for judge in (_reference_batch, validate_batch):
            with pytest.raises(Exception) as failed:
                judge([odd], ACTIVITIES_BY_ID, variety_history(), AS_OF)
            failures.append((failed.type, str(failed.value)))
        assert failures[0] == failures[1]
