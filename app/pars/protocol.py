"""ParsDesk's rendering of the PARS web-service operations as XML documents over HTTP POST.

Pure functions: they build and read request and response documents and never touch the network.
The client (`app.pars.client`) and the sandbox server (`app.sandbox`) both use them, so the two
sides cannot drift apart. Learner records travel as the very `ACCMELearnerReports` document that
`app.pars.xml_codec` writes for an XML batch file; this module only wraps it. The format is documented in
docs/pars-protocol.md; ACCME's own transport (document 715) is not public, so when it differs only
this module and the environment paths change.

Every request is `<Request operation="...">` with a `<Credentials>` element (ProviderId, User,
Password) and a `<Body>`; every response is `<Response operation="...">` with a `<Body>` or a
`<Fault>` (Code, Message). All elements are in the namespace `PROTOCOL_NS`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Literal

from lxml import etree

from app.pars import xml_codec
from app.pars.batch import BatchFileError
from app.pars.credentials import Credentials
from app.pars.domain import Activity, BoardRegistration, Completion, Learner, RecordAction
from app.pars.environments import (
    GET_ACTIVITY,
    GET_LEARNER_MATCH,
    GET_LEARNER_STATUS_BY_CREDIT_ID,
    GET_LEARNER_STATUS_BY_LEARNER,
    OPERATIONS,
    SAVE_ACTIVITY,
    SAVE_LEARNER_ACTIVITY,
)
from app.pars.values import format_amount, format_pars_date, parse_amount, parse_pars_date

PROTOCOL_NS = "urn:parsdesk:pars-ws:1"
_NSMAP = {None: PROTOCOL_NS}
CONTENT_TYPE = "application/xml; charset=utf-8"

# Per-record statuses a PARS answer can carry.
STATUS_SUBMITTED = "Submitted"
STATUS_ACCEPTED = "Accepted"
STATUS_REJECTED = "Rejected"
STATUS_DELETE_SUBMITTED = "Delete Submitted"
STATUS_DELETED = "Deleted"
STATUS_NOT_FOUND = "NotFound"
RECORD_STATUSES = frozenset(
    {
        STATUS_SUBMITTED,
        STATUS_ACCEPTED,
        STATUS_REJECTED,
        STATUS_DELETE_SUBMITTED,
        STATUS_DELETED,
        STATUS_NOT_FOUND,
    }
)

MatchKind = Literal["unique", "ambiguous", "none"]
MATCH_KINDS: frozenset[str] = frozenset({"unique", "ambiguous", "none"})


class ProtocolFormatError(ValueError):
    """A document does not follow the protocol (not XML, wrong root, missing or bad element)."""


@dataclass(frozen=True)
class RecordResult:
    """PARS's answer about one learner record."""

    credit_id: str
    status: str  # one of RECORD_STATUSES
    code: int | None  # PARS error code (6xx/7xx/9xx) for rejections and refusals
    message: str | None


@dataclass(frozen=True)
class MatchResult:
    """GetLearnerMatch's answer: one learner (with full identity for pre-fill), several, or none."""

    kind: MatchKind
    learner: Learner | None
    board_ids: dict[str, str] = field(default_factory=dict)  # board code -> diplomate ID
    code: int | None = None
    message: str | None = None


@dataclass(frozen=True)
class Fault:
    """An operation-level failure: 401 bad credentials, 400 bad document, or a PARS code (e.g. 690)."""

    code: int
    message: str


@dataclass(frozen=True)
class ParsedRequest:
    operation: str
    credentials: Credentials
    body: etree._Element


def _q(name: str) -> str:
    return f"{{{PROTOCOL_NS}}}{name}"


def parse_xml(data: bytes) -> etree._Element:
    """Parse an untrusted document with the learner codec's safe parser (no DTD, entities or network)."""
    try:
        return xml_codec.parse_xml_bytes(data)
    except BatchFileError as exc:
        raise ProtocolFormatError(str(exc)) from None


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _text(parent: etree._Element, name: str) -> str | None:
    child = parent.find(_q(name))
    if child is None or child.text is None:
        return None
    text = child.text.strip()
    return text or None


def _require_text(parent: etree._Element, name: str) -> str:
    value = _text(parent, name)
    if value is None:
        raise ProtocolFormatError(f"missing <{name}> in <{etree.QName(parent).localname}>")
    return value


