"""The PARS web-service client: ParsDesk's protocol (app.pars.protocol) over httpx.

Failures are told apart by what the caller can do about them:
- `ParsAuthError`: 401/403, the credentials are wrong; retrying will not help.
- `ParsUnavailable`: network failure, timeout, 5xx or 429 after all retries. `maybe_delivered`
  says whether PARS may have received and processed the request (a read timeout or a 5xx after
  the request was sent) or certainly not (connect errors); the sync engine then asks PARS for the
  status by creditID before sending again.
- `ParsRequestError`: PARS refused the request as a whole with a code (e.g. 690 unknown activity).
- `ParsProtocolError`: the answer is not a document of this protocol (wrong host or path?).

Retries: exponential backoff with jitter on connection errors, timeouts, 5xx and 429 (honouring
Retry-After up to a cap); never on other 4xx. Learner records are safe to resend because PARS
treats a creditID it already has with the same content as the same record. Creating an activity
is not idempotent (each SaveActivity without an ID registers a new one), so it is resent only when
the request certainly did not arrive.

Limits (docs/pars-protocol.md, "Transport"):
- https is required for every URL except the sandbox on this machine (127.0.0.0/8, ::1, localhost):
  a client for `http://` anywhere else is refused before anything, least of all a password, is sent.
- an answer is streamed and refused once it passes `max_response_bytes` (its Content-Length is
  checked before a byte of the body is read), so a huge or endless answer is never held in memory.
- each call (all its attempts and waits together) has a wall-clock deadline, `deadline` seconds: a
  server that trickles a byte every few seconds never holds a sync, and its lock, for longer.

Logging names only operations, counts, HTTP statuses and timings: never learner data or passwords.
"""

from __future__ import annotations

import email.utils
import ipaddress
import logging
import os
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from datetime import timezone
from urllib.parse import urlsplit

import httpx
from lxml import etree

from app.pars import protocol
from app.pars.credentials import Credentials
from app.pars.domain import Activity, Completion, Learner, RecordAction
from app.pars.environments import (
    GET_ACTIVITY,
    GET_LEARNER_MATCH,
    GET_LEARNER_STATUS_BY_CREDIT_ID,
    GET_LEARNER_STATUS_BY_LEARNER,
    OPERATIONS,
    SAVE_ACTIVITY,
    SAVE_LEARNER_ACTIVITY,
    Environment,
    default_paths,
)
from app.pars.protocol import MatchResult, RecordResult
from app.wording import plural

__all__ = [
    "MatchResult",
    "ParsAuthError",
    "ParsClient",
    "ParsConfigError",
    "ParsError",
    "ParsProtocolError",
    "ParsRequestError",
    "ParsUnavailable",
    "RecordResult",
]

log = logging.getLogger(__name__)

# A server asking us to wait longer than this is treated as unavailable for now, not waited for.
MAX_RETRY_AFTER_SECONDS = 30.0
# The largest answer read: a 5,000-record status answer is about 2 MB.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
# Wall-clock limit of one call, every attempt and wait included.
CALL_DEADLINE_SECONDS = 120.0


class ParsError(Exception):
    """Base of every failure the client reports."""


class ParsConfigError(ParsError, ValueError):
    """The client cannot be used as configured (a URL that is not https, or not a URL at all)."""


