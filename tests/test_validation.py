"""The local verdict on learner records: every PARS code checkable before sending, at its boundaries."""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Callable

import pytest

from app.pars import catalog
from app.pars.domain import Status
from app.pars.domain import (
    F_ACTION,
    F_ACTIVITY_ID,
    F_BOARD,
    F_BOARD_ID,
    F_BOARD_POINTS,
    F_CME_CREDITS,
    F_COMPLETION_DATE,
    F_CREDIT_ID,
    F_CREDIT_TYPE,
    F_CREDIT_TYPE_AMOUNT,
    F_DOB,
    F_FIRST_NAME,
    F_LAST_NAME,
    F_LICENSE_ID,
    F_PERMISSION,
    F_REMS_PROFESSION,
    F_STATE,
    Activity,
    BoardPart,
    BoardRegistration,
    CmePart,
    Completion,
    History,
    Issue,
    Learner,
    RecordAction,
    RemsPart,
)
from app.pars.validation import (
    A_ACTIVITY_TYPE,
    A_CREDIT_CLAIM_DATE,
    A_CREDIT_TYPES,
    A_END_DATE,
    A_MOC_POINTS,
    A_TITLE,
    can_queue,
    history_from_completions,
    is_valid_npi,
    prior_from_completion,
    queue_blockers,
    validate,
    validate_activity,
    validate_batch,
)

D = Decimal
TODAY = date(2026, 11, 27)
START, END, CLAIM = date(2026, 1, 1), date(2026, 6, 30), date(2026, 9, 30)
ACTIVITY_ID = "123456789"
VALID_NPI = "1234567893"


def make_activity(**changes) -> Activity:
    activity = Activity(
        activity_id=ACTIVITY_ID,
        title="Grand Rounds 2026",
        activity_type="Course",
        start_date=START,
        end_date=END,
        cme_credits=D("3"),
        boards=(
            BoardRegistration("ABIM", D("10"), ("Medical Knowledge",), CLAIM),
            BoardRegistration("ABA", D("5"), ("Lifelong Learning",)),
            BoardRegistration("ABS", D("4"), ("Accredited CME",)),
            BoardRegistration("ABOS", D("4"), ("Lifelong Learning",)),
            BoardRegistration("ABTS", D("4"), ("Lifelong Learning",)),
            BoardRegistration("ABP", D("2"), ("Lifelong Learning & Self-Assessment",)),
        ),
        rems=True,
    )
    return replace(activity, **changes)


ACTIVITY = make_activity()
_counter = iter(range(10**9))


def make_completion(*, cme: bool = True, board: str | None = "ABIM", **changes) -> Completion:
    parts = []
    if board:
        types = {"ABIM": "Medical Knowledge", "ABA": "Lifelong Learning", "ABS": "Accredited CME",
                 "ABOS": "Lifelong Learning", "ABTS": "Lifelong Learning",
                 "ABP": "Lifelong Learning & Self-Assessment"}
        parts.append(BoardPart(board, "123456", D("2"), {types[board]: None}))
    completion = Completion(
        action=RecordAction.ADD,
        activity_id=ACTIVITY_ID,
        credit_id=f"ccid:1234567:{next(_counter)}",
        learner=Learner("Ada", "Lovelace", "03/07", "CA", "A12345"),
        completion_date=date(2026, 6, 1),
        cme=CmePart(D("2")) if cme else None,
        boards=parts,
    )
    for name, value in changes.items():
        setattr(completion, name, value)
    return completion


def codes(issues: list[Issue]) -> list[int]:
    return [issue.code for issue in issues]


def check(completion: Completion, activity: Activity | None = ACTIVITY, history: History | None = None,
          as_of: date = TODAY) -> list[Issue]:
    return validate(completion, activity, history or History(), as_of)


def with_learner(**changes) -> Callable[[Completion], None]:
    def mutate(completion: Completion) -> None:
        for name, value in changes.items():
            setattr(completion.learner, name, value)
    return mutate


def with_board(**changes) -> Callable[[Completion], None]:
    def mutate(completion: Completion) -> None:
        for name, value in changes.items():
            setattr(completion.boards[0], name, value)
    return mutate


def with_record(**changes) -> Callable[[Completion], None]:
    def mutate(completion: Completion) -> None:
        for name, value in changes.items():
            setattr(completion, name, value)
    return mutate


def test_a_complete_record_has_no_issues():
    assert check(make_completion()) == []


