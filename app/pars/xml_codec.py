"""The PARS learner XML (MedBiquitous Activity Report based): one `ActivityReport` per completion.

Used for XML batch files and as the body of the web-service documents. The exact rendering ParsDesk
chose where the public drafts leave room is documented in docs/xml-format.md:

- `CompletedDateTime` is the date only, MM-DD-YYYY (PARS's own format in its 671 message; a time part
  would shift across time zones). Reading also accepts ISO `YYYY-MM-DD` and a midnight time part.
- A board's total points are a `CreditReceived` whose `activityCertification` is the board code itself
  (e.g. `ABIM`); each credit type is a further `CreditReceived` named after the type, in the same
  `CreditCertificate` whose `UniqueID domain` is the board code and whose text is the diplomate ID.
- CME is a `CreditCertificate` whose `UniqueID domain` is the 2-letter licensing state (or `NPI` when no
  state is known) with `CreditReceived activityCertification="AMA PRA Category 1"`.

Parsing is always safe: no DTDs, no entities, no network, no huge trees, and any DOCTYPE is refused
outright (billion laughs, external entities). Values that do not parse stay as their text in the
`Completion` so validation can name the problem (671, 673...); missing elements become None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from lxml import etree

from app.pars.batch import MAX_RECORDS, BatchFile, BatchFileError, BatchRecord, too_many_records_message
from app.pars.domain import BoardPart, CmePart, Completion, Learner, RecordAction, RemsPart
from app.pars.values import format_amount, format_pars_date, parse_amount, parse_pars_date

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

NS_REPORT = "http://ns.medbiq.org/activityreport/v1/"
NS_MEMBER = "http://ns.medbiq.org/member/v1/"
NS_NAME = "http://ns.medbiq.org/name/v1/"
NS_EXTEND = "http://ns.medbiq.org/lom/extend/v1/"
NSMAP = {None: NS_REPORT, "m": NS_MEMBER, "n": NS_NAME, "x": NS_EXTEND}

AMA_CATEGORY_1 = "AMA PRA Category 1"
CREDIT_UNIT = "Point"
NPI_DOMAIN = "NPI"
REMS_REGULATION = "REMS"
STATUS_COMPLETED = "Completed"

# Files above this are refused before parsing: 5,000 full records take well under 10 MB.
MAX_XML_BYTES = 50 * 1024 * 1024

_STATE_CODE = re.compile(r"[A-Za-z]{2}")
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0"}


@dataclass(slots=True)
class ParsedRecord:
    index: int  # 1-based position of the ActivityReport in the document
    completion: Completion
    provider_id: str | None  # the ProviderOrganization the report names (7-digit PARS provider ID)


# ---------------------------------------------------------------------------------------------- render


def _q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


def _sub(parent: etree._Element, namespace: str, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, _q(namespace, name))
    if text is not None:
        element.text = text
    return element


def _amount_text(value: Decimal | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return format_amount(value)
    return str(value)


def _date_text(value: date | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return format_pars_date(value)
    return str(value)


def _credit_received(parent: etree._Element, certification: str, amount: Decimal | str | None) -> None:
    credit = _sub(parent, NS_REPORT, "CreditReceived")
    credit.set("activityCertification", certification)
    credit.set("creditUnit", CREDIT_UNIT)
    text = _amount_text(amount)
    if text is not None:
        credit.set("numberOfCredits", text)


def _unique_id(parent: etree._Element, domain: str, value: str | None) -> None:
    unique = _sub(parent, NS_REPORT, "UniqueID", value)
    unique.set("domain", domain)


def render_report(completion: Completion, provider_id: str) -> etree._Element:
    """One `ActivityReport` element for a completion (an Add or a Delete)."""
    report = etree.Element(_q(NS_REPORT, "ActivityReport"), nsmap=NSMAP)
    _sub(report, NS_REPORT, "ReportingOrganization", provider_id)

    learner = completion.learner
    member = _sub(report, NS_REPORT, "Member")
    name = _sub(member, NS_MEMBER, "Name")
    if learner.first_name is not None:
        _sub(name, NS_NAME, "GivenName", learner.first_name)
    if learner.last_name is not None:
        _sub(name, NS_NAME, "FamilyName", learner.last_name)
    if learner.birth_date is not None:
        info = _sub(member, NS_MEMBER, "PersonalInfo")
        _sub(info, NS_MEMBER, "BirthDate", learner.birth_date)

    if completion.rems is not None:
        rems = completion.rems
        participant = _sub(_sub(report, NS_REPORT, "Participants"), NS_REPORT, "Participant")
        surgery = None if rems.performs_surgery is None else ("Yes" if rems.performs_surgery else "No")
        for tag, value in (
            ("Profession", rems.profession),
            ("StateOfPractice", rems.state_of_practice),
            ("DEARegistration", rems.dea_registration),
            ("PracticeArea", rems.practice_area),
            ("PerformsSurgicalProcedures", surgery),
            ("TimeInPractice", rems.time_in_practice),
        ):
            if value is not None:
                _sub(participant, NS_REPORT, tag, value)

    activity = _sub(report, NS_REPORT, "Activity")
    _sub(activity, NS_REPORT, "ProviderOrganization", provider_id)
    if completion.rems is not None:
        regulatory = _sub(activity, NS_REPORT, "RegulatoryInformation")
        _sub(regulatory, NS_REPORT, "CompliantToRegulation", REMS_REGULATION)
    module = _sub(activity, NS_REPORT, "Module")
    module_name = _sub(module, NS_REPORT, "ModuleName", completion.activity_id)
    if completion.activity_id is not None:
        module_name.set("moduleID", completion.activity_id)
    _sub(module, NS_REPORT, "Status", STATUS_COMPLETED)
    completed = _date_text(completion.completion_date)
    if completed is not None:
        _sub(module, NS_REPORT, "CompletedDateTime", completed)

    # CME (or, without CME, the learner's license alone so that identity is not lost).
    if completion.cme is not None or learner.license_id is not None or learner.licensing_state is not None:
        certificate = _sub(module, NS_REPORT, "CreditCertificate")
        _unique_id(certificate, learner.licensing_state or NPI_DOMAIN, learner.license_id)
        if completion.cme is not None:
            _credit_received(certificate, AMA_CATEGORY_1, completion.cme.credits)
    for board in completion.boards:
        certificate = _sub(module, NS_REPORT, "CreditCertificate")
        _unique_id(certificate, board.board, board.board_id)
        _credit_received(certificate, board.board, board.points)
        for credit_type, amount in board.credit_types.items():
            _credit_received(certificate, credit_type, amount)

    if completion.credit_id is not None:
        _sub(report, NS_REPORT, "CreditID", completion.credit_id)
    if completion.action is not None:
        action = completion.action
        action_text = action.value.lower() if isinstance(action, RecordAction) else str(action)
        extension = _sub(report, NS_REPORT, "XtensibleInfo")
        _sub(extension, NS_EXTEND, "LearnerRecordAction", action_text)
    return report


def render_document(completions: Iterable[Completion], provider_id: str, created: datetime) -> bytes:
    """A whole `ACCMELearnerReports` document (UTF-8, with XML declaration)."""
    root = etree.Element(_q(NS_REPORT, "ACCMELearnerReports"), nsmap=NSMAP)
    reports = _sub(root, NS_REPORT, "ActivityReports")
    if created.tzinfo is not None:
        created = created.astimezone(timezone.utc).replace(tzinfo=None)
    _sub(reports, NS_REPORT, "DateTimeCreated", created.replace(microsecond=0).isoformat() + "Z")
    for completion in completions:
        reports.append(render_report(completion, provider_id))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# ----------------------------------------------------------------------------------------------- parse
# Matching is by local name, so documents that use other prefixes (or no namespaces) are still read.


def _local(element: etree._Element) -> str:
    tag = element.tag
    if not isinstance(tag, str):  # comments and processing instructions
        return ""
    return tag.rsplit("}", 1)[-1]


def _children(element: etree._Element | None, name: str) -> Iterator[etree._Element]:
    if element is None:
        return
    for child in element:
        if _local(child) == name:
            yield child


def _child(element: etree._Element | None, name: str) -> etree._Element | None:
    return next(_children(element, name), None)


def _text(element: etree._Element | None) -> str | None:
    """The element's text stripped; None when the element is missing or empty."""
    if element is None or element.text is None:
        return None
    text = element.text.strip()
    return text or None