def _add(parent: etree._Element, name: str, value: object | None) -> etree._Element | None:
    if value is None:
        return None
    child = etree.SubElement(parent, _q(name))
    child.text = str(value)
    return child


def _bool_text(value: bool) -> str:
    return "true" if value else "false"


def _parse_bool(text: str | None, name: str) -> bool:
    if text is None:
        return False
    lowered = text.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ProtocolFormatError(f"<{name}> must be true or false, not {text!r}")


# ---------------------------------------------------------------- envelopes


def _request(operation: str, credentials: Credentials) -> tuple[etree._Element, etree._Element]:
    if operation not in OPERATIONS:
        raise ValueError(f"unknown PARS operation {operation!r}")
    root = etree.Element(_q("Request"), nsmap=_NSMAP)
    root.set("operation", operation)
    header = etree.SubElement(root, _q("Credentials"))
    _add(header, "ProviderId", credentials.provider_id)
    _add(header, "User", credentials.user)
    _add(header, "Password", credentials.password)
    return root, etree.SubElement(root, _q("Body"))


def _response(operation: str) -> tuple[etree._Element, etree._Element]:
    root = etree.Element(_q("Response"), nsmap=_NSMAP)
    root.set("operation", operation)
    return root, etree.SubElement(root, _q("Body"))


def parse_request(data: bytes) -> ParsedRequest:
    """Server side: the operation, the credentials and the body of a request document."""
    root = parse_xml(data)
    if root.tag != _q("Request"):
        raise ProtocolFormatError(f"expected a <Request> in {PROTOCOL_NS}, got {root.tag}")
    operation = root.get("operation", "")
    if operation not in OPERATIONS:
        raise ProtocolFormatError(f"unknown operation {operation!r}")
    header = root.find(_q("Credentials"))
    if header is None:
        raise ProtocolFormatError("missing <Credentials>")
    credentials = Credentials(
        provider_id=_text(header, "ProviderId") or "",
        user=_text(header, "User") or "",
        password=_text(header, "Password") or "",
    )
    body = root.find(_q("Body"))
    if body is None:
        raise ProtocolFormatError("missing <Body>")
    return ParsedRequest(operation, credentials, body)


def parse_response(data: bytes, operation: str) -> etree._Element | Fault:
    """Client side: the response's body, or its Fault. Raises ProtocolFormatError when malformed."""
    root = parse_xml(data)
    if root.tag != _q("Response"):
        raise ProtocolFormatError(f"expected a <Response> in {PROTOCOL_NS}, got {root.tag}")
    if root.get("operation") != operation:
        raise ProtocolFormatError(
            f"response is for operation {root.get('operation')!r}, expected {operation!r}"
        )
    fault = root.find(_q("Fault"))
    if fault is not None:
        return parse_fault(fault)
    body = root.find(_q("Body"))
    if body is None:
        raise ProtocolFormatError("response has neither <Body> nor <Fault>")
    return body


def parse_fault(fault: etree._Element) -> Fault:
    code_text = _require_text(fault, "Code")
    try:
        code = int(code_text)
    except ValueError:
        raise ProtocolFormatError(f"fault code {code_text!r} is not a number") from None
    return Fault(code, _text(fault, "Message") or "")


def fault_response(operation: str, code: int, message: str) -> bytes:
    root = etree.Element(_q("Response"), nsmap=_NSMAP)
    root.set("operation", operation)
    fault = etree.SubElement(root, _q("Fault"))
    _add(fault, "Code", code)
    _add(fault, "Message", message)
    return _serialize(root)


# ---------------------------------------------------------------- activities


def _activity_element(activity: Activity) -> etree._Element:
    element = etree.Element(_q("Activity"))
    _add(element, "ActivityID", activity.activity_id)
    _add(element, "Title", activity.title)
    _add(element, "ActivityType", activity.activity_type)
    _add(element, "StartDate", format_pars_date(activity.start_date))
    _add(element, "EndDate", format_pars_date(activity.end_date))
    if activity.cme_credits is not None:
        _add(element, "CmeCredits", format_amount(activity.cme_credits))
    _add(element, "Rems", _bool_text(activity.rems))
    _add(element, "StateCollaboration", _bool_text(activity.state_collaboration))
    for registration in activity.boards:
        board = etree.SubElement(element, _q("Board"))
        board.set("code", registration.board)
        _add(board, "MaxPoints", format_amount(registration.max_points))
        for credit_type in registration.credit_types:
            _add(board, "CreditType", credit_type)
        if registration.credit_claim_date is not None:
            _add(board, "CreditClaimDate", format_pars_date(registration.credit_claim_date))
    return element


