"""`ctx.read_later`: reads that grow with the store run off the GUI thread, coalesced per key, and the
views that use them still follow record changes (after a sync, after an upload)."""

from __future__ import annotations

import os
import sys
import threading

import pytest
from PySide6.QtWidgets import QLabel
from sqlalchemy import func, select

from app.models import CompletionRow
from app.pars.domain import Status
from tests.sync_support import add_activity, queue_records, sandbox_client
from tests.ui_support import make_context, make_window


def _count_records(session) -> int:  # noqa: ANN001
    return session.scalar(select(func.count()).select_from(CompletionRow))


def test_the_read_runs_off_the_gui_thread_and_its_result_comes_back_on_it(qtbot, store):
    activity = add_activity(store)
    queue_records(store, activity, 3)
    ctx = make_context(store)
    threads: list[int] = []

    def counted(session) -> int:  # noqa: ANN001
        threads.append(threading.get_ident())
        return _count_records(session)

    results: list[tuple[int, int]] = []
    ctx.read_later("count", counted, on_result=lambda n: results.append((n, threading.get_ident())))
    assert ctx.reads_pending
    qtbot.waitUntil(lambda: bool(results), timeout=5_000)
    assert results == [(3, threading.get_ident())]
    assert threads and threads[0] != threading.get_ident()
    assert not ctx.reads_pending


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="nice per thread is Linux's")
def test_background_reads_give_way_to_the_gui_thread_for_the_cpu(qtbot, store):
    from app.ui.context import BACKGROUND_READ_NICE

    ctx = make_context(store)
    gui = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen: list[int] = []

    def priority(session) -> int:  # noqa: ANN001
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    for _ in range(3):  # a thread is lowered once, however many reads it runs
        ctx.read_later("priority", priority, on_result=seen.append)
        qtbot.waitUntil(lambda: not ctx.reads_pending, timeout=5_000)
    assert seen == [min(19, gui + BACKGROUND_READ_NICE)] * 3
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == gui  # the GUI thread is left as it was


def test_requests_made_while_a_read_runs_collapse_into_one_rerun_with_the_newest_arguments(qtbot, store):
    ctx = make_context(store)
    running, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow(session, label: str) -> str:  # noqa: ANN001
        calls.append(label)
        if label == "first":
            running.set()
            release.wait(10)
        return label

    results: list[str] = []
    ctx.read_later("slow", slow, "first", on_result=results.append)
    assert running.wait(5)
    for label in ("second", "third", "fourth"):
        ctx.read_later("slow", slow, label, on_result=results.append)
    release.set()
    qtbot.waitUntil(lambda: not ctx.reads_pending, timeout=5_000)
    assert calls == ["first", "fourth"]
    assert results == ["first", "fourth"]


def test_nothing_is_delivered_after_closing_nor_to_a_deleted_widget(qtbot, store):
    ctx = make_context(store)
    label = QLabel()
    ctx.read_later("gone", _count_records, on_result=label.setNum)
    label.deleteLater()
    qtbot.waitUntil(lambda: not ctx.reads_pending, timeout=5_000)  # no RuntimeError for the deleted label

    results: list[int] = []
    assert ctx.close_background_reads(5_000)
    ctx.read_later("closed", _count_records, on_result=results.append)
    qtbot.wait(50)
    assert results == [] and not ctx.reads_pending


def test_a_failing_read_is_logged_and_the_next_one_still_runs(qtbot, store, caplog):
    ctx = make_context(store)

    def broken(session) -> int:  # noqa: ANN001
        raise ValueError("no such thing")

    results: list[int] = []
    ctx.read_later("count", broken, on_result=results.append)
    qtbot.waitUntil(lambda: not ctx.reads_pending, timeout=5_000)
    assert "no such thing" in caplog.text and results == []
    ctx.read_later("count", _count_records, on_result=results.append)
    qtbot.waitUntil(lambda: results == [0], timeout=5_000)