# One case per code: (mutation, expected code, field, words the message must contain)
SINGLE_FAULTS = [
    ("601 no action", with_record(action=None), 601, F_ACTION, "missing"),
    ("601 blank action", with_record(action="  "), 601, F_ACTION, "missing"),
    ("602 bad action", with_record(action="Update"), 602, F_ACTION, "'Update'"),
    ("650 no credit id", with_record(credit_id=None), 650, F_CREDIT_ID, "missing"),
    ("credit id too long", with_record(credit_id="ccid:1:" + "x" * 300), 0, F_CREDIT_ID, "307"),
    ("622 first name", with_learner(first_name=" "), 622, F_FIRST_NAME, "First name"),
    ("623 last name", with_learner(last_name=None), 623, F_LAST_NAME, "Last name"),
    ("624 dob missing", with_learner(birth_date=None), 624, F_DOB, "ABIM"),
    ("624 dob not a day", with_learner(birth_date="02/30"), 624, F_DOB, "MM/DD"),
    ("621 no board id", with_board(board_id=""), 621, F_BOARD_ID, "ABIM"),
    ("621 no license for CME", with_learner(license_id=None), 621, F_LICENSE_ID, "NPI"),
    ("630 no activity id", with_record(activity_id=None), 630, F_ACTIVITY_ID, "missing"),
    ("631 no completion date", with_record(completion_date=None), 631, F_COMPLETION_DATE, "missing"),
    ("632 no board points", with_board(points=None), 632, F_BOARD_POINTS, "ABIM points"),
    ("632 no CME credits", with_record(cme=CmePart(None)), 632, F_CME_CREDITS, "CME credits"),
    ("670 board not registered", with_board(board="ABPMR", credit_types={"Lifelong Learning": None}), 670, F_BOARD,
     "ABPMR"),
    ("671 not a date", with_record(completion_date="13-45-2026"), 671, F_COMPLETION_DATE, "'13-45-2026'"),
    ("671 not MM-DD-YYYY", with_record(completion_date="2026/06/01"), 671, F_COMPLETION_DATE, "MM-DD-YYYY"),
    ("673 points not a number", with_board(points="two"), 673, F_BOARD_POINTS, "'two'"),
    ("673 points negative", with_board(points=D("-1")), 673, F_BOARD_POINTS, "-1"),
    ("673 points zero", with_board(points="0"), 673, F_BOARD_POINTS, "0"),
    ("673 CME credits not a number", with_record(cme=CmePart("lots")), 673, F_CME_CREDITS, "'lots'"),
    ("674 CME above activity", with_record(cme=CmePart(D("3.25"))), 674, F_CME_CREDITS, "3.25 exceed the 3"),
    ("674 type above total", with_board(credit_types={"Medical Knowledge": D("2.25")}), 674,
     F_CREDIT_TYPE_AMOUNT, "2.25 exceed the ABIM total of 2"),
    ("675 board points", with_board(points=D("1.3")), 675, F_BOARD_POINTS, "1.3"),
    ("675 CME credits", with_record(cme=CmePart("1.3")), 675, F_CME_CREDITS, "1.3"),
    ("675 type amount", with_board(credit_types={"Medical Knowledge": "1.1"}), 675, F_CREDIT_TYPE_AMOUNT, "1.1"),
    ("676 unknown type", with_board(credit_types={"Knitting": None}), 676, F_CREDIT_TYPE, "'Knitting'"),
    ("673 type amount zero", with_board(credit_types={"Medical Knowledge": "0"}), 673, F_CREDIT_TYPE_AMOUNT, "0"),
    ("678 type twice", with_board(credit_types={"Medical Knowledge": None, "medical knowledge": None}), 678,
     F_CREDIT_TYPE, "Medical Knowledge"),
    ("680 patient safety", with_board(credit_types={"Patient Safety": None}), 680, F_CREDIT_TYPE,
     "Patient Safety"),
    ("681 practice assessment", with_board(credit_types={"Practice Assessment": None}), 681, F_CREDIT_TYPE,
     "Practice Assessment"),
    ("690 not 9 digits", with_record(activity_id="12345"), 690, F_ACTIVITY_ID, "'12345'"),
    ("712 unknown state", with_learner(licensing_state="Calfornia"), 712, F_STATE, "'Calfornia'"),
    ("712 bad NPI", with_learner(licensing_state="", license_id="1234567890"), 712, F_LICENSE_ID, "NPI"),
    ("713 unknown board", with_board(board="ABX", board_id=None), 713, F_BOARD, "'ABX'"),
    ("713 missing board", with_board(board=" ", board_id=None), 713, F_BOARD, "missing"),
    ("REMS without profession", with_record(rems=RemsPart()), 0, F_REMS_PROFESSION, "required"),
    ("REMS unknown profession", with_record(rems=RemsPart("Wizard")), 0, F_REMS_PROFESSION, "'Wizard'"),
]