def _parse_date(parent: etree._Element, name: str, *, required: bool) -> date | None:
    text = _require_text(parent, name) if required else _text(parent, name)
    if text is None:
        return None
    parsed = parse_pars_date(text)
    if parsed is None:
        raise ProtocolFormatError(f"<{name}> {text!r} is not a date (MM-DD-YYYY)")
    return parsed


def _parse_amount(parent: etree._Element, name: str, *, required: bool) -> Decimal | None:
    text = _require_text(parent, name) if required else _text(parent, name)
    if text is None:
        return None
    amount = parse_amount(text)
    if amount is None:
        raise ProtocolFormatError(f"<{name}> {text!r} is not a number")
    return amount


def activity_from_element(element: etree._Element) -> Activity:
    boards = []
    for board in element.findall(_q("Board")):
        code = (board.get("code") or "").strip()
        if not code:
            raise ProtocolFormatError("<Board> without a code attribute")
        boards.append(
            BoardRegistration(
                board=code,
                max_points=_parse_amount(board, "MaxPoints", required=True) or Decimal(0),
                credit_types=tuple(
                    (item.text or "").strip() for item in board.findall(_q("CreditType")) if item.text
                ),
                credit_claim_date=_parse_date(board, "CreditClaimDate", required=False),
            )
        )
    start_date = _parse_date(element, "StartDate", required=True)
    end_date = _parse_date(element, "EndDate", required=True)
    assert start_date is not None and end_date is not None  # required=True raised otherwise
    return Activity(
        activity_id=_text(element, "ActivityID"),
        title=_require_text(element, "Title"),
        activity_type=_require_text(element, "ActivityType"),
        start_date=start_date,
        end_date=end_date,
        cme_credits=_parse_amount(element, "CmeCredits", required=False),
        boards=tuple(boards),
        rems=_parse_bool(_text(element, "Rems"), "Rems"),
        state_collaboration=_parse_bool(_text(element, "StateCollaboration"), "StateCollaboration"),
    )


def _child(body: etree._Element, name: str) -> etree._Element:
    child = body.find(_q(name))
    if child is None:
        raise ProtocolFormatError(f"missing <{name}>")
    return child


def save_activity_request(credentials: Credentials, activity: Activity) -> bytes:
    root, body = _request(SAVE_ACTIVITY, credentials)
    body.append(_activity_element(activity))
    return _serialize(root)


def activity_from_request(body: etree._Element) -> Activity:
    return activity_from_element(_child(body, "Activity"))


def activity_id_response(activity_id: str) -> bytes:
    root, body = _response(SAVE_ACTIVITY)
    _add(body, "ActivityID", activity_id)
    return _serialize(root)


def activity_id_from_response(body: etree._Element) -> str:
    return _require_text(body, "ActivityID")


def get_activity_request(credentials: Credentials, activity_id: str) -> bytes:
    root, body = _request(GET_ACTIVITY, credentials)
    _add(body, "ActivityID", activity_id)
    return _serialize(root)


def activity_id_from_request(body: etree._Element) -> str:
    return _require_text(body, "ActivityID")


def activity_response(activity: Activity) -> bytes:
    root, body = _response(GET_ACTIVITY)
    body.append(_activity_element(activity))
    return _serialize(root)


def activity_from_response(body: etree._Element) -> Activity:
    return activity_from_element(_child(body, "Activity"))


# ---------------------------------------------------------------- learner records


