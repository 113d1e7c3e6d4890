"""Full garbage collections never run in the middle of bulk work (app/ui/garbage.py): the window's own
objects are frozen out of the collector's sight once it is built, and a Batch Upload's workers, like a
sync pass, hold full collections until they are done (a full collection in a worker holds the
interpreter lock, so the window froze 100-190 ms each time: bench/bench_ui.py --watch)."""

from __future__ import annotations

import gc

from app.services import batch_import
from app.ui import garbage
from tests.batch_support import AS_OF, add_activity, row, write_xlsx
from tests.test_batch_upload_tab import attest_and_queue, drop_and_wait_summary
from tests.ui_support import make_context, make_window


def test_holds_nest_by_owner_and_the_last_release_restores_the_thresholds():
    before = gc.get_threshold()
    garbage.hold_full_collections("a")
    garbage.hold_full_collections("b")
    garbage.hold_full_collections("a")  # holding twice is holding once
    assert gc.get_threshold() == (*before[:2], garbage.HELD_THRESHOLD)
    garbage.release_full_collections("a")
    assert garbage.full_collections_held() and gc.get_threshold()[2] == garbage.HELD_THRESHOLD
    garbage.release_full_collections("nobody")  # a release without a hold changes nothing
    assert gc.get_threshold()[2] == garbage.HELD_THRESHOLD
    garbage.release_full_collections("b")
    assert not garbage.full_collections_held() and gc.get_threshold() == before


def test_the_window_freezes_what_it_was_built_with(qtbot, store):
    make_window(qtbot, make_context(store))
    assert garbage.freeze_startup_heap() is False  # done once per process, by the first window
    assert gc.get_freeze_count() > 10_000


def test_a_batch_upload_holds_full_collections_while_its_workers_run(qtbot, store, tmp_path, monkeypatch):
    add_activity(store)
    window = make_window(qtbot, make_context(store))
    tab = window.upload_tab
    tab.as_of = AS_OF
    before = gc.get_threshold()
    seen: list[tuple[str, int]] = []
    real_analyse, real_commit = batch_import.analyse_file, batch_import.commit_upload

    def analyse(*args, **kwargs):
        seen.append(("analyse", gc.get_threshold()[2]))
        return real_analyse(*args, **kwargs)

    def commit(*args, **kwargs):
        seen.append(("commit", gc.get_threshold()[2]))
        return real_commit(*args, **kwargs)

    monkeypatch.setattr(batch_import, "analyse_file", analyse)
    monkeypatch.setattr(batch_import, "commit_upload", commit)
    drop_and_wait_summary(qtbot, tab, write_xlsx(tmp_path / "april.xlsx", [row(1), row(2)]))
    assert gc.get_threshold() == before  # between the summary and the click, nothing is held
    attest_and_queue(qtbot, tab)
    assert seen == [("analyse", garbage.HELD_THRESHOLD), ("commit", garbage.HELD_THRESHOLD)]
    assert gc.get_threshold() == before and not garbage.full_collections_held()