@pytest.mark.parametrize("mutate, code, field, words", [case[1:] for case in SINGLE_FAULTS],
                         ids=[case[0] for case in SINGLE_FAULTS])
def test_each_fault_gives_its_code_field_and_message(mutate, code, field, words):
    completion = make_completion()
    mutate(completion)
    issues = check(completion)
    assert [(issue.code, issue.field) for issue in issues] == [(code, field)], issues
    assert words in issues[0].message


def test_every_problem_is_reported_not_just_the_first():
    completion = make_completion(credit_id=None, completion_date="31-31-2026")
    completion.learner.first_name = None
    completion.boards[0].points = D("1.3")
    completion.cme = CmePart(D("5"))
    assert sorted(codes(check(completion))) == [622, 650, 671, 674, 675]


def test_an_update_row_is_602_without_a_spurious_650():
    """Only Add and Delete carry a creditID; for an action PARS does not know, 602 says it all."""
    completion = make_completion(action="Update", credit_id=None)
    issues = check(completion)
    assert [(issue.code, issue.field) for issue in issues] == [(602, F_ACTION)]
    assert "'Update' is not valid" in issues[0].message


def test_messages_never_repeat_the_birth_date_or_license_number():
    completion = make_completion()
    completion.learner.birth_date = "02/31"
    completion.learner.licensing_state = None
    completion.learner.license_id = "9876543210"
    issues = check(completion)
    assert codes(issues) == [624, 712]
    assert all("02/31" not in issue.message and "9876543210" not in issue.message for issue in issues)


# Dates at their boundaries ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "cme, board, completed, expected",
    [
        (True, None, END, []),
        (True, None, END + timedelta(days=1), [671]),
        (True, None, START, []),
        # (the day before is in 2025, whose reporting year closed on 03-31-2026: 705 as well)
        (True, None, START - timedelta(days=1), [672, 705]),
        # MOC runs until the board's credit claim date, CME until the end date.
        (False, "ABIM", CLAIM, []),
        (False, "ABIM", CLAIM + timedelta(days=1), [671]),
        (True, "ABIM", END + timedelta(days=1), [671]),
        # Without a claim date the board follows the activity's end date.
        (False, "ABA", END, []),
        (False, "ABA", END + timedelta(days=1), [671]),
    ],
)
def test_completion_date_window(cme, board, completed, expected):
    completion = make_completion(cme=cme, board=board, completion_date=completed)
    assert codes(check(completion)) == expected


def test_completion_date_in_the_future_is_671():
    activity = make_activity(end_date=date(2026, 12, 31))
    assert check(make_completion(board=None, completion_date=TODAY), activity, as_of=TODAY) == []
    issues = check(make_completion(board=None, completion_date=TODAY + timedelta(days=1)), activity, as_of=TODAY)
    assert codes(issues) == [671]
    assert "future" in issues[0].message and "11-27-2026" in issues[0].message


@pytest.mark.parametrize("text", ["06-01-2026", "06/01/2026", "2026-06-01"])
def test_completion_date_text_is_accepted_in_the_usual_spellings(text):
    assert check(make_completion(completion_date=text)) == []


def test_a_late_date_is_one_671_naming_every_limit_it_passes():
    completion = make_completion(completion_date=date(2026, 12, 1))
    issues = check(completion, as_of=TODAY)
    assert codes(issues) == [671]
    assert issues[0].message == ("Completion date 12-01-2026 is in the future (today is 11-27-2026) and after "
                                 "the ABIM credit claim date 09-30-2026 and after the activity's end date "
                                 "06-30-2026")


def test_completion_after_end_date_message_names_both_dates():
    issues = check(make_completion(board=None, completion_date=date(2026, 7, 15)))
    assert issues[0].message == "Completion date 07-15-2026 is after the activity's end date 06-30-2026"


@pytest.mark.parametrize(
    "completed, as_of, expected",
    [
        (date(2025, 12, 31), date(2026, 3, 31), []),  # the 2025 reporting year closes after 03-31-2026
        (date(2025, 12, 31), date(2026, 4, 1), [705]),
        (date(2025, 1, 1), date(2026, 3, 31), []),
        (date(2025, 1, 1), date(2026, 4, 1), [705]),
        (date(2024, 6, 1), date(2026, 1, 1), [705]),
    ],
)
def test_reporting_deadline_705(completed, as_of, expected):
    activity = make_activity(start_date=date(2024, 1, 1), end_date=date(2026, 12, 31),
                             boards=(BoardRegistration("ABIM", D("10"), ("Medical Knowledge",)),))
    issues = check(make_completion(completion_date=completed), activity, as_of=as_of)
    assert codes(issues) == expected
    if expected:
        assert "PARS and ABIM no longer accept" in issues[0].message