def _path_text(element: etree._Element | None, *names: str) -> str | None:
    for name in names:
        element = _child(element, name)
    return _text(element)


def _amount(text: str | None) -> Decimal | str | None:
    if text is None:
        return None
    parsed = parse_amount(text)
    return text if parsed is None else parsed


def _date(text: str | None) -> date | str | None:
    if text is None:
        return None
    parsed = parse_pars_date(text)
    return text if parsed is None else parsed


def _action(text: str | None) -> RecordAction | str | None:
    if text is None:
        return None
    for action in RecordAction:
        if text.casefold() == action.value.casefold():
            return action
    return text


def _yes_no(text: str | None) -> bool | None:
    if text is None:
        return None
    folded = text.casefold()
    if folded in _YES:
        return True
    if folded in _NO:
        return False
    return None


def _attribute(element: etree._Element, name: str) -> str | None:
    value = element.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def parse_report(element: etree._Element) -> Completion:
    """The Completion an `ActivityReport` element describes (inverse of render_report)."""
    member = _child(element, "Member")
    learner = Learner(
        first_name=_path_text(member, "Name", "GivenName"),
        last_name=_path_text(member, "Name", "FamilyName"),
        birth_date=_path_text(member, "PersonalInfo", "BirthDate"),
    )
    completion = Completion(action=None, learner=learner)

    participant = _child(_child(element, "Participants"), "Participant")
    if participant is not None:
        completion.rems = RemsPart(
            profession=_path_text(participant, "Profession"),
            state_of_practice=_path_text(participant, "StateOfPractice"),
            dea_registration=_path_text(participant, "DEARegistration"),
            practice_area=_path_text(participant, "PracticeArea"),
            performs_surgery=_yes_no(_path_text(participant, "PerformsSurgicalProcedures")),
            time_in_practice=_path_text(participant, "TimeInPractice"),
        )
    activity = _child(element, "Activity")
    if completion.rems is None:
        regulation = _path_text(activity, "RegulatoryInformation", "CompliantToRegulation")
        if regulation is not None and regulation.upper() == REMS_REGULATION:
            completion.rems = RemsPart()

    module = _child(activity, "Module")
    module_name = _child(module, "ModuleName")
    if module_name is not None:
        completion.activity_id = _attribute(module_name, "moduleID") or _text(module_name)
    completion.completion_date = _date(_path_text(module, "CompletedDateTime"))

    for certificate in _children(module, "CreditCertificate"):
        _read_certificate(certificate, completion)

    completion.credit_id = _path_text(element, "CreditID")
    completion.action = _action(_path_text(element, "XtensibleInfo", "LearnerRecordAction"))
    return completion


