"""The PARS catalogues load from data files, answer lookups forgivingly and can be overridden by an office."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from app import paths
from app.pars import catalog

TUTORIAL_CODES = [601, 602, 603, 605, 621, 622, 623, 624, 630, 631, 632, 650, 661, 664, 665,
                  670, 671, 672, 673, 674, 675, 676, 677, 678, 680, 681, 690, 705, 706, 709, 710,
                  711, 712, 713, 717, 718, 998, 999]
PARS_SIDE = {661, 664, 665, 709, 718, 998, 999}


def test_the_nine_boards_are_catalogued():
    assert set(catalog.boards()) == {"ABA", "ABIM", "ABOS", "ABOHNS", "ABPATH", "ABP", "ABPMR", "ABS", "ABTS"}


@pytest.mark.parametrize("text, code", [("abim", "ABIM"), (" ABPath ", "ABPATH"), ("abpath", "ABPATH"),
                                        ("ABS", "ABS"), ("ABX", None), ("", None), (None, None)])
def test_board_lookup_ignores_case_and_knows_abpath(text, code):
    found = catalog.board(text)
    assert (found.code if found else None) == code


@pytest.mark.parametrize(
    "code, board_id_required, dob_required",
    [("ABA", True, False), ("ABIM", True, True), ("ABOS", False, True), ("ABOHNS", True, True),
     ("ABPATH", True, True), ("ABP", True, False), ("ABPMR", True, True), ("ABS", False, True),
     ("ABTS", False, True)],
)
def test_board_identity_requirements_follow_the_facts(code, board_id_required, dob_required):
    info = catalog.board(code)
    assert info.board_id_required is board_id_required
    assert info.dob_required is dob_required


def test_board_specific_rules():
    assert catalog.board("ABA").one_completion_per_day
    assert not catalog.board("ABIM").one_completion_per_day
    assert catalog.board("ABS").earliest_completion == date(2021, 3, 1)
    assert catalog.board("ABIM").credit_types == ("Medical Knowledge", "Practice Assessment", "Patient Safety")
    assert catalog.board("ABIM").is_patient_safety("Patient Safety")
    assert catalog.board("ABIM").is_practice_assessment("Practice Assessment")
    assert catalog.board("ABPATH").is_practice_assessment("Improvement in Medical Practice")
    assert catalog.board("ABPATH").is_retired("self-assessment module")
    assert catalog.board("ABS").credit_types == ("Accredited CME", "Self-Assessment")


@pytest.mark.parametrize("code, written, canonical", [
    ("ABIM", "medical  knowledge", "Medical Knowledge"),
    ("ABA", "MOCA", "Lifelong Learning"),
    ("ABP", "Part 4", "Improving Professional Practice"),
    ("ABIM", "Lifelong Learning", None),
])
def test_credit_type_names_are_forgiving(code, written, canonical):
    assert catalog.board(code).credit_type(written) == canonical


def test_default_deadlines_are_march_31_next_year_for_reports_and_same_year_for_deletes():
    info = catalog.board("ABIM")
    assert info.report_deadline.for_year(2025) == date(2026, 3, 31)
    assert info.delete_deadline.for_year(2025) == date(2025, 12, 31)
    assert catalog.cme_rules().dob_required


def test_every_tutorial_error_code_is_catalogued_with_message_meaning_and_fix():
    errors = catalog.errors()
    assert sorted(errors) == TUTORIAL_CODES
    for code, info in errors.items():
        assert info.message and info.meaning and info.fix, code
        assert info.side == ("pars" if code in PARS_SIDE else "local"), code


def test_unknown_error_code_gets_a_generic_entry():
    info = catalog.error(12345)
    assert info.side == "pars" and "12345" in info.message
    assert catalog.describe(671) == "671 Activity completion date not valid"
    assert catalog.error(catalog.LOCAL_CHECK).side == "local"


@pytest.mark.parametrize("text, code", [("CA", "CA"), ("ca", "CA"), ("California", "CA"),
                                        (" california ", "CA"), ("new  york", "NY"), ("Washington DC", "DC"),
                                        ("PR", "PR"), ("Virgin Islands", "VI"), ("Guam", "GU"),
                                        ("American Samoa", "AS"), ("MP", "MP"), ("XX", None), ("", None)])
def test_state_code_accepts_codes_and_names(text, code):
    assert catalog.state_code(text) == code


def test_states_cover_fifty_states_dc_and_territories():
    states = catalog.states()
    assert len(states) == 56
    assert catalog.state_name("dc") == "District of Columbia"
    primary = {code for code, info in states.items() if info.pars_primary_source}
    assert primary == {"AL", "AK", "DC", "ID", "CA", "ME", "MD", "MS", "NJ", "NC", "ND", "OR", "VI", "WA", "WY"}
    assert all(re.fullmatch(r"[A-Z]{2}", code) for code in states)


def test_reference_lists():
    assert "Course" in catalog.activity_types()
    assert catalog.activity_type("rss") == "Regularly Scheduled Series"
    assert catalog.activity_type("Knitting") is None
    assert len(catalog.rems_professions()) == 12
    assert catalog.rems_profession("physician assistant") == "Physician Assistant"
    assert catalog.dea_registrations() == ("Individual", "Institutional", "None")
    assert catalog.time_in_practice("6-10") == "6-10 years"
    assert catalog.time_in_practice("21+ Years") == "21+ years"
    assert catalog.time_in_practice("forever") is None


@pytest.fixture
def override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PARSDESK_CATALOG_DIR", str(tmp_path))
    catalog.reload()
    yield tmp_path
    monkeypatch.setenv("PARSDESK_CATALOG_DIR", "")
    catalog.reload()


def test_an_office_override_replaces_the_bundled_file(override: Path):
    text = paths.resource("pars", "boards.toml").read_text(encoding="utf-8")
    edited = text.replace('credit_types = ["Lifelong Learning", "Self-Assessment"]\npatient_safety_types = []\n'
                          'practice_assessment_types = []\none_completion_per_day = false\n\n[boards.ABOHNS]',
                          'credit_types = ["Lifelong Learning", "Self-Assessment", "Knowledge Check"]\n'
                          'patient_safety_types = []\npractice_assessment_types = []\n'
                          'one_completion_per_day = false\n\n[boards.ABOHNS]')
    assert edited != text
    (override / "boards.toml").write_text(edited, encoding="utf-8")
    catalog.reload()
    assert "Knowledge Check" in catalog.board("ABOS").credit_types
    assert catalog.catalog_path("error_codes.toml") == paths.resource("pars", "error_codes.toml")


@pytest.mark.parametrize("breakage, expected", [
    (("board_id_required = true\ndob_required = false", 'board_id_required = true\ndob_required = "no"'),
     "'dob_required' has the wrong type"),
    (('month_day = "12-31" }', 'month_day = "02-30" }'), "not a real MM-DD"),
    (('patient_safety_types = ["Patient Safety"]\npractice_assessment_types = ["Practice Assessment"]',
      'patient_safety_types = ["Safety"]\npractice_assessment_types = ["Practice Assessment"]'),
     "not in credit_types"),
    (("[boards.ABS]", "[boards.ABS"), "not valid TOML"),
])
def test_a_broken_catalogue_names_the_file_and_the_problem(override: Path, breakage, expected):
    old, new = breakage
    text = paths.resource("pars", "boards.toml").read_text(encoding="utf-8")
    assert old in text
    (override / "boards.toml").write_text(text.replace(old, new, 1), encoding="utf-8")
    catalog.reload()
    with pytest.raises(catalog.CatalogError, match=re.escape(expected)) as raised:
        catalog.boards()
    assert str(override / "boards.toml") in str(raised.value)


def test_the_bundled_catalogue_files_exist():
    for name in catalog.CATALOG_FILES:
        assert paths.resource("pars", name).is_file()


def test_a_reloaded_catalogue_reaches_the_board_codes_a_batch_check_keeps(override: Path):
    """validation keeps the board code of each board text a batch repeats (its learner keys use them):
    an alias an office adds must count from the next check on."""
    from app.pars import validation
    from app.pars.domain import BoardPart, Completion, Learner

    record = Completion(learner=Learner("Ada", "Lovelace"), boards=[BoardPart("Internal Medicine", "123")])
    assert "INTERNAL MEDICINE#123" in validation._learner_keys(record)
    text = paths.resource("pars", "boards.toml").read_text(encoding="utf-8")
    header = '[boards.ABIM]\nname = "American Board of Internal Medicine"\n'
    assert header in text
    (override / "boards.toml").write_text(text.replace(header, header + 'aliases = ["Internal Medicine"]\n'),
                                          encoding="utf-8")
    catalog.reload()
    assert "ABIM#123" in validation._learner_keys(record)