def test_abs_takes_completions_from_march_2021_only():
    activity = make_activity(start_date=date(2021, 1, 1), end_date=date(2021, 12, 31))
    as_of = date(2021, 12, 31)
    on_day = make_completion(cme=False, board="ABS", completion_date=date(2021, 3, 1))
    before = make_completion(cme=False, board="ABS", completion_date=date(2021, 2, 28))
    assert check(on_day, activity, as_of=as_of) == []
    issues = check(before, activity, as_of=as_of)
    assert codes(issues) == [705] and "03-01-2021" in issues[0].message


# Amounts at their boundaries --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "points, expected",
    [(D("1.25"), []), ("1.3", [675]), (D("10"), []), (D("10.25"), [674]), ("0.25", []), (D("11.3"), [674, 675])],
)
def test_board_points_quarter_steps_and_maximum(points, expected):
    completion = make_completion(cme=False)
    completion.boards[0].points = points
    assert sorted(codes(check(completion))) == expected


@pytest.mark.parametrize("credits, expected", [(D("3"), []), (D("3.25"), [674]), ("1.25", []), (D("0"), [673])])
def test_cme_credits_limits(credits, expected):
    completion = make_completion()
    completion.cme = CmePart(credits)
    assert codes(check(completion)) == expected


def test_equal_amounts_of_different_kinds_keep_their_own_verdicts():
    """Amount verdicts are worked out once per distinct value in a batch: values that Python holds equal
    (True == 1 == 1.0, Decimal 2 == 2.00) must still get the verdict and message of their own kind."""
    from app.pars import validation

    amounts = [True, 1, 1.0, Decimal("1.0"), "1", " 1 ", Decimal("0.30"), Decimal("0.3"), "0.3", "x", "", None, 1.3]
    completions = [make_completion(board=None, cme=True) for _ in amounts]
    for completion, amount in zip(completions, amounts):
        completion.cme = CmePart(amount)
    alone = []
    for completion in completions:
        validation._AMOUNT_VERDICTS.clear()
        alone.append(check(completion))
    in_batch = validate_batch(completions, {ACTIVITY_ID: ACTIVITY}, History(), TODAY)
    assert in_batch == alone
    assert [codes(issues) for issues in alone[:3]] == [[673], [], []]
    assert "'True' is not a number" in alone[0][0].message


def test_cme_part_for_an_activity_without_cme_credit_is_674():
    issues = check(make_completion(), make_activity(cme_credits=None))
    assert codes(issues) == [674] and "offers no AMA PRA Category 1" in issues[0].message


def test_credit_type_amount_may_equal_the_total():
    completion = make_completion()
    completion.boards[0].credit_types = {"Medical Knowledge": D("2")}
    assert check(completion) == []


# Identity per board -----------------------------------------------------------------------------------

@pytest.mark.parametrize("board, expected", [("ABP", []), ("ABA", []), ("ABIM", [624]), ("ABS", [624])])
def test_birth_date_is_optional_only_for_abp_and_aba(board, expected):
    completion = make_completion(cme=False, board=board)
    completion.learner.birth_date = None
    assert codes(check(completion)) == expected


def test_cme_needs_the_birth_date():
    completion = make_completion(board=None)
    completion.learner.birth_date = ""
    issues = check(completion)
    assert codes(issues) == [624] and "CME credit" in issues[0].message


@pytest.mark.parametrize("board, expected", [("ABS", []), ("ABOS", []), ("ABTS", []), ("ABIM", [621]),
                                             ("ABA", [621]), ("ABP", [621])])
def test_board_id_is_optional_for_abs_abos_abts(board, expected):
    completion = make_completion(cme=False, board=board)
    completion.boards[0].board_id = None
    assert codes(check(completion)) == expected


@pytest.mark.parametrize("birth_date, ok", [("02/29", True), ("2/9", True), ("02-28", True), ("02/30", False),
                                            ("13/01", False), ("1970", False)])
def test_birth_date_must_be_a_real_month_and_day(birth_date, ok):
    completion = make_completion()
    completion.learner.birth_date = birth_date
    assert codes(check(completion)) == ([] if ok else [624])


@pytest.mark.parametrize("state, license_id, expected", [
    ("", VALID_NPI, []),
    ("NPI", VALID_NPI, []),
    (None, "1234567890", [712]),
    (None, "A12345", [712]),
    ("california", "A12345", []),
    ("ca", "A12345", []),
    ("Guam", "A12345", []),
    ("XX", "A12345", [712]),
])
def test_cme_learner_id_is_a_state_license_or_a_valid_npi(state, license_id, expected):
    completion = make_completion()
    completion.learner.licensing_state = state
    completion.learner.license_id = license_id
    assert codes(check(completion)) == expected


