"""The client's transport limits against small fake servers on 127.0.0.1: https required away from
loopback, answers streamed under a size cap, and a wall-clock deadline per call."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest

from app.pars.client import ParsClient, ParsConfigError, ParsProtocolError, ParsUnavailable, check_base_url
from app.pars.credentials import SANDBOX_DEMO_CREDENTIALS

Handler = Callable[[socket.socket], None]


@contextmanager
def fake_server(handler: Handler) -> Iterator[str]:
    """A one-purpose HTTP server: `handler(connection)` answers each connection on its own thread."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    stop = threading.Event()
    seen: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            seen.append(connection)
            threading.Thread(target=_guarded, args=(handler, connection), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()
        for connection in seen:
            try:
                connection.close()
            except OSError:
                pass


def _guarded(handler: Handler, connection: socket.socket) -> None:
    try:
        _read_request(connection)
        handler(connection)
    except OSError:
        pass
    finally:
        try:
            connection.close()
        except OSError:
            pass


def _read_request(connection: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            return
        body += chunk


def _client(url: str, **options: object) -> ParsClient:
    return ParsClient(url, SANDBOX_DEMO_CREDENTIALS, max_retries=0, sleep=lambda _s: None, **options)  # type: ignore[arg-type]


# --- https ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "http://pars.accme.org", "http://10.0.0.5:8765", "http://[2001:db8::1]:8765", "HTTP://example.com/pars",
    "http://127.0.0.1.example.com",
])
def test_plain_http_away_from_this_machine_is_refused_before_anything_is_sent(url):
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(200))
    with pytest.raises(ParsConfigError, match="https"):
        ParsClient(url, SANDBOX_DEMO_CREDENTIALS, transport=transport)
    assert sent == []


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8765", "http://127.8.9.10", "http://[::1]:8765", "http://localhost:8765",
    "https://pars.accme.org", "https://10.0.0.5:8443",
])
def test_https_anywhere_and_http_on_loopback_are_allowed(url):
    assert check_base_url(url) == url


@pytest.mark.parametrize("url", ["notaurl", "ftp://pars.example", "https://", "http://127.0.0.1:99999",
                                 "https://user:pw@pars.example"])
def test_what_is_not_a_pars_url_is_refused_with_a_reason(url):
    with pytest.raises(ParsConfigError):
        check_base_url(url)


# --- size cap -------------------------------------------------------------------------------------

def test_an_announced_huge_answer_is_refused_without_reading_it():
    def huge(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n"
                           b"Content-Length: 1500000000\r\n\r\n")
        connection.sendall(b"<" * 65536)  # then it would go on for 1.5 GB

    with fake_server(huge) as url, _client(url, max_response_bytes=1_000_000) as client:
        with pytest.raises(ParsProtocolError, match="1,500,000,000-byte answer"):
            client.status_by_credit_ids(["c1"])


def test_an_endless_answer_is_cut_at_the_cap_while_streaming():
    def endless(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"<a>" * 10000
        for _ in range(1000):  # 30 MB unless the client stops reading
            connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        connection.sendall(b"0\r\n\r\n")

    with fake_server(endless) as url, _client(url, max_response_bytes=200_000) as client:
        with pytest.raises(ParsProtocolError, match="passed 200,000 bytes"):
            client.status_by_credit_ids(["c1"])


# --- deadline -------------------------------------------------------------------------------------

def _trickle(prefix: bytes, seconds: float) -> Handler:
    """Sends `prefix` one byte at a time, a byte every 0.2 s, for at most `seconds` (a bounded fake:
    without the deadline the client would wait it out, then fail the test on a complete answer)."""

    def handler(connection: socket.socket) -> None:
        ends = time.monotonic() + seconds
        for byte in prefix:
            if time.monotonic() > ends:
                break
            connection.sendall(bytes([byte]))
            time.sleep(0.2)

    return handler


RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: 0\r\n" + b"X-Pad: " + b"a" * 400
            + b"\r\n\r\n")


def test_a_server_trickling_its_headers_cannot_hold_a_call_past_its_deadline():
    with fake_server(_trickle(RESPONSE, 30.0)) as url, _client(url, timeout=5.0, deadline=1.0) as client:
        started = time.monotonic()
        with pytest.raises(ParsUnavailable, match="deadline") as failure:
            client.status_by_credit_ids(["c1"])
        elapsed = time.monotonic() - started
    assert failure.value.maybe_delivered  # the request went out: PARS is asked before any resend
    print(f"trickled headers: gave up after {elapsed:.2f} s (deadline 1 s)")


def test_a_server_trickling_its_body_cannot_hold_a_call_past_its_deadline():
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: 500\r\n\r\n"

    def handler(connection: socket.socket) -> None:
        connection.sendall(head)
        _trickle(b"<" * 500, 30.0)(connection)

    with fake_server(handler) as url, _client(url, timeout=5.0, deadline=1.0) as client:
        with pytest.raises(ParsUnavailable, match="deadline"):
            client.status_by_credit_ids(["c1"])


def test_the_deadline_covers_the_retries_too():
    waits: list[float] = []
    with fake_server(_trickle(RESPONSE, 30.0)) as url:
        client = ParsClient(url, SANDBOX_DEMO_CREDENTIALS, max_retries=50, timeout=5.0, deadline=1.0,
                            sleep=waits.append)
        with client, pytest.raises(ParsUnavailable):
            client.status_by_credit_ids(["c1"])
    assert len(waits) <= 1  # not 50 attempts of a second each


def _self_signed_certificate(folder) -> tuple[str, str]:  # noqa: ANN001
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    key, certificate = folder / "key.pem", folder / "certificate.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(certificate),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return str(certificate), str(key)


def test_every_client_checks_the_servers_certificate_with_the_shared_tls_context(tmp_path):
    """Clients share one TLS context (loading the CA bundle once per process, not once per sender
    thread), and each still refuses a server whose certificate no trusted authority signed."""
    import ssl

    from app.pars.client import verified_tls_context

    certificate, key = _self_signed_certificate(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(certificate, key)
    listener = socket.create_server(("127.0.0.1", 0))
    import queue

    handshakes: queue.SimpleQueue[str] = queue.SimpleQueue()

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            connection.settimeout(5)
            try:
                with server_context.wrap_socket(connection, server_side=True):
                    handshakes.put("completed")
            except ssl.SSLError as exc:
                handshakes.put(exc.reason or "refused")
            except OSError:
                handshakes.put("closed")

    threading.Thread(target=serve, daemon=True).start()
    context = verified_tls_context()
    assert context is verified_tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    try:
        for _ in range(2):
            url = f"https://127.0.0.1:{listener.getsockname()[1]}"
            with ParsClient(url, SANDBOX_DEMO_CREDENTIALS, max_retries=0, timeout=5) as client:
                # refused at the handshake (a ConnectError), not a timeout
                with pytest.raises(ParsUnavailable, match="ConnectError") as refused:
                    client.status_by_credit_ids(["ccid:1234567:x"])
                assert refused.value.maybe_delivered is False  # the request never left: nothing to ask about
    finally:
        listener.close()
    seen = [handshakes.get(timeout=10) for _ in range(2)]  # the server's side of both handshakes
    assert "completed" not in seen