def save_learner_activity_request(
    credentials: Credentials,
    records: Iterable[tuple[RecordAction, Completion]],
    *,
    titles: Mapping[str, str] | None = None,
    created: datetime | None = None,
) -> bytes:
    """One request whose body is the same `ACCMELearnerReports` document as an XML batch file; each
    ActivityReport carries its own record action (XtensibleInfo/LearnerRecordAction)."""
    root, body = _request(SAVE_LEARNER_ACTIVITY, credentials)
    completions = [
        completion if completion.action is action else dataclasses.replace(completion, action=action)
        for action, completion in records
    ]
    created = created or datetime.now(timezone.utc)
    text = xml_codec.document_text(completions, credentials.provider_id, created, titles=titles)
    if text is None:  # a format only the element tree writes
        body.append(xml_codec.build_document(completions, credentials.provider_id, created, titles=titles))
        return _serialize(root)
    # The envelope as lxml writes it (credentials escaped), with the document written as text where
    # its empty <Body/> was: the same bytes as appending build_document's tree, in a fraction of the time.
    envelope = _serialize(root)
    empty_body = f"<{etree.QName(body).localname}/></{etree.QName(root).localname}>".encode()
    if not envelope.endswith(empty_body):
        raise AssertionError("the request envelope does not end with its empty body")
    return b"".join(
        (envelope[: -len(empty_body)], b"<Body>", text.encode("utf-8"), b"</Body></Request>")
    )


def report_elements_from_request(body: etree._Element) -> list[etree._Element]:
    """Server side: the ActivityReport elements of the body's learner document, in order (decode
    each with xml_codec.parse_report)."""
    documents = [child for child in body if isinstance(child.tag, str)]
    if len(documents) != 1:
        raise ProtocolFormatError(f"expected one <{xml_codec.WRAPPER}> learner document in <Body>")
    try:
        return xml_codec.report_elements(documents[0])
    except BatchFileError as exc:
        raise ProtocolFormatError(str(exc)) from None


def _results_element(parent: etree._Element, results: Iterable[RecordResult]) -> None:
    container = etree.SubElement(parent, _q("Results"))
    for result in results:
        item = etree.SubElement(container, _q("Result"))
        _add(item, "CreditID", result.credit_id)
        _add(item, "Status", result.status)
        _add(item, "Code", result.code)
        _add(item, "Message", result.message)


def results_response(operation: str, results: Iterable[RecordResult]) -> bytes:
    """The answer holding one <Result> per record. Written as text after the envelope lxml writes:
    the same bytes as `_results_element` in the tree (tested), at a fraction of the cost for the
    hundreds of results of a batch."""
    root, body = _response(operation)
    envelope = _serialize(root)
    empty_body = f"<{etree.QName(body).localname}/></{etree.QName(root).localname}>".encode()
    if not envelope.endswith(empty_body):
        raise AssertionError("the answer envelope does not end with its empty body")
    out: list[str] = []
    for result in results:
        out.append("<Result>")
        for name, value in (("CreditID", result.credit_id), ("Status", result.status), ("Code", result.code),
                            ("Message", result.message)):
            if value is not None:  # as _add: a None leaves the element out
                out.append(f"<{name}>{xml_codec.escaped_text(str(value))}</{name}>")
        out.append("</Result>")
    results_text = f"<Results>{''.join(out)}</Results>" if out else "<Results/>"
    return b"".join(
        (envelope[: -len(empty_body)], b"<Body>", results_text.encode("utf-8"), b"</Body></Response>")
    )


def results_from_response(body: etree._Element) -> list[RecordResult]:
    container = _child(body, "Results")
    results = []
    for item in container.iterchildren(_RESULT):
        # one look at each child rather than a search per field: an answer holds hundreds of results
        fields: dict[str, str | None] = {}
        for child in item:
            if child.tag in _RESULT_FIELDS and child.tag not in fields:  # the first one, as find() takes
                fields[child.tag] = (child.text or "").strip() or None
        status = fields.get(_RESULT_STATUS)
        if status is None:
            raise ProtocolFormatError("missing <Status> in <Result>")
        if status not in RECORD_STATUSES:
            raise ProtocolFormatError(f"unknown record status {status!r}")
        code_text = fields.get(_RESULT_CODE)
        try:
            code = int(code_text) if code_text is not None else None
        except ValueError:
            raise ProtocolFormatError(f"record code {code_text!r} is not a number") from None
        results.append(
            RecordResult(
                credit_id=fields.get(_RESULT_CREDIT_ID) or "",
                status=status,
                code=code,
                message=fields.get(_RESULT_MESSAGE),
            )
        )
    return results


_RESULT = _q("Result")
_RESULT_CREDIT_ID, _RESULT_STATUS, _RESULT_CODE, _RESULT_MESSAGE = (
    _q(name) for name in ("CreditID", "Status", "Code", "Message")
)
_RESULT_FIELDS = frozenset((_RESULT_CREDIT_ID, _RESULT_STATUS, _RESULT_CODE, _RESULT_MESSAGE))