@pytest.mark.parametrize("npi, ok", [(VALID_NPI, True), ("1245319599", True), ("1234567890", False),
                                     ("123456789", False), ("12345678931", False), ("abcdefghij", False),
                                     (None, False)])
def test_npi_check_digit(npi, ok):
    assert is_valid_npi(npi) is ok


def test_unknown_board_with_an_id_is_713_and_712():
    completion = make_completion(cme=False)
    completion.boards[0].board = "ABX"
    assert codes(check(completion)) == [713, 712]


def test_abpath_spelling_is_accepted():
    activity = make_activity(boards=(BoardRegistration("ABPath", D("5"), ("Lifelong Learning",)),))
    completion = make_completion(cme=False, board=None)
    completion.boards = [BoardPart("ABPath", "99", D("5"), {"lifelong learning": None})]
    assert check(completion, activity) == []


# Activity and programme -------------------------------------------------------------------------------

def test_nothing_to_report_is_677():
    issues = check(make_completion(cme=False, board=None))
    assert codes(issues) == [677]


def test_activity_without_moc_is_670():
    issues = check(make_completion(), make_activity(boards=()))
    assert codes(issues) == [670] and "not registered for MOC with any board" in issues[0].message


def test_unknown_activity_id_is_690():
    issues = check(make_completion(activity_id="987654321"), activity=None)
    assert codes(issues) == [690] and "987654321" in issues[0].message


def test_locally_created_activity_without_id_is_not_an_error():
    activity = make_activity(activity_id=None)
    assert check(make_completion(activity_id=None), activity) == []


def test_a_board_part_without_a_credit_type_is_677():
    """PARS: at least one credit certificate per learner completion, whatever the activity offers."""
    activity = make_activity(boards=(BoardRegistration("ABIM", D("10"), ("Medical Knowledge", "Patient Safety")),))
    completion = make_completion(cme=False)
    completion.boards[0].credit_types = {}
    issues = check(completion, activity)
    assert [(issue.code, issue.field) for issue in issues] == [(677, F_CREDIT_TYPE)]
    assert "Choose the ABIM credit type" in issues[0].message
    assert "Medical Knowledge, Patient Safety" in issues[0].message
    single = make_completion(cme=False)
    single.boards[0].credit_types = {}
    assert codes(check(single)) == [677]


def test_the_same_credit_type_twice_in_one_record_is_678():
    completion = make_completion(cme=False)
    completion.boards[0].repeated_types = ["Medical Knowledge"]
    issues = check(completion)
    assert [(issue.code, issue.field) for issue in issues] == [(678, F_CREDIT_TYPE)]
    assert "'Medical Knowledge' appears twice" in issues[0].message


def test_retired_credit_type_is_named_as_retired():
    activity = make_activity(boards=(BoardRegistration("ABPATH", D("5"), ("Lifelong Learning",)),))
    completion = make_completion(cme=False, board=None)
    completion.boards = [BoardPart("ABPATH", "9", D("1"), {"SAM": None})]
    issues = check(completion, activity)
    assert codes(issues) == [676] and "no longer accepts" in issues[0].message


def test_credit_type_known_to_board_but_not_registered_is_676():
    completion = make_completion(cme=False, board="ABS")
    completion.boards[0].credit_types = {"Self-Assessment": None}
    issues = check(completion)
    assert codes(issues) == [676] and "registered: Accredited CME" in issues[0].message


def test_same_board_twice_is_678():
    completion = make_completion(cme=False)
    completion.boards.append(BoardPart("abim", "123456", D("1"), {"Medical Knowledge": None}))
    assert codes(check(completion)) == [678]


def test_rems_part_needs_a_rems_activity_and_known_values():
    completion = make_completion(cme=False, board=None, rems=RemsPart("physician", "Texas", "Individual",
                                                                       time_in_practice="6-10"))
    assert check(completion) == []
    assert codes(check(completion, make_activity(rems=False))) == [713]
    completion.rems = RemsPart("Nurse", "Atlantis", "Sometimes", time_in_practice="ages")
    assert codes(check(completion)) == [0, 0, 0]


# History: earlier records ------------------------------------------------------------------------------

def history_of(*completions: Completion) -> History:
    return history_from_completions((completion, True) for completion in completions)


