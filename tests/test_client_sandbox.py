"""The PARS client against the real sandbox over HTTP on 127.0.0.1 (ephemeral port)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from datetime import time as time_of_day
from decimal import Decimal

import httpx
import pytest

from app.pars.client import ParsAuthError, ParsClient, ParsProtocolError, ParsRequestError, ParsUnavailable
from app.pars.credentials import SANDBOX_DEMO_CREDENTIALS, Credentials
from app.pars.domain import Activity, BoardPart, BoardRegistration, CmePart, Completion, Learner, RecordAction
from app.sandbox import SandboxServer
from app.sandbox.registry import DEMO_PEOPLE, RegistryPerson
from app.sandbox.state import REFUSED_WHILE_SUBMITTED_CODE
from tests.sync_support import clock_starting_at

ADD, DELETE = RecordAction.ADD, RecordAction.DELETE
ACTIVITY_ID = "123456789"
TODAY = date.today()
# Ten days ago, but never in last year: the sandbox closes deletes of a year's completions on 12/31 (706).
COMPLETED = max(TODAY - timedelta(days=10), date(TODAY.year, 1, 1))

ACTIVITY = Activity(
    activity_id=ACTIVITY_ID,
    title="Cardiology update",
    activity_type="Course",
    start_date=TODAY - timedelta(days=60),
    end_date=TODAY + timedelta(days=60),
    cme_credits=Decimal("10"),
    boards=(
        BoardRegistration("ABIM", Decimal("10"), ("Medical Knowledge",), TODAY + timedelta(days=90)),
        BoardRegistration("ABS", Decimal("10"), ("Accredited CME",), TODAY + timedelta(days=90)),
    ),
)


def person(first: str, last: str) -> RegistryPerson:
    return next(p for p in DEMO_PEOPLE if p.first_name == first and p.last_name == last)


AVERY = person("Avery", "Morgan")  # ABIM 100001, MD license
QUINN = person("Quinn", "Delgado")  # ABIM 100003, already reported elsewhere (709)
TAYLOR = person("Taylor", "Brooks")  # NC licensee, no board
# Licensed in a state whose board does not take PARS data: CME alone is accepted at once.
PAT = Learner("Pat", "Doe", "02/02", "TX", "Q99999")


def abim(who: RegistryPerson, credit: str, *, board_id: str | None = None, learner: Learner | None = None,
         points: str = "2") -> Completion:
    return Completion(
        activity_id=ACTIVITY_ID,
        credit_id=f"ccid:1234567:{credit}",
        learner=learner or who.as_learner(),
        completion_date=COMPLETED,
        cme=CmePart(Decimal(points)),
        boards=[BoardPart("ABIM", board_id or who.board_ids()["ABIM"], Decimal(points),
                          {"Medical Knowledge": Decimal(points)})],
    )


def cme_only(learner: Learner, credit: str, credits: str = "1.5") -> Completion:
    return Completion(activity_id=ACTIVITY_ID, credit_id=f"ccid:1234567:{credit}", learner=learner,
                      completion_date=COMPLETED, cme=CmePart(Decimal(credits)))


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    # Noon of TODAY: advancing the clock by a minute never carries it into tomorrow (or a new year).
    noon = clock_starting_at(datetime.combine(TODAY, time_of_day(12)))
    with SandboxServer("127.0.0.1", 0, board_delay=30.0, activities=[ACTIVITY], clock=noon) as running:
        yield running


@pytest.fixture
def client(server: SandboxServer) -> Iterator[ParsClient]:
    with ParsClient(server.url, SANDBOX_DEMO_CREDENTIALS, backoff=0.01) as opened:
        yield opened


def record(server: SandboxServer, credit_id: str) -> dict[str, object]:
    return next(r for r in server.records() if r["credit_id"] == credit_id)


# ------------------------------------------------------------------ adds and the boards


def test_board_record_is_submitted_then_accepted_after_the_board_delay(server, client):
    [result] = client.save_learner_activity([(ADD, abim(AVERY, "a1"))])
    assert (result.credit_id, result.status, result.code) == ("ccid:1234567:a1", "Submitted", None)

    server.advance(29)
    assert client.status_by_credit_ids(["ccid:1234567:a1"])[0].status == "Submitted"
    server.advance(2)
    assert client.status_by_credit_ids(["ccid:1234567:a1"])[0].status == "Accepted"


def test_immediate_pars_error_rejects_with_code_and_stores_nothing(server, client):
    too_many = cme_only(AVERY.as_learner(), "big", credits="12")
    [result] = client.save_learner_activity([(ADD, too_many)])
    assert (result.status, result.code) == ("Rejected", 674)
    assert "12" in (result.message or "")
    # nothing stored in PARS, but the sandbox remembers it arrived once
    assert client.status_by_credit_ids(["ccid:1234567:big"])[0].status == "NotFound"
    assert record(server, "ccid:1234567:big")["received"] == 1


def test_many_records_in_one_request_get_one_result_each_in_order(client):
    records = [(ADD, cme_only(PAT, f"m{n}")) for n in range(5)]
    records.insert(2, (ADD, cme_only(PAT, "bad", credits="0.3")))
    results = client.save_learner_activity(records)
    assert [r.credit_id.rsplit(":", 1)[1] for r in results] == ["m0", "m1", "bad", "m2", "m3", "m4"]
    assert [r.status for r in results] == ["Accepted", "Accepted", "Rejected", "Accepted", "Accepted", "Accepted"]


@pytest.mark.parametrize(
    ("learner_change", "board_id", "code"),
    [
        ({}, "999999", 661),  # no such diplomate
        ({"birth_date": "01/01"}, None, 664),  # DOB differs from the board's record
        ({"last_name": "Morgen"}, None, 665),  # name differs from the board's record
    ],
)
def test_board_rejects_mismatching_learner_with_code_and_message(server, client, learner_change, board_id, code):
    learner = dataclasses.replace(AVERY.as_learner(), **learner_change)
    [result] = client.save_learner_activity([(ADD, abim(AVERY, "r1", board_id=board_id, learner=learner))])
    assert result.status == "Submitted"  # PARS itself cannot tell; the board answers later

    server.advance(31)
    [later] = client.status_by_credit_ids(["ccid:1234567:r1"])
    assert (later.status, later.code) == ("Rejected", code)
    assert later.message and "ABIM" in later.message


def test_completion_reported_to_the_board_elsewhere_is_rejected_709(server, client):
    client.save_learner_activity([(ADD, abim(QUINN, "q1"))])
    server.advance(31)
    assert client.status_by_credit_ids(["ccid:1234567:q1"])[0].code == 709


def test_cme_for_a_licensee_of_a_state_without_board_processing_is_accepted_at_once(client):
    [result] = client.save_learner_activity([(ADD, cme_only(PAT, "tx"))])
    assert result.status == "Accepted"


def test_collaborating_state_board_checks_its_licensee_records(server, client):
    good, unknown = TAYLOR.as_learner(), dataclasses.replace(TAYLOR.as_learner(), license_id="2011-99999")
    results = client.save_learner_activity([(ADD, cme_only(good, "nc1")), (ADD, cme_only(unknown, "nc2"))])
    assert [r.status for r in results] == ["Submitted", "Submitted"]
    server.advance(31)
    later = client.status_by_credit_ids(["ccid:1234567:nc1", "ccid:1234567:nc2"])
    assert [(r.status, r.code) for r in later] == [("Accepted", None), ("Rejected", 661)]


def test_abs_record_without_board_id_matching_two_diplomates_is_rejected_718(client):
    casey = next(p for p in DEMO_PEOPLE if p.last_name == "Nguyen")
    completion = Completion(
        activity_id=ACTIVITY_ID, credit_id="ccid:1234567:abs", learner=casey.as_learner(),
        completion_date=COMPLETED,
        boards=[BoardPart("ABS", None, Decimal("1"), {"Accredited CME": Decimal("1")})],
    )
    [result] = client.save_learner_activity([(ADD, completion)])
    assert (result.status, result.code) == ("Rejected", 718)


# ------------------------------------------------------------------ replays and duplicates


def test_same_record_sent_again_returns_its_status_without_a_second_record(server, client):
    completion = abim(AVERY, "dup")
    client.save_learner_activity([(ADD, completion)])
    server.advance(31)
    [again] = client.save_learner_activity([(ADD, completion)])
    assert again.status == "Accepted"
    rows = [r for r in server.records() if r["credit_id"] == "ccid:1234567:dup"]
    assert len(rows) == 1 and rows[0]["received"] == 2


def test_same_credit_id_with_different_content_is_603_and_keeps_the_original(client):
    client.save_learner_activity([(ADD, cme_only(PAT, "c603", credits="1"))])
    [result] = client.save_learner_activity([(ADD, cme_only(PAT, "c603", credits="2"))])
    assert (result.status, result.code) == ("Rejected", 603)
    assert client.status_by_credit_ids(["ccid:1234567:c603"])[0].status == "Accepted"


# ------------------------------------------------------------------ deletes


def test_delete_of_accepted_record_goes_through_delete_submitted_to_deleted(server, client):
    completion = abim(AVERY, "d1")
    client.save_learner_activity([(ADD, completion)])
    server.advance(31)
    [result] = client.save_learner_activity([(DELETE, completion)])
    assert result.status == "Delete Submitted"
    server.advance(31)
    assert client.status_by_credit_ids(["ccid:1234567:d1"])[0].status == "Deleted"


def test_delete_without_board_processing_is_deleted_at_once(client):
    completion = cme_only(PAT, "d2")
    client.save_learner_activity([(ADD, completion)])
    assert client.save_learner_activity([(DELETE, completion)])[0].status == "Deleted"


def test_delete_while_the_board_still_processes_is_refused_and_the_record_stays(client):
    completion = abim(AVERY, "d3")
    client.save_learner_activity([(ADD, completion)])
    [result] = client.save_learner_activity([(DELETE, completion)])
    assert (result.status, result.code) == ("Submitted", REFUSED_WHILE_SUBMITTED_CODE)
    assert "still being processed" in (result.message or "")
    assert client.status_by_credit_ids(["ccid:1234567:d3"])[0].status == "Submitted"


def test_delete_of_unknown_credit_id_is_605(client):
    [result] = client.save_learner_activity([(DELETE, cme_only(AVERY.as_learner(), "never-sent"))])
    assert (result.status, result.code) == ("NotFound", 605)


def test_delete_with_fields_other_than_the_original_is_605(client):
    completion = cme_only(PAT, "d4", credits="1")
    client.save_learner_activity([(ADD, completion)])
    changed = dataclasses.replace(completion, cme=CmePart(Decimal("2")))
    [result] = client.save_learner_activity([(DELETE, changed)])
    assert (result.status, result.code) == ("Accepted", 605)


# ------------------------------------------------------------------ learner match and status by learner


def test_match_with_board_and_board_id_is_unique_with_full_identity_for_prefill(client):
    match = client.learner_match(Learner(last_name="Morgan"), board="ABIM", board_id="100001")
    assert match.kind == "unique"
    assert match.learner == AVERY.as_learner()
    assert match.board_ids == {"ABIM": "100001"}


def test_match_with_last_name_and_state_license_is_unique(client):
    match = client.learner_match(Learner(last_name="brooks", licensing_state="NC", license_id=TAYLOR.license_id))
    assert match.kind == "unique" and match.learner is not None
    assert (match.learner.first_name, match.learner.birth_date) == ("Taylor", TAYLOR.birth_date)


def test_match_by_name_and_dob_fitting_two_diplomates_is_ambiguous_718(client):
    match = client.learner_match(Learner("Casey", "Nguyen", "05/09"), board="ABS")
    assert (match.kind, match.code, match.learner) == ("ambiguous", 718, None)


def test_match_with_no_fitting_learner_is_none(client):
    assert client.learner_match(Learner("Nobody", "Anywhere", "01/01")).kind == "none"
    unknown_id = client.learner_match(Learner(last_name="Morgan"), board="ABIM", board_id="000000")
    assert (unknown_id.kind, unknown_id.code) == ("none", 661)


def test_status_by_learner_lists_that_learners_records(client):
    client.save_learner_activity([(ADD, cme_only(AVERY.as_learner(), "s1")),
                                  (ADD, cme_only(TAYLOR.as_learner(), "s2"))])
    results = client.status_by_learner(Learner(last_name="Morgan", birth_date="03/14"), ACTIVITY_ID)
    assert [r.credit_id for r in results] == ["ccid:1234567:s1"]
    assert client.status_by_learner(Learner(last_name="Morgan"), "987654321") == []
    with pytest.raises(ParsProtocolError):
        client.status_by_learner(Learner(first_name="Avery"))


# ------------------------------------------------------------------ activities


def test_save_activity_assigns_a_new_nine_digit_id_and_get_activity_returns_it(client):
    new = dataclasses.replace(ACTIVITY, activity_id=None, title="Grand rounds")
    activity_id = client.save_activity(new)
    assert len(activity_id) == 9 and activity_id.isdigit() and activity_id != ACTIVITY_ID
    assert client.get_activity(activity_id) == dataclasses.replace(new, activity_id=activity_id)

    renamed = dataclasses.replace(new, activity_id=activity_id, title="Grand rounds 2")
    assert client.save_activity(renamed) == activity_id
    assert client.get_activity(activity_id).title == "Grand rounds 2"


def test_get_activity_of_an_unknown_id_is_690(client):
    with pytest.raises(ParsRequestError) as raised:
        client.get_activity("987654321")
    assert raised.value.code == 690


# ------------------------------------------------------------------ transport behaviour


def test_bad_credentials_are_refused_with_401_and_nothing_is_stored(server):
    wrong = Credentials("1234567", "demo", "not-the-password")
    with ParsClient(server.url, wrong, backoff=0.01) as intruder:
        with pytest.raises(ParsAuthError):
            intruder.save_learner_activity([(ADD, cme_only(AVERY.as_learner(), "x401"))])
    response = httpx.post(server.url + "/pars/v1/GetLearnerStatusByCreditId", content=b"<x/>")
    assert response.status_code == 400
    assert server.records() == []


def test_client_retries_through_simulated_503s_and_each_record_arrives_once():
    with SandboxServer("127.0.0.1", 0, board_delay=0, activities=[ACTIVITY], fail_rate=0.5) as flaky:
        with ParsClient(flaky.url, SANDBOX_DEMO_CREDENTIALS, max_retries=12, backoff=0.001) as client:
            for n in range(8):
                [result] = client.save_learner_activity([(ADD, cme_only(PAT, f"f{n}"))])
                assert result.status == "Accepted"
        assert [r["received"] for r in flaky.records()] == [1] * 8


def test_latency_is_applied_and_a_client_timeout_counts_as_maybe_delivered():
    with SandboxServer("127.0.0.1", 0, activities=[ACTIVITY], latency_ms=300) as slow:
        with ParsClient(slow.url, SANDBOX_DEMO_CREDENTIALS, timeout=5) as patient:
            started = time.monotonic()
            patient.status_by_credit_ids(["ccid:1234567:none"])
            assert time.monotonic() - started >= 0.3
        with ParsClient(slow.url, SANDBOX_DEMO_CREDENTIALS, timeout=0.05, max_retries=0) as hasty:
            with pytest.raises(ParsUnavailable) as raised:
                hasty.status_by_credit_ids(["ccid:1234567:none"])
        assert raised.value.maybe_delivered is True


def test_nothing_listening_is_unavailable_and_certainly_not_delivered():
    with SandboxServer("127.0.0.1", 0) as gone:
        url = gone.url
    with ParsClient(url, SANDBOX_DEMO_CREDENTIALS, max_retries=1, backoff=0.001) as client:
        with pytest.raises(ParsUnavailable) as raised:
            client.status_by_credit_ids(["ccid:1234567:x"])
    assert raised.value.maybe_delivered is False


def test_sandbox_http_helpers_list_records_and_advance_the_clock(server, client):
    client.save_learner_activity([(ADD, abim(AVERY, "h1"))])
    assert httpx.post(server.url + "/_sandbox/advance", json={"seconds": 31}).status_code == 200
    listed = httpx.get(server.url + "/_sandbox/records").json()
    assert listed == [{"credit_id": "ccid:1234567:h1", "activity_id": ACTIVITY_ID, "status": "Accepted",
                       "code": None, "message": None, "received": 1, "deletes_received": 0}]


def test_sandbox_counts_adds_and_deletes_of_a_credit_id_apart(server, client):
    client.save_learner_activity([(ADD, abim(AVERY, "h2"))])
    server.advance(31)
    client.save_learner_activity([(DELETE, abim(AVERY, "h2"))])
    (listed,) = [r for r in server.records() if r["credit_id"] == "ccid:1234567:h2"]
    assert (listed["received"], listed["deletes_received"]) == (1, 1)


def test_sandbox_state_file_survives_a_restart(tmp_path):
    path = tmp_path / "sandbox.sqlite3"
    with SandboxServer("127.0.0.1", 0, activities=[ACTIVITY], state_path=path) as first:
        with ParsClient(first.url, SANDBOX_DEMO_CREDENTIALS) as client:
            client.save_learner_activity([(ADD, cme_only(PAT, "keep"))])
    with SandboxServer("127.0.0.1", 0, state_path=path) as second:
        with ParsClient(second.url, SANDBOX_DEMO_CREDENTIALS) as client:
            assert client.status_by_credit_ids(["ccid:1234567:keep"])[0].status == "Accepted"
            [replay] = client.save_learner_activity([(ADD, cme_only(PAT, "keep"))])
            assert replay.status == "Accepted"


def test_sandbox_command_serves_on_the_port_it_prints(tmp_path):
    activities = tmp_path / "activities.json"
    from app.pars.activities_json import write_activities

    write_activities(activities, [ACTIVITY])
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "sandbox", "--port", "0", "--board-delay", "0",
         "--activities", str(activities)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.split()[3]
        assert "1 activity preloaded" in line and url.startswith("http://127.0.0.1:")
        with ParsClient(url, SANDBOX_DEMO_CREDENTIALS) as client:
            assert client.get_activity(ACTIVITY_ID).title == ACTIVITY.title
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_records_json_is_serialisable(server, client):
    client.save_learner_activity([(ADD, cme_only(PAT, "j1"))])
    assert json.loads(json.dumps(server.records()))[0]["status"] == "Accepted"


def test_client_for_the_local_environment_reaches_the_running_sandbox(server):
    from app.pars.credentials import load_credentials
    from app.pars.environments import LOCAL, environment

    env = environment(LOCAL)
    with ParsClient.for_environment(env, load_credentials(LOCAL), base_url=server.url) as client:
        assert client.get_activity(ACTIVITY_ID).title == ACTIVITY.title
    with pytest.raises(ValueError, match="base URL is empty"):
        ParsClient.for_environment(env, SANDBOX_DEMO_CREDENTIALS)


def test_concurrent_clients_are_served_consistently(server):
    from concurrent.futures import ThreadPoolExecutor

    def send(worker: int) -> list[str]:
        with ParsClient(server.url, SANDBOX_DEMO_CREDENTIALS) as own_client:  # one client per thread
            records = [(ADD, cme_only(PAT, f"t{worker}-{n}")) for n in range(15)]
            return [r.status for r in own_client.save_learner_activity(records)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = [status for batch in pool.map(send, range(4)) for status in batch]
    assert statuses == ["Accepted"] * 60
    assert sorted(r["received"] for r in server.records()) == [1] * 60


def test_sandbox_state_file_is_owner_only(tmp_path):
    path = tmp_path / "sandbox-state.sqlite3"
    with SandboxServer("127.0.0.1", 0, activities=[ACTIVITY], state_path=path):
        pass
    assert path.stat().st_mode & 0o077 == 0


def test_a_status_lookup_never_overtakes_a_batch_the_sandbox_received_before_it(monkeypatch):
    """A desk crashed while its batch was at PARS; another desk asks PARS about that batch's records.
    The batch reached the sandbox first, so the answer must reflect it: a NotFound here would make
    the asking desk send the batch a second time."""
    import threading

    from app.pars import protocol
    from tests.sync_support import SANDBOX_ACTIVITY, SANDBOX_NOW

    record = Completion(
        action=RecordAction.ADD, activity_id=SANDBOX_ACTIVITY.activity_id, credit_id="ccid:1234567:crashed-desk",
        learner=Learner("Ada", "Lovelace", "12/10", "NY", "A12345"), completion_date=date(2026, 1, 6),
        cme=CmePart(Decimal("8")),
    )
    batch_received, lookup_answered = threading.Event(), threading.Event()
    real_parse = protocol.parse_request

    def slow_to_read_batches(data: bytes):
        if b"SaveLearnerActivity" in data:
            batch_received.set()
            lookup_answered.wait(2)  # the batch is still being read when the lookup arrives
        return real_parse(data)

    monkeypatch.setattr(protocol, "parse_request", slow_to_read_batches)
    saved: list = []
    with SandboxServer(activities=[SANDBOX_ACTIVITY], clock=clock_starting_at(SANDBOX_NOW)) as sandbox:
        with ParsClient(sandbox.url, SANDBOX_DEMO_CREDENTIALS) as desk, \
                ParsClient(sandbox.url, SANDBOX_DEMO_CREDENTIALS) as other:
            sender = threading.Thread(
                target=lambda: saved.extend(desk.save_learner_activity([(RecordAction.ADD, record)]))
            )
            sender.start()
            assert batch_received.wait(10)
            [answer] = other.status_by_credit_ids([record.credit_id])
            lookup_answered.set()
            sender.join(10)
    assert [result.status for result in saved] == ["Accepted"]
    assert answer.status == "Accepted"
