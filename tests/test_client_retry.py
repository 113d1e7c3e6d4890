"""The client's retry policy and error mapping, with httpx.MockTransport (no sockets, no sleeping)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from decimal import Decimal

import httpx
import pytest

from app.pars import protocol
from app.pars.client import (
    MAX_RETRY_AFTER_SECONDS,
    ParsAuthError,
    ParsClient,
    ParsProtocolError,
    ParsRequestError,
    ParsUnavailable,
)
from app.pars.credentials import Credentials
from app.pars.domain import Activity, CmePart, Completion, Learner, RecordAction

CREDS = Credentials("1234567", "demo", "s3cret-password")
STATUS_OP = "GetLearnerStatusByCreditId"


def ok_status(credit_ids: list[str]) -> bytes:
    return protocol.results_response(
        STATUS_OP, [protocol.RecordResult(cid, "Accepted", None, None) for cid in credit_ids]
    )


class Script:
    """Answers requests from a list of steps: an httpx.Response or an exception to raise."""

    def __init__(self, *steps: httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]) -> None:
        self.steps = list(steps)
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        step = self.steps[min(self.calls, len(self.steps) - 1)]
        self.calls += 1
        if isinstance(step, Exception):
            raise step
        if callable(step) and not isinstance(step, httpx.Response):
            return step(request)
        return step


def make_client(script: Script, sleeps: list[float], **options: object) -> ParsClient:
    options.setdefault("backoff", 0.2)
    return ParsClient(
        "https://pars.example.test", CREDS, transport=httpx.MockTransport(script), sleep=sleeps.append, **options
    )


def test_5xx_is_retried_with_growing_jittered_backoff_then_succeeds():
    script = Script(httpx.Response(503), httpx.Response(502), httpx.Response(500), httpx.Response(200, content=ok_status(["a"])))
    sleeps: list[float] = []
    results = make_client(script, sleeps).status_by_credit_ids(["a"])
    assert results[0].status == "Accepted" and script.calls == 4
    # 0.2 * 2**n, jittered to 50%..150%
    for attempt, slept in enumerate(sleeps):
        assert 0.1 * 2**attempt <= slept <= 0.3 * 2**attempt


def test_429_waits_as_long_as_retry_after_says():
    script = Script(httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, content=ok_status(["a"])))
    sleeps: list[float] = []
    make_client(script, sleeps).status_by_credit_ids(["a"])
    assert sleeps == [3.0]


def test_retry_after_as_http_date_is_understood():
    script = Script(
        httpx.Response(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),  # in the past: no wait
        httpx.Response(200, content=ok_status(["a"])),
    )
    sleeps: list[float] = []
    make_client(script, sleeps).status_by_credit_ids(["a"])
    assert sleeps == [0.0]


def test_retry_after_beyond_the_cap_gives_up_at_once_without_waiting():
    script = Script(httpx.Response(429, headers={"Retry-After": str(int(MAX_RETRY_AFTER_SECONDS) + 60)}))
    sleeps: list[float] = []
    with pytest.raises(ParsUnavailable) as raised:
        make_client(script, sleeps).status_by_credit_ids(["a"])
    assert script.calls == 1 and sleeps == []
    assert raised.value.maybe_delivered is False  # 429: PARS refused to process it


@pytest.mark.parametrize("status", [400, 404, 405, 409, 413])
def test_4xx_is_not_retried(status):
    script = Script(httpx.Response(status, content=b"no"))
    sleeps: list[float] = []
    with pytest.raises(ParsProtocolError):
        make_client(script, sleeps).status_by_credit_ids(["a"])
    assert script.calls == 1 and sleeps == []


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_raise_auth_error_without_retry(status):
    script = Script(httpx.Response(status, content=protocol.fault_response(STATUS_OP, status, "bad")))
    with pytest.raises(ParsAuthError):
        make_client(script, []).status_by_credit_ids(["a"])
    assert script.calls == 1


def test_fault_with_a_pars_code_is_a_request_error_carrying_the_code():
    script = Script(httpx.Response(404, content=protocol.fault_response("GetActivity", 690, "no such activity")))
    with pytest.raises(ParsRequestError) as raised:
        make_client(script, []).get_activity("123456789")
    assert (raised.value.code, script.calls) == (690, 1)


def test_connect_errors_exhaust_retries_and_were_certainly_not_delivered():
    script = Script(httpx.ConnectError("refused"))
    sleeps: list[float] = []
    with pytest.raises(ParsUnavailable) as raised:
        make_client(script, sleeps, max_retries=3).status_by_credit_ids(["a"])
    assert script.calls == 4 and len(sleeps) == 3
    assert raised.value.maybe_delivered is False


def test_read_timeout_may_have_been_delivered():
    script = Script(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.ConnectError("refused"))
    with pytest.raises(ParsUnavailable) as raised:
        make_client(script, [], max_retries=2).status_by_credit_ids(["a"])
    assert raised.value.maybe_delivered is True


def test_5xx_after_all_retries_may_have_been_delivered():
    script = Script(httpx.Response(500))
    with pytest.raises(ParsUnavailable) as raised:
        make_client(script, [], max_retries=1).status_by_credit_ids(["a"])
    assert script.calls == 2 and raised.value.maybe_delivered is True


ACTIVITY = Activity(None, "Grand rounds", "Course", date(2026, 1, 1), date(2026, 12, 31), Decimal("1"))


def test_registering_an_activity_is_not_resent_once_it_may_have_arrived():
    script = Script(httpx.Response(503), httpx.Response(200, content=protocol.activity_id_response("123456789")))
    with pytest.raises(ParsUnavailable) as raised:
        make_client(script, []).save_activity(ACTIVITY)
    assert script.calls == 1 and raised.value.maybe_delivered is True


def test_registering_an_activity_is_retried_when_it_certainly_did_not_arrive():
    script = Script(httpx.ConnectError("refused"), httpx.Response(200, content=protocol.activity_id_response("123456789")))
    assert make_client(script, []).save_activity(ACTIVITY) == "123456789"
    assert script.calls == 2


def test_save_activity_rejects_an_answer_that_is_not_a_nine_digit_id():
    script = Script(httpx.Response(200, content=protocol.activity_id_response("12AB")))
    with pytest.raises(ParsProtocolError):
        make_client(script, []).save_activity(ACTIVITY)


def test_garbage_and_foreign_documents_are_protocol_errors():
    for content in (b"<html>proxy login</html>", b"not xml", protocol.fault_response("GetActivity", 500, "x")):
        with pytest.raises(ParsProtocolError):
            make_client(Script(httpx.Response(200, content=content)), []).status_by_credit_ids(["a"])


def test_entity_laden_answer_is_refused():
    bomb = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><r>&a;</r>'
    with pytest.raises(ParsProtocolError):
        make_client(Script(httpx.Response(200, content=bomb)), []).status_by_credit_ids(["a"])


def test_a_result_count_different_from_the_records_sent_is_a_protocol_error():
    answer = protocol.results_response("SaveLearnerActivity", [])
    completion = Completion(activity_id="123456789", credit_id="ccid:1234567:1", learner=Learner("A", "B", "01/01"),
                            completion_date=date(2026, 5, 1), cme=CmePart(Decimal(1)))
    with pytest.raises(ParsProtocolError):
        make_client(Script(httpx.Response(200, content=answer)), []).save_learner_activity(
            [(RecordAction.ADD, completion)]
        )


def test_request_posts_the_operation_document_to_its_path_with_credentials():
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=ok_status(["x", "y"]))

    make_client(Script(answer), []).status_by_credit_ids(["x", "y"])
    [request] = seen
    assert request.method == "POST"
    assert str(request.url) == "https://pars.example.test/pars/v1/GetLearnerStatusByCreditId"
    parsed = protocol.parse_request(request.content)
    assert parsed.credentials == CREDS
    assert protocol.credit_ids_from_request(parsed.body) == ["x", "y"]


def test_logs_never_carry_learner_data_or_the_password(caplog):
    completion = Completion(
        activity_id="123456789", credit_id="ccid:1234567:1",
        learner=Learner("Zebulon", "Quartermaine", "07/04", "MD", "LIC-777"),
        completion_date=date(2026, 5, 1), cme=CmePart(Decimal(1)),
    )
    answer = protocol.results_response("SaveLearnerActivity", [protocol.RecordResult("ccid:1234567:1", "Accepted", None, None)])
    script = Script(httpx.Response(503), httpx.Response(200, content=answer))
    with caplog.at_level(logging.DEBUG, logger="app.pars.client"):
        make_client(script, []).save_learner_activity([(RecordAction.ADD, completion)])
    logged = caplog.text
    assert "SaveLearnerActivity" in logged and "503" in logged
    for secret in ("Zebulon", "Quartermaine", "07/04", "LIC-777", "s3cret-password"):
        assert secret not in logged
    assert "s3cret-password" not in repr(CREDS)


def test_results_are_read_field_by_field_and_odd_ones_are_protocol_errors():
    ns = protocol.PROTOCOL_NS

    def body(results: str):
        document = f'<Response xmlns="{ns}" operation="X"><Body><Results>{results}</Results></Body></Response>'
        return protocol.parse_response(document.encode(), "X")

    read = protocol.results_from_response(body(
        "<Result><CreditID> c1 </CreditID><Status>Rejected</Status><Code>674</Code><Message>too many</Message>"
        "<Message>second ignored</Message></Result>"
        "<!-- a comment --><Result><Status>Submitted</Status><Code> </Code><Extra>x</Extra></Result>"
    ))
    assert read == [protocol.RecordResult("c1", "Rejected", 674, "too many"),
                    protocol.RecordResult("", "Submitted", None, None)]
    for odd, message in [
        ("<Result><CreditID>c</CreditID></Result>", "missing <Status> in <Result>"),
        ("<Result><Status> </Status></Result>", "missing <Status> in <Result>"),
        ("<Result><Status>Lost</Status></Result>", "unknown record status 'Lost'"),
        ("<Result><Status>Accepted</Status><Code>6x4</Code></Result>", "record code '6x4' is not a number"),
        ("<Result><Status>Accepted</Status><Code>" + "9" * 5000 + "</Code></Result>", "is not a number"),
    ]:
        with pytest.raises(protocol.ProtocolFormatError, match=message.replace("(", r"\(")):
            protocol.results_from_response(body(odd))