def test_603_credit_id_used_before_even_if_rejected():
    earlier = make_completion()
    history = history_from_completions([(earlier, False)])
    again = make_completion(credit_id=earlier.credit_id)
    assert codes(check(again, history=history)) == [603]


@pytest.mark.parametrize("earlier_points, points, expected", [
    (D("8"), D("2"), []),  # exactly up to the maximum
    (D("8"), D("2.25"), [711]),
    (D("10"), D("1"), [710]),
])
def test_710_711_against_earlier_points(earlier_points, points, expected):
    earlier = make_completion(cme=False, completion_date=date(2026, 5, 1))
    earlier.boards[0].points = earlier_points
    record = make_completion(cme=False)
    record.boards[0].points = points
    issues = check(record, history=history_of(earlier))
    assert codes(issues) == expected
    if expected == [711]:
        assert "2 remain" in issues[0].message


def test_points_of_deleted_or_rejected_records_do_not_count():
    earlier = make_completion(cme=False)
    earlier.boards[0].points = D("10")
    history = history_from_completions([(earlier, False)])
    assert check(make_completion(cme=False), history=history) == []


def test_the_learner_is_matched_by_name_when_the_earlier_record_had_several_boards():
    earlier = make_completion(cme=False)
    earlier.boards[0].points = D("10")
    earlier.boards.append(BoardPart("ABP", "777", D("1"), {"Lifelong Learning & Self-Assessment": None}))
    record = make_completion(cme=False)
    assert codes(check(record, history=history_of(earlier))) == [710]


def test_717_one_completion_per_day_for_aba_only():
    earlier = make_completion(cme=False, board="ABA")
    earlier.boards[0].points = D("1")
    history = history_of(earlier)
    same_day = make_completion(cme=False, board="ABA")
    same_day.boards[0].points = D("1")
    issues = check(same_day, history=history)
    assert codes(issues) == [717] and "06-01-2026" in issues[0].message
    next_day = make_completion(cme=False, board="ABA", completion_date=date(2026, 6, 2))
    next_day.boards[0].points = D("1")
    assert check(next_day, history=history) == []
    abim_earlier = make_completion(cme=False)
    abim_again = make_completion(cme=False)
    assert check(abim_again, history=history_of(abim_earlier)) == []


def test_prior_from_completion_keeps_what_later_checks_need():
    completion = make_completion(completion_date="06-01-2026")
    completion.boards[0].board = "abim"
    prior = prior_from_completion(completion, counts=False)
    assert prior.credit_id == completion.credit_id
    assert prior.activity_id == ACTIVITY_ID
    assert prior.completion_date == date(2026, 6, 1)
    assert prior.board_points == (("ABIM", D("2")),)
    assert prior.learner_key == "ABIM#123456"
    assert prior.counts is False


# Deletes -----------------------------------------------------------------------------------------------

def as_delete(completion: Completion) -> Completion:
    delete = copy.deepcopy(completion)
    delete.action = "delete"
    return delete


def test_delete_of_a_sent_record_with_the_same_fields_passes():
    sent = make_completion()
    assert check(as_delete(sent), history=history_of(sent)) == []


def test_delete_of_unknown_credit_id_is_605():
    issues = check(as_delete(make_completion()))
    assert codes(issues) == [605] and "nothing to delete" in issues[0].message


def test_delete_that_differs_from_the_sent_record_is_605_naming_the_fields():
    sent = make_completion()
    delete = as_delete(sent)
    delete.completion_date = date(2026, 6, 2)
    delete.learner.birth_date = "03/08"
    delete.boards[0].points = D("1")
    issues = check(delete, history=history_of(sent))
    assert codes(issues) == [605]
    assert issues[0].message.endswith("Completion Date, Date of Birth, Total Board Credits")
    assert "03/08" not in issues[0].message


def test_delete_tolerates_spelling_differences_that_mean_the_same():
    sent = make_completion()
    delete = as_delete(sent)
    delete.completion_date = "06-01-2026"
    delete.learner.first_name = "ADA"
    delete.learner.licensing_state = "California"
    delete.learner.birth_date = "3/7"
    delete.boards[0].board = "abim"
    delete.boards[0].credit_types = {"medical knowledge": D("2")}
    assert check(delete, history=history_of(sent)) == []


@pytest.mark.parametrize("as_of, expected", [(date(2026, 12, 31), []), (date(2027, 1, 1), [706])])
def test_deletes_close_on_december_31_of_the_completion_year(as_of, expected):
    sent = make_completion()
    issues = check(as_delete(sent), history=history_of(sent), as_of=as_of)
    assert codes(issues) == expected
    if expected:
        assert "12-31-2026" in issues[0].message


# Permission ----------------------------------------------------------------------------------------------

