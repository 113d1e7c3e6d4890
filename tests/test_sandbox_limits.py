"""The sandbox's HTTP server holds up against silent clients and nonsense clock moves."""

from __future__ import annotations

import json
import socket
import threading

import httpx
import pytest

from app.sandbox import SandboxServer


def _half_open(port: int) -> socket.socket:
    """A client that starts a request and then says nothing more."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"POST /pars/v1/GetActivity HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n<Par")
    return sock


def test_a_trickling_connection_is_cut_at_its_deadline():
    with SandboxServer(port=0, connection_timeout=5, connection_deadline=0.5) as server:
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.settimeout(20)
        try:
            closed = False
            for _ in range(400):  # a byte at a time, each well inside the read timeout
                try:
                    sock.sendall(b"X")
                    sock.settimeout(0.1)
                    if sock.recv(1) == b"":
                        closed = True
                        break
                except socket.timeout:
                    continue
                except OSError:
                    closed = True
                    break
        finally:
            sock.close()
    assert closed


def test_a_silent_connection_is_closed_after_the_connection_timeout():
    with SandboxServer(port=0, connection_timeout=0.3) as server:
        sock = _half_open(server.port)
        sock.settimeout(20)  # a test safety net: the server must close it well before this
        try:
            answer = sock.recv(4096)  # b"" (closed) or an error answer, not a wait for ever
        finally:
            sock.close()
    assert answer == b"" or answer.startswith(b"HTTP/1.1 4")


def test_half_open_connections_cannot_take_more_than_the_bounded_threads():
    baseline = threading.active_count()
    with SandboxServer(port=0, max_connections=8, connection_timeout=30) as server:
        held = [_half_open(server.port) for _ in range(40)]
        try:
            # every connection past the bound is answered at once: 503, closed
            busy = httpx.post(f"{server.url}/_sandbox/advance", data={"seconds": "1"}, timeout=10)
            assert busy.status_code == 503
            assert threading.active_count() - baseline <= 8 + 2  # 8 handlers, the server thread, the reaper
        finally:
            for sock in held:
                sock.close()


@pytest.mark.parametrize("seconds", ["inf", "-inf", "nan", "-1", "1e300", "9" * 400, "", "soon"])
def test_advance_refuses_what_is_not_a_sane_number_of_seconds(sandbox, seconds):
    before = sandbox.state.clock._offset
    answer = httpx.post(f"{sandbox.url}/_sandbox/advance", data={"seconds": seconds}, timeout=10)
    assert answer.status_code == 400
    assert sandbox.state.clock._offset == before
    # and the sandbox still works afterwards
    assert httpx.get(f"{sandbox.url}/_sandbox/records", timeout=10).status_code == 200
    # JSON too, with the non-standard literals Python's json module reads (Infinity, NaN)
    literal = {"inf": "Infinity", "-inf": "-Infinity", "nan": "NaN"}.get(seconds, json.dumps(seconds))
    as_json = httpx.post(f"{sandbox.url}/_sandbox/advance", content=f'{{"seconds": {literal}}}',
                         headers={"Content-Type": "application/json"}, timeout=10)
    assert as_json.status_code == 400
    assert sandbox.state.clock._offset == before


def test_advance_moves_the_clock_for_a_sane_value(sandbox):
    before = sandbox.state.clock._offset
    answer = httpx.post(f"{sandbox.url}/_sandbox/advance", data={"seconds": "3600"}, timeout=10)
    assert answer.status_code == 200 and json.loads(answer.text) == {"advanced": 3600.0}
    assert sandbox.state.clock._offset == before + 3600


# --- PARS's reader quota: a value over MAX_TEXT_CHARS makes the whole request a 999 fault --------------

def _status_request(credit_id_xml: str, *, encoding: str = "UTF-8", attribute: str = "") -> bytes:
    from app.pars.credentials import SANDBOX_DEMO_CREDENTIALS as creds

    text = (
        f'<?xml version="1.0" encoding="{encoding}"?>'
        '<Request xmlns="urn:parsdesk:pars-ws:1" operation="GetLearnerStatusByCreditId">'
        f"<Credentials><ProviderId>{creds.provider_id}</ProviderId><User>{creds.user}</User>"
        f"<Password>{creds.password}</Password></Credentials>"
        f"<Body><CreditIDs{attribute}><CreditID>{credit_id_xml}</CreditID></CreditIDs></Body></Request>"
    )
    return text.encode(encoding)


@pytest.mark.parametrize(
    ("label", "document"),
    [
        ("plain text", _status_request("c" * 9000)),
        ("text in CDATA broken up by '<'", _status_request("<![CDATA[" + "ab<cd>" * 1500 + "]]>")),
        ("text split by character references", _status_request("a&#60;" * 4200)),
        ("a UTF-16 document", _status_request("\u2c3c" * 9000, encoding="UTF-16")),
        ("an attribute", _status_request("c1", attribute=' note="' + "n" * 9000 + '"')),
        ("an ISO-2022-JP document", _status_request("\u6f22" * 9000, encoding="ISO-2022-JP")),
    ],
)
def test_a_value_over_the_reader_quota_is_refused_as_a_whole(sandbox, label, document):
    from app.sandbox.server import MAX_TEXT_CHARS

    answer = httpx.post(f"{sandbox.url}/pars/v1/GetLearnerStatusByCreditId", content=document)
    assert answer.status_code == 400, label
    assert b"<Code>999</Code>" in answer.content, label
    assert f"(at most {MAX_TEXT_CHARS} are read)".encode() in answer.content, label


@pytest.mark.parametrize("encoding", ["UTF-8", "UTF-16"])
def test_values_within_the_reader_quota_are_read(sandbox, encoding):
    from app.sandbox.server import MAX_TEXT_CHARS

    document = _status_request("c" * MAX_TEXT_CHARS, encoding=encoding)
    answer = httpx.post(f"{sandbox.url}/pars/v1/GetLearnerStatusByCreditId", content=document)
    assert answer.status_code == 200
    assert b"<Status>NotFound</Status>" in answer.content