def _read_certificate(certificate: etree._Element, completion: Completion) -> None:
    unique = _child(certificate, "UniqueID")
    domain = _attribute(unique, "domain") if unique is not None else None
    identifier = _text(unique)
    credits = list(_children(certificate, "CreditReceived"))
    certifications = [_attribute(credit, "activityCertification") or "" for credit in credits]

    is_cme = AMA_CATEGORY_1.casefold() in (c.casefold() for c in certifications)
    is_license = domain is not None and (
        domain.upper() == NPI_DOMAIN or _STATE_CODE.fullmatch(domain) is not None
    )
    if is_cme or (is_license and not credits):
        if domain is not None and domain.upper() != NPI_DOMAIN:
            completion.learner.licensing_state = domain
        completion.learner.license_id = identifier
        for credit, certification in zip(credits, certifications):
            if certification.casefold() == AMA_CATEGORY_1.casefold():
                completion.cme = CmePart(credits=_amount(_attribute(credit, "numberOfCredits")))
        return

    # A board certificate: the CreditReceived named after the board is the total, the rest are types.
    board_code = domain or next((c for c in certifications if c), "")
    board = BoardPart(board=board_code, board_id=identifier)
    for credit, certification in zip(credits, certifications):
        amount = _amount(_attribute(credit, "numberOfCredits"))
        if certification.casefold() == board_code.casefold():
            board.points = amount
        elif certification in board.credit_types:
            board.repeated_types.append(certification)  # the same type twice: validation says 678
        else:
            board.credit_types[certification] = amount
    completion.boards.append(board)


# -------------------------------------------------------------------------------------------- document


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
    )


def parse_xml_bytes(data: bytes, *, name: str = "The document") -> etree._Element:
    """Parse untrusted XML safely; any DOCTYPE, oversize or malformed input is a BatchFileError."""
    if len(data) > MAX_XML_BYTES:
        raise BatchFileError(
            f"{name} is {len(data) / 1_048_576:.0f} MB; XML learner files above "
            f"{MAX_XML_BYTES // 1_048_576} MB are refused."
        )
    if not data.strip():
        raise BatchFileError(f"{name} is empty.")
    # A DTD is never needed and is how entity bombs and external entities get in: refuse it outright.
    if _DOCTYPE.search(data):
        raise BatchFileError(f"{name} declares a DOCTYPE; PARS learner XML must not contain DTDs or entities.")
    try:
        root = etree.fromstring(data, _safe_parser())
    except etree.XMLSyntaxError as exc:
        message = str(exc).splitlines()[0] if str(exc) else "malformed"
        raise BatchFileError(f"{name} is not well-formed XML: {message}") from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:  # e.g. a UTF-16 DOCTYPE
        raise BatchFileError(f"{name} declares a DOCTYPE; PARS learner XML must not contain DTDs or entities.")
    return root