def test_no_permission_is_not_a_pars_error_but_blocks_queueing():
    completion = make_completion(permission=False)
    assert check(completion) == []
    assert not can_queue(completion)
    assert [(issue.code, issue.field) for issue in queue_blockers(completion)] == [(0, F_PERMISSION)]
    assert can_queue(make_completion()) and queue_blockers(make_completion()) == []


# Batches ---------------------------------------------------------------------------------------------------

ACTIVITIES = {ACTIVITY_ID: ACTIVITY}


def test_batch_finds_a_credit_id_used_twice_in_the_file():
    first = make_completion()
    second = make_completion(credit_id=first.credit_id)
    second.learner.first_name = "Grace"
    assert [codes(issues) for issues in validate_batch([first, second], ACTIVITIES, History(), TODAY)] == [[], [603]]


def test_batch_counts_points_across_the_file_without_touching_the_callers_history():
    history = History()
    records = []
    for points in ("6", "4", "0.25"):
        record = make_completion(cme=False)
        record.boards[0].points = D(points)
        records.append(record)
    assert [codes(issues) for issues in validate_batch(records, ACTIVITIES, history, TODAY)] == [[], [], [710]]
    assert history.priors == [] and history.used_credit_ids == set()


def test_batch_711_and_invalid_records_do_not_use_up_points():
    records = []
    for points, first_name in (("6", None), ("6", "Ada"), ("4.25", "Ada")):
        record = make_completion(cme=False)
        record.learner.first_name = first_name
        record.boards[0].points = D(points)
        records.append(record)
    # The first lacks a name, so only the second uses points; the third then exceeds by 0.25.
    assert [codes(issues) for issues in validate_batch(records, ACTIVITIES, History(), TODAY)] == [[622], [], [711]]


def test_batch_717_within_the_file():
    records = [make_completion(cme=False, board="ABA"), make_completion(cme=False, board="ABA")]
    for record in records:
        record.boards[0].points = D("1")
    assert [codes(issues) for issues in validate_batch(records, ACTIVITIES, History(), TODAY)] == [[], [717]]


def test_batch_delete_frees_points_and_cannot_be_repeated():
    sent = make_completion(cme=False)
    sent.boards[0].points = D("10")
    history = history_of(sent)
    again = make_completion(cme=False)
    records = [as_delete(sent), again, as_delete(sent)]
    assert [codes(issues) for issues in validate_batch(records, ACTIVITIES, history, TODAY)] == [[], [], [605]]


def test_batch_looks_up_each_records_activity():
    record = make_completion(activity_id="111111111")
    assert [codes(issues) for issues in validate_batch([record], ACTIVITIES, History(), TODAY)] == [[690]]


def test_batch_tells_credit_types_from_repeated_types_whose_values_line_up():
    """A batch works out the verdict on a combination of content once (validation._content_key): records
    whose credit types, repeated types and board parts hold the same values in other places are not
    one combination. Each gets the verdict it gets alone."""
    knowledge, safety = "Medical Knowledge", "Patient Safety"
    shapes = [({knowledge: None}, []), ({}, [knowledge, None]), ({knowledge: None}, [knowledge]),
              ({knowledge: None, safety: None}, []), ({knowledge: None}, [safety, None])]
    records = []
    two, day = D("2"), date(2026, 6, 1)  # the very same objects in every record, as a reader gives them
    for index, (types, repeated) in enumerate(shapes):
        record = make_completion(completion_date=day, cme=False)
        record.boards[0].points = two
        record.boards[0].board_id = str(700000 + index)
        record.boards[0].credit_types = dict(types)
        record.boards[0].repeated_types = list(repeated)
        records.append(record)
    alone = [check(record) for record in records]
    assert validate_batch(records, ACTIVITIES, History(), TODAY) == alone
    assert [codes(issues) for issues in alone] == [[], [677], [678], [680], [678, 678]]


def test_batch_of_5000_records_against_a_long_history_all_pass():
    history = history_of(*(make_completion(completion_date=date(2026, 5, 1)) for _ in range(2000)))
    records = []
    for index in range(5000):
        record = make_completion()
        record.learner.last_name = f"Learner{index}"
        record.boards[0].board_id = str(100000 + index)
        records.append(record)
    results = validate_batch(records, ACTIVITIES, history, TODAY)
    # timings live in bench/bench_check.py: the suite checks behaviour, not a busy machine's speed
    assert len(results) == 5000 and all(issues == [] for issues in results)


# Activities ------------------------------------------------------------------------------------------------

def test_a_complete_activity_has_no_issues():
    assert validate_activity(ACTIVITY) == []
    assert validate_activity(make_activity(activity_id=None, activity_type="RSS")) == []


