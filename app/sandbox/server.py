"""The sandbox PARS as an HTTP server (Werkzeug): ParsDesk's protocol on loopback.

    with SandboxServer(board_delay=0.5) as sandbox:
        client = ParsClient(sandbox.url, SANDBOX_DEMO_CREDENTIALS)

Routes: the six operations at the local environment's paths (resources/pars/environments.toml),
POST with a protocol document; and for tests and demos `GET /_sandbox/records` (JSON, one entry
per creditID ever received) and `POST /_sandbox/advance` (form or JSON `seconds`: move the
sandbox's clock forward so board answers arrive without waiting; 0 to 10 years, finite).

Connections are bounded: at most `max_connections` are served at once (one more is answered 503 and
closed), a connection that sends nothing for `connection_timeout` seconds is closed, and none is
kept longer than `connection_deadline` seconds, so half-open requests cannot pin threads.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from app.pars import protocol, xml_codec
from app.pars.credentials import SANDBOX_DEMO_CREDENTIALS, Credentials
from app.pars.domain import Activity, Completion
from app.pars.environments import (
    GET_ACTIVITY,
    GET_LEARNER_MATCH,
    GET_LEARNER_STATUS_BY_CREDIT_ID,
    GET_LEARNER_STATUS_BY_LEARNER,
    SAVE_ACTIVITY,
    SAVE_LEARNER_ACTIVITY,
    default_paths,
)
from app.pars.validation import validate_activity
from app.sandbox.clock import MAX_ADVANCE_SECONDS, advance_allowed
from app.sandbox.registry import Registry
from app.sandbox.state import ActivityNotFound, SandboxState, UploadRefused

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 60 * 1024 * 1024  # a 5,000-record batch is far below this
# Like a WCF service's reader quota (maxStringContentLength, 8,192 by default), a text or attribute
# longer than this makes PARS refuse the whole request with 999: nothing in it is stored.
MAX_TEXT_CHARS = 8192
# The PARS website's batch upload, for the upload-file route (docs/sandbox.md).
UPLOAD_PATH = "/_sandbox/batch-upload"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ACTIVITY_NOT_FOUND_CODE = 690
MAX_CONNECTIONS = 64
READERS_AT_ONCE = 4  # requests parsed side by side while earlier ones are carried out
CONNECTION_TIMEOUT_S = 15.0  # silence from the client before its connection is closed
CONNECTION_DEADLINE_S = 300.0  # the longest any one connection is served
_BUSY_ANSWER = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 28\r\n"
    b"Retry-After: 1\r\nConnection: close\r\n\r\nSandbox PARS is at capacity\n"
)


class _QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's access log goes to stderr for every request; the sandbox logs its own summary line.
    Each connection reads with the server's timeout (the server's reaper enforces its deadline)."""

    def setup(self) -> None:
        self.timeout = self.server.connection_timeout  # type: ignore[attr-defined]
        super().setup()

    def handle(self) -> None:
        try:
            super().handle()
        except OSError:  # the timeout or the deadline ended a silent client: nothing to answer
            self.close_connection = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class _BoundedServer(ThreadedWSGIServer):
    """Werkzeug's threaded server with a bound on the threads (one per connection, at most `limit`)
    and a reaper thread that shuts every connection down at its deadline."""

    def __init__(self, host: str, port: int, app: Callable, *, limit: int, timeout: float, deadline: float) -> None:
        self.connection_timeout = timeout
        self.connection_deadline = deadline
        self._slots = threading.BoundedSemaphore(limit)
        self._open: dict[socket.socket, float] = {}  # connection -> when it must end
        self._open_lock = threading.Lock()
        self._closing = threading.Event()
        super().__init__(host, port, app, handler=_QuietRequestHandler)
        self._reaper = threading.Thread(target=self._reap, name="pars-sandbox-reaper", daemon=True)
        self._reaper.start()

    def _reap(self) -> None:
        while not self._closing.wait(min(1.0, self.connection_deadline / 4)):
            now = time.monotonic()
            with self._open_lock:
                expired = [connection for connection, ends in self._open.items() if ends <= now]
            for connection in expired:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def process_request(self, request, client_address) -> None:  # noqa: ANN001 - socketserver's types
        if not self._slots.acquire(blocking=False):
            try:
                request.settimeout(1.0)
                request.sendall(_BUSY_ANSWER)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        with self._open_lock:
            self._open[request] = time.monotonic() + self.connection_deadline
        try:
            super().process_request(request, client_address)
        except Exception:
            self._done(request)
            raise

    def process_request_thread(self, request, client_address) -> None:  # noqa: ANN001
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._done(request)

    def _done(self, request: socket.socket) -> None:
        with self._open_lock:
            self._open.pop(request, None)
        self._slots.release()

    def server_close(self) -> None:
        self._closing.set()
        super().server_close()


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A request read and checked, waiting for its turn: its envelope, and for SaveLearnerActivity
    its ActivityReport elements with the records read from them (None when reading one failed)."""

    request: protocol.ParsedRequest
    reports: list[etree._Element] = field(default_factory=list)
    completions: list[Completion] | None = None


class SandboxServer:
    """A PARS sandbox on a background thread; `port=0` picks a free port (see `.url`)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        board_delay: float = 5.0,
        seed: str = "demo",
        activities: Iterable[Activity] = (),
        fail_rate: float = 0.0,
        latency_ms: float = 0.0,
        state_path: Path | str | None = None,
        credentials: Credentials = SANDBOX_DEMO_CREDENTIALS,
        clock: Callable[[], float] = time.time,
        max_connections: int = MAX_CONNECTIONS,
        connection_timeout: float = CONNECTION_TIMEOUT_S,
        connection_deadline: float = CONNECTION_DEADLINE_S,
    ) -> None:
        if not 0.0 <= fail_rate <= 1.0:
            raise ValueError(f"fail rate must be between 0 and 1, not {fail_rate}")
        if board_delay < 0 or latency_ms < 0:
            raise ValueError("board delay and latency must not be negative")
        self.host = host
        self.credentials = credentials
        self.fail_rate = fail_rate
        self.latency_ms = latency_ms
        self.state = SandboxState(
            registry=Registry.from_seed(seed),
            board_delay=board_delay,
            activities=activities,
            path=state_path,
            clock=clock,
            provider_id=credentials.provider_id,
        )
        self._failures = random.Random(f"{seed}:fail-rate")  # seeded: a test run fails the same way each time
        self._failures_lock = threading.Lock()
        # Web-service requests are carried out in the order they were received (see _in_turn)
        self._turns = threading.Condition()
        self._readers = threading.BoundedSemaphore(READERS_AT_ONCE)
        self._tickets = itertools.count()
        self._serving = 0
        self._operations = {path: operation for operation, path in default_paths().items()}
        self._routes = Map(
            [Rule(path, endpoint=operation, methods=["POST"]) for path, operation in self._operations.items()]
            + [
                Rule("/_sandbox/records", endpoint="records", methods=["GET"]),
                Rule(UPLOAD_PATH, endpoint="upload", methods=["POST"]),
                Rule("/_sandbox/advance", endpoint="advance", methods=["POST"]),
            ]
        )
        self._server: BaseWSGIServer = _BoundedServer(
            host, port, self._wsgi, limit=max_connections, timeout=connection_timeout, deadline=connection_deadline
        )
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> SandboxServer:
        if self._thread is None:
            # A short poll interval keeps stop() quick (tests start and stop many sandboxes).
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="pars-sandbox", daemon=True
            )
            self._thread.start()
            log.info("PARS sandbox listening on %s", self.url)
        return self

    def serve_forever(self, poll_interval: float = 0.1) -> None:
        """Serve on the calling thread until interrupted or `stop_serving()` (the `parsdesk sandbox`
        command); the poll interval bounds how long a stop request waits."""
        self._server.serve_forever(poll_interval=poll_interval)

    def stop_serving(self) -> None:
        """From another thread: make `serve_forever()` return (then call `stop()`)."""
        self._server.shutdown()

    @property
    def board_delay(self) -> float:
        """Seconds before a board answers a Submitted record."""
        return self.state.board_delay

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()
        self.state.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------ test helpers

    def advance(self, seconds: float) -> None:
        """Move the sandbox's clock forward (board answers due by then become visible)."""
        if not advance_allowed(seconds):
            raise ValueError(f"cannot advance the sandbox's clock by {seconds!r} seconds")
        self.state.advance(seconds)

    def records(self) -> list[dict[str, object]]:
        return [record.as_json() for record in self.state.records()]

    # ------------------------------------------------------------ HTTP

    def _wsgi(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = MAX_REQUEST_BYTES
        response = self._dispatch(request)
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        started = time.monotonic()
        try:
            endpoint, _ = self._routes.bind_to_environ(request.environ).match()
        except (NotFound, MethodNotAllowed) as exc:
            return Response(exc.description or exc.name, status=exc.code, mimetype="text/plain")
        if endpoint == "records":
            return Response(json.dumps(self.records()), mimetype="application/json")
        if endpoint == "advance":
            return self._advance(request)
        if endpoint == "upload":
            return self._upload(request)

        try:
            data = request.get_data(cache=False)
        except HTTPException as exc:  # e.g. 413 request too large
            return self._fault(endpoint, exc.code or 400, exc.description or exc.name)
        with self._in_turn() as wait_for_turn:
            # Reading the request touches nothing PARS holds, so it is done before the request's
            # turn, side by side with the requests ahead of it (what a server does as a request comes
            # in); only what reads or changes PARS's records waits for the turn.
            with self._readers:  # a few at once: each parsed request holds its element tree
                prepared = self._prepare(endpoint, data)
            if self.latency_ms:  # the round trip: requests wait it out side by side
                time.sleep(self.latency_ms / 1000)
            wait_for_turn()
            if self.fail_rate and self._should_fail():
                return Response(
                    protocol.fault_response(endpoint, 503, "Sandbox PARS is temporarily unavailable (simulated)"),
                    status=503,
                    content_type=protocol.CONTENT_TYPE,
                )
            response = prepared if isinstance(prepared, Response) else self._carry_out(endpoint, prepared)
        log.info(
            "sandbox %s -> HTTP %d in %.0f ms", endpoint, response.status_code, (time.monotonic() - started) * 1000
        )
        return response

    @contextmanager
    def _in_turn(self) -> Iterator[Callable[[], None]]:
        """Requests are carried out in the order they were received: each waits (the callable it is
        given) until every request received before it is done. A status lookup therefore never
        overtakes a SaveLearnerActivity that reached PARS before it. The sync engine's exactly-once
        rule (a creditID is sent again only after PARS said it does not have it) relies on PARS
        answering with what it received before the question; a threaded server whose requests
        race for one lock could answer NotFound to a desk recovering after another desk crashed,
        while that desk's last batch still waited for the lock."""
        with self._turns:
            ticket = next(self._tickets)

        def wait_for_turn() -> None:
            with self._turns:
                self._turns.wait_for(lambda: self._serving == ticket)

        try:
            yield wait_for_turn
        finally:
            with self._turns:
                self._turns.wait_for(lambda: self._serving == ticket)
                self._serving += 1
                self._turns.notify_all()

    def _should_fail(self) -> bool:
        with self._failures_lock:
            return self._failures.random() < self.fail_rate

    def _advance(self, request: Request) -> Response:
        raw = request.get_json(silent=True)
        value = raw.get("seconds") if isinstance(raw, dict) else request.form.get("seconds")
        try:
            seconds = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            return Response("seconds must be a number", status=400, mimetype="text/plain")
        if not advance_allowed(seconds):
            return Response(
                f"seconds must be a finite number from 0 to {MAX_ADVANCE_SECONDS:.0f} (ten years)",
                status=400, mimetype="text/plain",
            )
        self.advance(seconds)
        return Response(json.dumps({"advanced": seconds}), mimetype="application/json")

    def _upload(self, request: Request) -> Response:
        """The website's batch upload: an .xlsx or .xml learner file in, PARS's rejection workbook out."""
        auth = request.authorization
        if auth is None or (auth.username, auth.password) != (self.credentials.user, self.credentials.password):
            return Response("log in to Sandbox PARS first (HTTP Basic: the sandbox user and password)",
                            status=401, mimetype="text/plain", headers={"WWW-Authenticate": 'Basic realm="PARS"'})
        name = request.args.get("name", "")
        try:
            data = request.get_data(cache=False)
            workbook, records, rejected = self.state.process_upload(data, name)
        except HTTPException as exc:  # 413: larger than any 5,000-record file
            return Response(exc.description or exc.name, status=exc.code or 400, mimetype="text/plain")
        except UploadRefused as exc:
            return Response(str(exc), status=400, mimetype="text/plain")
        log.info("sandbox batch upload: %d records, %d rejected", records, rejected)
        return Response(workbook, status=200, content_type=XLSX_TYPE,
                        headers={"X-PARS-Records": str(records), "X-PARS-Rejected": str(rejected),
                                 "Content-Disposition": 'attachment; filename="rejections.xlsx"'})

    @staticmethod
    def _fault(operation: str, status: int, message: str, code: int | None = None) -> Response:
        return Response(
            protocol.fault_response(operation, status if code is None else code, message),
            status=status,
            content_type=protocol.CONTENT_TYPE,
        )

    @staticmethod
    def _xml(document: bytes) -> Response:
        return Response(document, status=200, content_type=protocol.CONTENT_TYPE)

    def _operation(self, endpoint: str, data: bytes) -> Response:
        """One web-service request, read and carried out."""
        prepared = self._prepare(endpoint, data)
        return prepared if isinstance(prepared, Response) else self._carry_out(endpoint, prepared)

    def _prepare(self, endpoint: str, data: bytes) -> Response | _Prepared:
        """Read a request without touching PARS's records: its envelope, credentials and reader
        quota (a fault answer when they fail), and a SaveLearnerActivity's learner records."""
        try:
            parsed = protocol.parse_request(data)
        except protocol.ProtocolFormatError as exc:
            return self._fault(endpoint, 400, f"Bad request document: {exc}")
        if parsed.operation != endpoint:
            return self._fault(endpoint, 400, f"document is for {parsed.operation}, posted to {endpoint}'s path")
        if parsed.credentials != self.credentials:
            return self._fault(endpoint, 401, "Invalid ProviderId, User or Password")
        longest = _longest_text(parsed.body, data)
        if longest > MAX_TEXT_CHARS:
            return self._fault(
                endpoint, 400,
                f"General learner record processing error: the request holds a value of {longest} characters "
                f"(at most {MAX_TEXT_CHARS} are read); nothing in it was processed",
                code=999,
            )
        if parsed.operation != SAVE_LEARNER_ACTIVITY:
            return _Prepared(parsed)
        try:
            reports = protocol.report_elements_from_request(parsed.body)
        except protocol.ProtocolFormatError as exc:
            return self._fault(endpoint, 400, f"Bad request document: {exc}")
        try:
            completions = [xml_codec.parse_report(report) for report in reports]
        except Exception:  # read again in turn, where it fails as it always has
            completions = None
        return _Prepared(parsed, reports, completions)

    def _carry_out(self, endpoint: str, prepared: _Prepared) -> Response:
        try:
            return self._handle(prepared)
        except protocol.ProtocolFormatError as exc:
            return self._fault(endpoint, 400, f"Bad request document: {exc}")

    def _handle(self, prepared: _Prepared) -> Response:
        parsed = prepared.request
        operation, body, state = parsed.operation, parsed.body, self.state
        if operation == SAVE_LEARNER_ACTIVITY:
            results = state.save_records(prepared.reports, prepared.completions)
            return self._xml(protocol.results_response(operation, results))
        if operation == GET_LEARNER_STATUS_BY_CREDIT_ID:
            results = state.status_by_credit_ids(protocol.credit_ids_from_request(body))
            return self._xml(protocol.results_response(operation, results))
        if operation == GET_LEARNER_STATUS_BY_LEARNER:
            learner, activity_id = protocol.learner_query_from_request(body)
            if not (learner.last_name or learner.license_id):
                return self._fault(operation, 400, "GetLearnerStatusByLearner needs at least a last name or a license")
            return self._xml(protocol.results_response(operation, state.status_by_learner(learner, activity_id)))
        if operation == GET_LEARNER_MATCH:
            learner, board, board_id = protocol.match_query_from_request(body)
            return self._xml(protocol.match_response(state.match_learner(learner, board, board_id)))
        if operation == GET_ACTIVITY:
            activity_id = protocol.activity_id_from_request(body)
            activity = state.activity(activity_id)
            if activity is None:
                return self._fault(
                    operation, 404, f"ACCME activity ID {activity_id} does not exist", code=ACTIVITY_NOT_FOUND_CODE
                )
            return self._xml(protocol.activity_response(activity))
        if operation == SAVE_ACTIVITY:
            activity = protocol.activity_from_request(body)
            problems = validate_activity(activity)
            if problems:
                first = problems[0]
                message = "; ".join(problem.message for problem in problems)
                return self._fault(operation, 422, message, code=first.code if first.code >= 600 else 999)
            try:
                activity_id = state.save_activity(activity)
            except ActivityNotFound:
                return self._fault(
                    operation, 404, f"ACCME activity ID {activity.activity_id} does not exist",
                    code=ACTIVITY_NOT_FOUND_CODE,
                )
            return self._xml(protocol.activity_id_response(activity_id))
        raise AssertionError(f"unrouted operation {operation}")  # every OPERATIONS entry is handled above


def _longest_text(body: etree._Element, data: bytes | None = None) -> int:
    """The length of the longest text or attribute value in a request body; or, when `data` (the
    request as received) proves that none is longer than MAX_TEXT_CHARS, that bound.

    The bound: in a UTF-8 document without CDATA sections, a text or attribute value cannot hold the
    byte `<` (nor can any other character's UTF-8 bytes), and it is at least as many bytes as it has
    characters (entities and character references only make the bytes longer). So no value is longer
    than the longest run of bytes between two `<`: one split of the bytes instead of walking every
    text and attribute of a 500-record request (about a tenth of the sandbox's work per batch)."""
    if data is not None and _utf8_without_cdata(body, data):
        bound = max(map(len, data.split(b"<")), default=0)
        if bound <= MAX_TEXT_CHARS:
            return bound
    return max(map(len, itertools.chain(body.itertext(), body.xpath("//@*"))), default=0)


def _utf8_without_cdata(body: etree._Element, data: bytes) -> bool:
    """Whether `data` is a UTF-8 (or ASCII) document without CDATA sections. A NUL byte betrays
    UTF-16/32 (valid UTF-8 XML holds none); other encodings (ISO-2022-JP's characters include the
    byte `<`) are declared, and lxml reports the declaration."""
    encoding = (body.getroottree().docinfo.encoding or "UTF-8").upper().replace("-", "").replace("_", "")
    return encoding in ("UTF8", "ASCII", "USASCII") and b"\x00" not in data and b"<![CDATA[" not in data
