"""Names and IDs are found however they were typed: accents, case, punctuation, leading zeros.

The folded keys are stored with each row (and backfilled by migration 0005), so the search is an
index lookup; these tests pin what a coordinator types against what the store holds."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select, text

from app.models import Store
from app.models.schema import CompletionBoardRow, CompletionRow, LearnerRow
from app.models.search_keys import id_key, name_key, name_words
from app.pars.domain import BoardPart, Learner
from app.services.learners import SearchFilters, local_learner_matches, search_records
from app.ui.learner_search import LearnerSearchTab

from decimal import Decimal

from learner_support import add_activity, completion, recent_activity, store_record
from test_migrations import _migrate_to
from ui_support import make_context

RECENT = date.today() - timedelta(days=3)


def test_name_keys_fold_accents_case_and_punctuation():
    assert name_key("Müller") == "muller"
    assert name_key("D'Arcy") == name_key("D’Arcy") == name_key("darcy") == "darcy"
    assert name_key("Søren-Łukasz") == "sorenlukasz"
    assert name_key("STRAẞE") == name_key("Straße") == "strasse"
    assert name_words(" o'neil,  MÜL ") == ["oneil", "mul"]
    assert name_words("' - ,") == []


def test_id_keys_ignore_leading_zeros_case_and_separators():
    assert id_key("0012345") == id_key("12345") == "12345"
    assert id_key(" a-12 345 ") == "A12345"
    assert id_key("000") == "0"
    assert id_key("") == ""


def _names(records) -> set[str]:
    return {r.last_name for r in records}


def test_search_finds_names_and_ids_however_typed(store):
    activity = recent_activity(store)
    store_record(store, activity, completion("Jürgen", "Müller", license_id="0012345", completed=RECENT))
    store_record(store, activity, completion("Kate", "D'Arcy", license_id="K7", completed=RECENT,
                                             boards=[BoardPart("ABIM", "000654321", Decimal("8"), {"Medical Knowledge": None})]))
    store_record(store, activity, completion("Ada", "Lovelace", license_id="A1", completed=RECENT))
    with store.session() as s:
        def find(**filters) -> set[str]:
            return _names(search_records(s, SearchFilters(**filters), limit=None))

        assert find(name="muller") == {"Müller"}
        assert find(name="MÜLL jurg") == {"Müller"}
        assert find(name="darcy") == {"D'Arcy"}
        assert find(name="d'arc") == {"D'Arcy"}
        assert find(learner_id="12345") == {"Müller"}
        assert find(learner_id="0012345") == {"Müller"}
        assert find(learner_id="654321") == {"D'Arcy"}
        assert find(name="ada lovelace") == {"Lovelace"}
        assert find(name="lovelace müller") == set()


def test_an_activity_word_that_is_a_number_also_matches_titles(store):
    update = add_activity(store, accme_id="123456789", title="2026 Update in Cardiology",
                          start=RECENT - timedelta(days=5), end=RECENT)
    other = add_activity(store, accme_id="202600001", title="Sepsis", start=RECENT - timedelta(days=5), end=RECENT)
    store_record(store, update, completion("Ada", "Lovelace", license_id="A1", completed=RECENT))
    store_record(store, other, completion("Alan", "Turing", license_id="T1", completed=RECENT))
    with store.session() as s:
        found = _names(search_records(s, SearchFilters(activity="2026"), limit=None))
        by_id = _names(search_records(s, SearchFilters(activity="1234"), limit=None))
    assert found == {"Lovelace", "Turing"}  # the title's "2026" and the ACCME ID starting 2026
    assert by_id == {"Lovelace"}


def test_typing_an_unaccented_name_in_learner_search_finds_the_accented_record(qtbot, store):
    activity = recent_activity(store)
    store_record(store, activity, completion("Jürgen", "Müller", license_id="L1", completed=RECENT))
    store_record(store, activity, completion("Ada", "Lovelace", license_id="A1", completed=RECENT))
    tab = LearnerSearchTab(make_context(store))
    qtbot.addWidget(tab)
    tab.show()
    with qtbot.waitSignal(tab.searched, timeout=2_000) as searched:
        qtbot.keyClicks(tab.name_edit, "muller")
    assert searched.args == [1]
    assert tab.model.record(0).last_name == "Müller"


def test_offline_learner_match_ignores_accents_and_case(store):
    activity = recent_activity(store)
    store_record(store, activity, completion("Jürgen", "Müller", license_id="0012345", completed=RECENT))
    with store.session() as s:
        by_license = local_learner_matches(s, Learner(first_name="", last_name="MULLER", license_id="12345"))
        by_name = local_learner_matches(s, Learner(first_name="jurgen", last_name="muller"))
    assert [m.learner.last_name for m in by_license] == ["Müller"]
    assert [m.learner.last_name for m in by_name] == ["Müller"]


def test_edited_names_refold_their_keys(store):
    activity = recent_activity(store)
    record_id = store_record(store, activity, completion("Ada", "Lovelace", license_id="A1", completed=RECENT))
    with store.transaction() as s:
        row = s.get(CompletionRow, record_id)
        row.last_name = "Ñúñez"
        row.license_id = "00-777"
    with store.session() as s:
        keys = s.execute(select(CompletionRow.last_key, CompletionRow.license_key).where(CompletionRow.id == record_id)).one()
    assert tuple(keys) == ("nunez", "777")


def test_migration_0005_folds_the_keys_of_existing_rows(tmp_path):
    from app.models.store import make_engine

    path = tmp_path / "old.sqlite3"
    engine = make_engine(path)
    _migrate_to(engine, "0004")
    with engine.begin() as c:
        c.execute(text("INSERT INTO activity (id, title, activity_type, start_date, end_date, rems, "
                       "state_collaboration, created_at, updated_at, pars_outdated) VALUES "
                       "(1, 'Course', 'Course', '2026-01-05', '2026-01-07', 0, 0, '2026-01-01', '2026-01-01', 0)"))
        c.execute(text("INSERT INTO learner (id, first_name, last_name, birth_date, licensing_state, license_id, "
                       "board_ids, created_at) VALUES (1, 'Zoë', 'O''Brien', '11/16', 'CA', '0042', '{}', '2026-01-01')"))
        c.execute(text("INSERT INTO completion (id, credit_id, activity_id, learner_id, first_name, last_name, "
                       "license_id, completion_date, report_cme, status, permission_given, created_at, updated_at) "
                       "VALUES (1, 'ccid:1:a', 1, 1, 'Zoë', 'O''Brien', '0042', '2026-01-06', 1, 'Accepted', 1, "
                       "'2026-01-01', '2026-01-01')"))
        c.execute(text("INSERT INTO completion_board (completion_id, board, board_id, points, credit_types) "
                       "VALUES (1, 'ABIM', '00123', '8', '{}')"))
    engine.dispose()

    store = Store.open(path)
    with store.session() as s:
        record = s.execute(select(CompletionRow.first_key, CompletionRow.last_key, CompletionRow.license_key)).one()
        learner = s.execute(select(LearnerRow.first_key, LearnerRow.last_key, LearnerRow.license_key)).one()
        board = s.scalar(select(CompletionBoardRow.board_id_key))
        found = search_records(s, SearchFilters(name="obrien zoe", learner_id="42"), limit=None)
    store.close()
    assert tuple(record) == tuple(learner) == ("zoe", "obrien", "42")
    assert board == "123"
    assert [r.last_name for r in found] == ["O'Brien"]