ACTIVITY_FAULTS = [
    ("title", dict(title=" "), 0, A_TITLE, "required"),
    ("id", dict(activity_id="12AB"), 690, F_ACTIVITY_ID, "'12AB'"),
    ("type", dict(activity_type="Knitting Circle"), 0, A_ACTIVITY_TYPE, "'Knitting Circle'"),
    ("dates", dict(end_date=date(2025, 12, 31)), 0, A_END_DATE, "12-31-2025 is before the start date 01-01-2026"),
    ("no start date", dict(start_date=None), 0, "Start Date", "required"),
    ("no end date", dict(end_date=None), 0, A_END_DATE, "required"),
    ("cme negative", dict(cme_credits=D("-1")), 0, "AMA PRA Category 1 Credits", "-1"),
    ("cme steps", dict(cme_credits=D("1.3")), 675, "AMA PRA Category 1 Credits", "1.3"),
    ("board", dict(boards=(BoardRegistration("ABX", D("1"), ("X",)),)), 713, F_BOARD, "'ABX'"),
    ("points zero", dict(boards=(BoardRegistration("ABIM", D("0"), ("Medical Knowledge",)),)), 673,
     A_MOC_POINTS, "ABIM"),
    ("points steps", dict(boards=(BoardRegistration("ABIM", D("2.1"), ("Medical Knowledge",)),)), 675,
     A_MOC_POINTS, "2.1"),
    ("no types", dict(boards=(BoardRegistration("ABIM", D("2"), ()),)), 676, A_CREDIT_TYPES, "at least one"),
    ("bad type", dict(boards=(BoardRegistration("ABIM", D("2"), ("Knitting",)),)), 676, A_CREDIT_TYPES,
     "'Knitting'"),
    ("type twice", dict(boards=(BoardRegistration("ABIM", D("2"), ("Medical Knowledge", "medical knowledge")),)),
     678, A_CREDIT_TYPES, "twice"),
    ("board twice", dict(boards=(BoardRegistration("ABIM", D("2"), ("Medical Knowledge",)),
                                 BoardRegistration("abim", D("2"), ("Medical Knowledge",)))), 0, F_BOARD, "twice"),
    ("claim date", dict(boards=(BoardRegistration("ABIM", D("2"), ("Medical Knowledge",), date(2025, 1, 1)),)),
     0, A_CREDIT_CLAIM_DATE, "01-01-2025"),
]


@pytest.mark.parametrize("changes, code, field, words", [case[1:] for case in ACTIVITY_FAULTS],
                         ids=[case[0] for case in ACTIVITY_FAULTS])
def test_activity_faults(changes, code, field, words):
    issues = validate_activity(make_activity(**changes))
    assert [(issue.code, issue.field) for issue in issues] == [(code, field)], issues
    assert words in issues[0].message


# The catalogue and the validator agree ------------------------------------------------------------------------

def _codes_in_validator_source() -> set[int]:
    source = (Path(__file__).resolve().parent.parent / "app" / "pars" / "validation.py").read_text()
    # Codes passed to found.add(...) directly, plus the default "missing" code of the amount helper.
    return {int(code) for code in re.findall(r"(?:found\.add\(|_code: int \| None = )(\d{3})\b", source)}


def test_every_code_the_validator_emits_is_catalogued_as_local():
    emitted = _codes_in_validator_source()
    errors = catalog.errors()
    assert emitted, "the validator's codes could not be found"
    for code in emitted:
        assert code in errors, code
        assert errors[code].side == "local", code


def test_every_local_code_in_the_catalogue_is_checked():
    local = {code for code, info in catalog.errors().items() if info.side == "local"}
    assert local - _codes_in_validator_source() == set()


def test_codes_emitted_by_the_tests_cover_every_local_code():
    emitted = {case[2] for case in SINGLE_FAULTS}
    covered_elsewhere = {603, 605, 672, 677, 705, 706, 710, 711, 717}
    local = {code for code, info in catalog.errors().items() if info.side == "local"}
    assert local - emitted - covered_elsewhere == set()


@pytest.mark.parametrize("status", [s.value for s in Status])
def test_only_a_submitted_record_waits_before_it_can_be_deleted(status):
    from app.pars.validation import delete_refusal

    refusal = delete_refusal(status)
    # an uploaded file's record waits too: whether PARS took it is not known yet
    assert (refusal is not None) == (status in ("Submitted", "Uploaded by file"))
    if status == "Submitted":
        assert "Accepted or Rejected" in refusal
    if status == "Uploaded by file":
        assert "rejection workbook" in refusal