def test_counts_and_status_follow_a_sync_with_the_counts_read_in_the_background(qtbot, store, sandbox):
    activity = add_activity(store, accme_id="123456789")
    queue_records(store, activity, 4)
    ctx = make_context(store, sandbox=sandbox, client_factory=lambda: sandbox_client(sandbox.url))
    window = make_window(qtbot, ctx)
    assert window.activities_tab.model_counts() == {Status.QUEUED.value: 4}
    reads: list[str] = []
    original = ctx.read_later
    ctx.read_later = lambda key, *args, **kwargs: (reads.append(key), original(key, *args, **kwargs))[1]
    with qtbot.waitSignal(window.sync_finished, timeout=20_000) as finished:
        window.sync_now()
    assert finished.args[0]["sent"] == 4
    assert window.queued_label.text() == "Nothing queued"
    qtbot.waitUntil(lambda: Status.QUEUED.value not in window.activities_tab.model_counts(), timeout=5_000)
    assert sum(window.activities_tab.model_counts().values()) == 4
    assert "activity-counts" in reads
    # the attention list is re-read once the sync is over, in the background too
    qtbot.waitUntil(lambda: "attention" in reads, timeout=5_000)


def test_a_new_match_outside_the_loaded_pages_is_counted_in_the_background(qtbot, store):
    """A Learner Summary showing some pages of a large activity: the recount a change needs (a count
    over every match) is not taken on the GUI thread; the total follows when it arrives, once."""
    from datetime import date, timedelta

    from app.services import learners
    from app.ui.record_model import SUMMARY_COLUMNS, LearnerRecordModel
    from tests.learner_support import completion, recent_activity, store_record

    recent = date.today() - timedelta(days=3)
    activity = recent_activity(store)
    for n in range(12):
        store_record(store, activity, completion("Learner", f"N{n:02d}", license_id=f"L{n}", completed=recent))
    ctx = make_context(store)
    model = LearnerRecordModel(ctx.read, SUMMARY_COLUMNS, page_size=5, read_later=ctx.read_later)
    model.set_filters(learners.SearchFilters(activity_row_id=activity))
    assert (model.rowCount(), model.total) == (5, 12)
    totals: list[int] = []
    model.total_changed.connect(totals.append)
    newcomer = store_record(store, activity, completion("Learner", "N99", license_id="L99", completed=recent))
    model.update_rows([newcomer])
    assert model.total == 12 and ctx.reads_pending  # not counted on the GUI thread
    qtbot.waitUntil(lambda: not ctx.reads_pending, timeout=5_000)
    assert totals == [13] and model.total == 13 and model.rowCount() == 5 and model.row_of(newcomer) is None

    # a recount that arrives after a reload (another activity, a new sort) is not applied
    model.update_rows([newcomer])
    model.set_filters(learners.SearchFilters(activity_row_id=activity, status="Accepted"))
    qtbot.waitUntil(lambda: not ctx.reads_pending, timeout=5_000)
    assert model.total == 0


def test_the_window_shortens_the_interpreter_switch_interval(qtbot, store):
    """Worker threads running Python make the GUI thread wait for the interpreter lock before each of
    its calls: the window asks for a short hand-over interval (and never lengthens a shorter one)."""
    import sys

    from app.ui.main_window import GUI_SWITCH_INTERVAL_S

    previous = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.005)
        make_window(qtbot, make_context(store))
        assert sys.getswitchinterval() == GUI_SWITCH_INTERVAL_S
        sys.setswitchinterval(0.0002)
        make_window(qtbot, make_context(store))
        assert sys.getswitchinterval() < GUI_SWITCH_INTERVAL_S
    finally:
        sys.setswitchinterval(previous)


def test_another_process_change_re_reads_the_activities_at_once_and_their_counts_in_the_background(qtbot, store):
    """A cron import elsewhere: a new activity appears at once; the learner counts (a pass over every
    record) follow from a background read, and an activity keeps its old counts until then."""
    from app.ui.activities_tab import ActivitiesTab

    first = add_activity(store, accme_id="123456789")
    queue_records(store, first, 2)
    ctx = make_context(store)
    tab = ActivitiesTab(ctx)
    qtbot.addWidget(tab)
    assert tab.model_counts() == {Status.QUEUED.value: 2}  # the first read has its counts
    second = add_activity(store, accme_id="987654321", title="Pathology Summit")
    queue_records(store, second, 3, label="p")
    ctx.store_changed.emit()
    assert tab.model.rowCount() == 2 and tab.model_counts() == {Status.QUEUED.value: 2}  # old counts kept
    with qtbot.waitSignal(tab.counts_refreshed, timeout=5_000):
        pass
    assert tab.model_counts() == {Status.QUEUED.value: 5}