def _reports(root: etree._Element) -> list[etree._Element]:
    if _local(root) == "ActivityReport":
        return [root]
    reports = _child(root, "ActivityReports")
    # Tolerate reports placed directly under the root as well.
    container = reports if reports is not None else root
    return list(_children(container, "ActivityReport"))


def parse_document(data: bytes, *, name: str = "The document") -> list[ParsedRecord]:
    """Every ActivityReport of an `ACCMELearnerReports` document, in document order."""
    root = parse_xml_bytes(data, name=name)
    if _local(root) not in ("ACCMELearnerReports", "ActivityReports", "ActivityReport"):
        raise BatchFileError(
            f"{name} is XML but not a PARS learner document (root element <{_local(root)}>, "
            "expected <ACCMELearnerReports>)."
        )
    records: list[ParsedRecord] = []
    for index, report in enumerate(_reports(root), start=1):
        provider = _path_text(report, "Activity", "ProviderOrganization") or _path_text(
            report, "ReportingOrganization"
        )
        records.append(ParsedRecord(index=index, completion=parse_report(report), provider_id=provider))
    return records


def document_created(data: bytes) -> datetime | None:
    """The DateTimeCreated of a document (UTC, naive), or None when absent or unreadable."""
    root = parse_xml_bytes(data)
    reports = _child(root, "ActivityReports")
    text = _path_text(reports, "DateTimeCreated") or _path_text(root, "DateTimeCreated")
    if text is None:
        return None
    try:
        created = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if created.tzinfo is not None:
        created = created.astimezone(timezone.utc).replace(tzinfo=None)
    return created


def read_xml_batch(path: Path) -> BatchFile:
    """An XML learner file as a BatchFile, each record laid out in the Excel template's columns."""
    from app.pars.excel import HEADERS, completion_to_values

    try:
        size = path.stat().st_size
        if size > MAX_XML_BYTES:
            raise BatchFileError(
                f"{path.name} is {size / 1_048_576:.0f} MB; XML learner files above "
                f"{MAX_XML_BYTES // 1_048_576} MB are refused."
            )
        data = path.read_bytes()
    except OSError as exc:
        raise BatchFileError(f"{path.name}: cannot be read ({exc.strerror or exc}).") from None
    parsed = parse_document(data, name=path.name)
    if not parsed:
        raise BatchFileError(f"{path.name} contains no ActivityReport learner records.")
    if len(parsed) > MAX_RECORDS:
        raise BatchFileError(too_many_records_message(len(parsed)))
    records = [
        BatchRecord(row=item.index, values=completion_to_values(item.completion), completion=item.completion)
        for item in parsed
    ]
    return BatchFile(format="xml", headers=list(HEADERS), records=records)


def write_xml_sample(path: Path | str, provider_id: str = "1234567") -> None:
    """A small, valid-looking XML learner file: a CME+MOC add and a CME+REMS add."""
    from app.pars.domain import new_credit_id

    sample = [
        Completion(
            action=RecordAction.ADD,
            activity_id="123456789",
            credit_id=new_credit_id(provider_id),
            learner=Learner("Jane", "Doe", "04/15", "CA", "A123456"),
            completion_date=date(2026, 3, 14),
            cme=CmePart(Decimal("2")),
            boards=[
                BoardPart("ABIM", "123456", Decimal("2"), {"Medical Knowledge": Decimal("2")}),
            ],
        ),
        Completion(
            action=RecordAction.ADD,
            activity_id="123456789",
            credit_id=new_credit_id(provider_id),
            learner=Learner("John", "Smith", "11/02", "NY", "1234567893"),
            completion_date=date(2026, 3, 15),
            cme=CmePart(Decimal("1.5")),
            rems=RemsPart(
                profession="Physician",
                state_of_practice="NY",
                dea_registration="Individual",
                performs_surgery=False,
                time_in_practice="6-10 years",
            ),
        ),
    ]
    created = datetime.now(timezone.utc)
    Path(path).write_bytes(render_document(sample, provider_id, created))