def _is_loopback(host: str) -> bool:
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> str:
    """The PARS base URL if ParsDesk may send to it, else ParsConfigError saying why.

    https everywhere; plain http only to this machine (the sandbox on loopback)."""
    text = (url or "").strip()
    if not text:
        raise ParsConfigError("the PARS base URL is empty (is the local sandbox running?)")
    shown = text if len(text) <= 80 else text[:77] + "..."
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in 0..65535
    except ValueError:
        raise ParsConfigError(f"{shown!r} is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        raise ParsConfigError(f"{shown!r} is not a PARS URL: write https://host[:port]")
    if parts.username or parts.password:
        raise ParsConfigError("the PARS URL must not carry a user name or password (they are sent in each request)")
    if scheme == "http" and not _is_loopback(host):
        raise ParsConfigError(
            f"refusing to send credentials over plain http to {host}: PARS needs https (http is only for "
            "the sandbox on this machine: 127.0.0.1, ::1 or localhost)"
        )
    return text


_tls_context: ssl.SSLContext | None = None
_tls_context_lock = threading.Lock()


def verified_tls_context() -> ssl.SSLContext:
    """The TLS context every ParsClient of this process uses: httpx's default for `verify=True`
    (certifi's CA bundle, or SSL_CERT_FILE / SSL_CERT_DIR), certificates and host names checked.
    Made once: loading the CA bundle costs about 40 ms of CPU, and a sync pass makes a client for
    every batch it has at PARS at once. An SSLContext may be shared by threads."""
    global _tls_context
    with _tls_context_lock:
        if _tls_context is None:
            context = httpx.create_ssl_context(verify=True)
            if context.verify_mode != ssl.CERT_REQUIRED or not context.check_hostname:
                raise ParsConfigError("the TLS context does not verify certificates and host names")
            _tls_context = context
        return _tls_context


class _Watchdog:
    """Ends an attempt at the call's deadline: shuts the connection's socket down, which wakes a read
    that is waiting for the next trickled byte (httpx's timeouts are per read, not per call)."""

    def __init__(self) -> None:
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.fired = False

    def trace(self, event: str, info: dict) -> None:
        # a fresh connection: keep a duplicate of its socket (still valid once TLS wraps the original)
        if event == "connection.connect_tcp.complete":
            raw = getattr(info.get("return_value"), "get_extra_info", lambda _name: None)("socket")
            if isinstance(raw, socket.socket):
                try:
                    duplicate = socket.socket(fileno=os.dup(raw.fileno()))
                except OSError:
                    return
                with self._lock:
                    if self.fired:
                        self._shut(duplicate)
                    self._sockets.append(duplicate)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def fire(self) -> None:
        with self._lock:
            self.fired = True
            for sock in self._sockets:
                self._shut(sock)

    def close(self) -> None:
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()


class ParsAuthError(ParsError):
    """PARS refused the credentials (HTTP 401 or 403)."""


class ParsUnavailable(ParsError):
    """PARS could not be reached or kept failing (network, timeout, 5xx, 429) after the retries."""

    def __init__(self, message: str, *, maybe_delivered: bool) -> None:
        super().__init__(message)
        self.maybe_delivered = maybe_delivered


class ParsProtocolError(ParsError):
    """The answer was not a valid document of the PARS protocol, or had an unexpected HTTP status."""


class ParsRequestError(ParsError):
    """PARS refused the whole request with an error code (e.g. 690 activity ID does not exist)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"PARS error {code}: {message}")
        self.code = code
        self.message = message


class _Retryable(Exception):
    def __init__(self, reason: str, *, delivered: bool, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delivered = delivered
        self.wait = wait  # the server's Retry-After, when it said one


def _retry_after_seconds(value: str | None, now: Callable[[], float]) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now())


class ParsClient:
    """Talks to one PARS environment. Not shared across threads: make one per worker thread."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        paths: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        deadline: float = CALL_DEADLINE_SECONDS,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        max_retries: int = 4,
        backoff: float = 0.2,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.base_url = check_base_url(base_url).rstrip("/")
        self.credentials = credentials
        self.paths = dict(default_paths() if paths is None else paths)
        missing = [op for op in OPERATIONS if op not in self.paths]
        if missing:
            raise ValueError(f"no path for PARS operation(s) {', '.join(missing)}")
        self.max_retries = max_retries
        self.deadline = deadline
        self.max_response_bytes = max_response_bytes
        self.backoff = backoff
        self._sleep = sleep
        self._rng = rng or random.Random()
        # Certificates are always verified (never switched off, not even for the sandbox), with one
        # TLS context shared by the process's clients (see verified_tls_context).
        # No kept-alive connections: each attempt opens its own, so the deadline's watchdog knows the
        # socket to shut (a request every few seconds at most; the handshake costs little).
        self._http = httpx.Client(
            timeout=timeout,
            verify=verified_tls_context(),
            transport=transport,
            limits=httpx.Limits(max_keepalive_connections=0),
            headers={"Content-Type": protocol.CONTENT_TYPE, "Accept": "application/xml"},
            follow_redirects=False,
        )

    @classmethod
    def for_environment(
        cls, env: Environment, credentials: Credentials, *, base_url: str | None = None, **options: object
    ) -> ParsClient:
        """A client for a configured environment; base_url overrides it (the local sandbox's URL)."""
        return cls(base_url or env.base_url, credentials, paths=env.paths, **options)  # type: ignore[arg-type]

    # ------------------------------------------------------------ lifecycle

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ParsClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------ operations

    def save_learner_activity(self, records: list[tuple[RecordAction, Completion]]) -> list[RecordResult]:
        """Send adds and deletes in one request; one RecordResult per record, in the same order."""
        if not records:
            return []
        return self.send_learner_activity(self.learner_activity_request(records), len(records))

    def learner_activity_request(self, records: list[tuple[RecordAction, Completion]]) -> bytes:
        """The SaveLearnerActivity request for these records, written but not sent (the sync engine
        writes it in its own thread, so a record that cannot be written never goes in flight)."""
        return protocol.save_learner_activity_request(self.credentials, records)

    def send_learner_activity(self, document: bytes, count: int) -> list[RecordResult]:
        """Send a request written by `learner_activity_request` for `count` records."""
        body = self._call(SAVE_LEARNER_ACTIVITY, document, idempotent=True, count=count)
        results = self._results(body)
        if len(results) != count:
            raise ParsProtocolError(
                f"SaveLearnerActivity: {plural(count, 'record')} sent, {plural(len(results), 'result')} received"
            )
        return results

    def status_by_credit_ids(self, credit_ids: list[str]) -> list[RecordResult]:
        """Current status of each creditID ("NotFound" for one PARS has no record of)."""
        if not credit_ids:
            return []
        document = protocol.status_by_credit_ids_request(self.credentials, credit_ids)
        body = self._call(GET_LEARNER_STATUS_BY_CREDIT_ID, document, idempotent=True, count=len(credit_ids))
        return self._results(body)

    def status_by_learner(self, learner: Learner, activity_id: str | None = None) -> list[RecordResult]:
        document = protocol.status_by_learner_request(self.credentials, learner, activity_id)
        return self._results(self._call(GET_LEARNER_STATUS_BY_LEARNER, document, idempotent=True))

    def save_activity(self, activity: Activity) -> str:
        """Register (or, with activity.activity_id set, update) an activity; returns its 9-digit ID."""
        document = protocol.save_activity_request(self.credentials, activity)
        # An update is idempotent; a registration is not (each one creates a new activity).
        body = self._call(SAVE_ACTIVITY, document, idempotent=activity.activity_id is not None)
        try:
            activity_id = protocol.activity_id_from_response(body)
        except protocol.ProtocolFormatError as exc:
            raise ParsProtocolError(f"SaveActivity: {exc}") from exc
        if not (activity_id.isdigit() and len(activity_id) == 9):
            raise ParsProtocolError(f"SaveActivity: PARS returned {activity_id!r}, not a 9-digit activity ID")
        return activity_id

    def get_activity(self, activity_id: str) -> Activity:
        document = protocol.get_activity_request(self.credentials, activity_id)
        body = self._call(GET_ACTIVITY, document, idempotent=True)
        try:
            return protocol.activity_from_response(body)
        except protocol.ProtocolFormatError as exc:
            raise ParsProtocolError(f"GetActivity: {exc}") from exc

    def learner_match(
        self, learner: Learner, board: str | None = None, board_id: str | None = None
    ) -> MatchResult:
        document = protocol.learner_match_request(self.credentials, learner, board, board_id)
        body = self._call(GET_LEARNER_MATCH, document, idempotent=True)
        try:
            return protocol.match_from_response(body)
        except protocol.ProtocolFormatError as exc:
            raise ParsProtocolError(f"GetLearnerMatch: {exc}") from exc

    # ------------------------------------------------------------ transport

    def _results(self, body: etree._Element) -> list[RecordResult]:
        try:
            return protocol.results_from_response(body)
        except protocol.ProtocolFormatError as exc:
            raise ParsProtocolError(str(exc)) from exc

    def _call(
        self, operation: str, document: bytes, *, idempotent: bool, count: int | None = None
    ) -> etree._Element:
        url = self.base_url + self.paths[operation]
        maybe_delivered = False
        attempt = 0
        ends_at = time.monotonic() + self.deadline
        while True:
            started = time.monotonic()
            try:
                response_body = self._attempt(operation, url, document, ends_at)
            except _Retryable as failure:
                maybe_delivered = maybe_delivered or failure.delivered
                elapsed_ms = (time.monotonic() - started) * 1000
                log.info(
                    "PARS %s attempt %d failed (%s) after %.0f ms", operation, attempt + 1, failure.reason, elapsed_ms
                )
                if failure.wait is not None and failure.wait > MAX_RETRY_AFTER_SECONDS:
                    raise ParsUnavailable(
                        f"PARS asked to wait {failure.wait:.0f} s before retrying {operation}",
                        maybe_delivered=maybe_delivered,
                    ) from None
                resend_unsafe = failure.delivered and not idempotent
                delay = self._delay(attempt, failure.wait)
                out_of_time = time.monotonic() + delay >= ends_at
                if attempt >= self.max_retries or resend_unsafe or out_of_time:
                    raise ParsUnavailable(
                        f"PARS {operation} failed after {plural(attempt + 1, 'attempt')}: {failure.reason}",
                        maybe_delivered=maybe_delivered,
                    ) from None
                self._sleep(delay)
                attempt += 1
                continue
            log.info(
                "PARS %s ok%s in %.0f ms (attempt %d)",
                operation,
                f" ({count} items)" if count is not None else "",
                (time.monotonic() - started) * 1000,
                attempt + 1,
            )
            return response_body

    def _read_capped(self, operation: str, response: httpx.Response, ends_at: float) -> bytes:
        """The body, refused past max_response_bytes (announced or counted) or past the deadline."""
        limit = self.max_response_bytes
        announced = response.headers.get("Content-Length", "")
        if announced.strip().isdigit() and int(announced) > limit:
            raise ParsProtocolError(
                f"{operation}: PARS announced a {int(announced):,}-byte answer; ParsDesk reads at most {limit:,}"
            )
        chunks: list[bytes] = []
        received = 0
        for chunk in response.iter_bytes():
            received += len(chunk)
            if received > limit:
                raise ParsProtocolError(f"{operation}: PARS's answer passed {limit:,} bytes; ParsDesk stopped reading")
            if time.monotonic() > ends_at:
                raise _Retryable(f"no answer within the {self.deadline:.0f} s deadline", delivered=True)
            chunks.append(chunk)
        return b"".join(chunks)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        exponential = self.backoff * (2**attempt)
        jittered = exponential * (0.5 + self._rng.random())  # 50%..150%: spreads clients apart
        if retry_after is not None:
            return retry_after  # the server said when; it is capped before we get here
        return jittered

    def _attempt(self, operation: str, url: str, document: bytes, ends_at: float) -> etree._Element:
        remaining = ends_at - time.monotonic()
        if remaining <= 0:
            raise _Retryable(f"no answer within the {self.deadline:.0f} s deadline", delivered=True)
        watchdog = _Watchdog()
        timer = threading.Timer(remaining, watchdog.fire)
        timer.daemon = True
        timer.start()
        try:
            with self._http.stream(
                "POST", url, content=document, extensions={"trace": watchdog.trace}
            ) as response:
                status = response.status_code
                content = self._read_capped(operation, response, ends_at)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise _Retryable(type(exc).__name__, delivered=False) from exc
        except httpx.PoolTimeout as exc:
            raise _Retryable("PoolTimeout", delivered=False) from exc
        except httpx.HTTPError as exc:
            # The request was (at least partly) sent: PARS may have processed it.
            if watchdog.fired:
                raise _Retryable(f"no answer within the {self.deadline:.0f} s deadline", delivered=True) from exc
            raise _Retryable(type(exc).__name__, delivered=True) from exc
        finally:
            timer.cancel()
            watchdog.close()
        if status in (401, 403):
            raise ParsAuthError(
                f"PARS refused the credentials for {operation} (HTTP {status}); check provider ID, user and password"
            )
        if status == 429:
            raise _Retryable(
                "HTTP 429", delivered=False, wait=_retry_after_seconds(response.headers.get("Retry-After"), time.time)
            )
        if status >= 500:
            raise _Retryable(
                f"HTTP {status}",
                delivered=True,
                wait=_retry_after_seconds(response.headers.get("Retry-After"), time.time),
            )
        try:
            parsed = protocol.parse_response(content, operation)
        except protocol.ProtocolFormatError as exc:
            raise ParsProtocolError(f"{operation}: HTTP {status} with an unreadable answer: {exc}") from exc
        if isinstance(parsed, protocol.Fault):
            if 600 <= parsed.code <= 999:  # a PARS error code: PARS understood and refused
                raise ParsRequestError(parsed.code, parsed.message)
            raise ParsProtocolError(f"{operation}: HTTP {status}: {parsed.message}")
        if status != 200:
            raise ParsProtocolError(f"{operation}: unexpected HTTP {status}")
        return parsed