def status_by_credit_ids_request(credentials: Credentials, credit_ids: Iterable[str]) -> bytes:
    root, body = _request(GET_LEARNER_STATUS_BY_CREDIT_ID, credentials)
    container = etree.SubElement(body, _q("CreditIDs"))
    for credit_id in credit_ids:
        _add(container, "CreditID", credit_id)
    return _serialize(root)


def credit_ids_from_request(body: etree._Element) -> list[str]:
    container = _child(body, "CreditIDs")
    return [(item.text or "").strip() for item in container.findall(_q("CreditID"))]


# ---------------------------------------------------------------- learners and matching


def _learner_element(parent: etree._Element, learner: Learner) -> None:
    element = etree.SubElement(parent, _q("Learner"))
    _add(element, "FirstName", learner.first_name)
    _add(element, "LastName", learner.last_name)
    _add(element, "BirthDate", learner.birth_date)
    _add(element, "LicensingState", learner.licensing_state)
    _add(element, "LicenseID", learner.license_id)


def learner_from_element(element: etree._Element) -> Learner:
    return Learner(
        first_name=_text(element, "FirstName"),
        last_name=_text(element, "LastName"),
        birth_date=_text(element, "BirthDate"),
        licensing_state=_text(element, "LicensingState"),
        license_id=_text(element, "LicenseID"),
    )


def status_by_learner_request(
    credentials: Credentials, learner: Learner, activity_id: str | None = None
) -> bytes:
    root, body = _request(GET_LEARNER_STATUS_BY_LEARNER, credentials)
    _learner_element(body, learner)
    _add(body, "ActivityID", activity_id)
    return _serialize(root)


def learner_query_from_request(body: etree._Element) -> tuple[Learner, str | None]:
    """Server side of GetLearnerStatusByLearner: the learner and the optional activity filter."""
    return learner_from_element(_child(body, "Learner")), _text(body, "ActivityID")


def learner_match_request(
    credentials: Credentials, learner: Learner, board: str | None = None, board_id: str | None = None
) -> bytes:
    root, body = _request(GET_LEARNER_MATCH, credentials)
    _learner_element(body, learner)
    _add(body, "Board", board)
    _add(body, "BoardID", board_id)
    return _serialize(root)


def match_query_from_request(body: etree._Element) -> tuple[Learner, str | None, str | None]:
    """Server side of GetLearnerMatch: the partial learner, board code and board ID."""
    return learner_from_element(_child(body, "Learner")), _text(body, "Board"), _text(body, "BoardID")


def match_response(result: MatchResult) -> bytes:
    root, body = _response(GET_LEARNER_MATCH)
    match = etree.SubElement(body, _q("Match"))
    match.set("result", result.kind)
    _add(match, "Code", result.code)
    _add(match, "Message", result.message)
    if result.learner is not None:
        _learner_element(match, result.learner)
    if result.board_ids:
        container = etree.SubElement(match, _q("BoardIDs"))
        for board, board_id in sorted(result.board_ids.items()):
            _add(container, "BoardID", board_id).set("board", board)  # type: ignore[union-attr]
    return _serialize(root)


def match_from_response(body: etree._Element) -> MatchResult:
    match = _child(body, "Match")
    kind = match.get("result", "")
    if kind not in MATCH_KINDS:
        raise ProtocolFormatError(f"unknown match result {kind!r}")
    code_text = _text(match, "Code")
    try:
        code = int(code_text) if code_text is not None else None
    except ValueError:
        raise ProtocolFormatError(f"match code {code_text!r} is not a number") from None
    learner_element = match.find(_q("Learner"))
    board_ids: dict[str, str] = {}
    container = match.find(_q("BoardIDs"))
    if container is not None:
        for item in container.findall(_q("BoardID")):
            board = item.get("board")
            if board and item.text:
                board_ids[board] = item.text.strip()
    return MatchResult(
        kind=kind,  # type: ignore[arg-type]  # checked against MATCH_KINDS above
        learner=learner_from_element(learner_element) if learner_element is not None else None,
        board_ids=board_ids,
        code=code,
        message=_text(match, "Message"),
    )
