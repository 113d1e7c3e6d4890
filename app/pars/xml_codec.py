"""The PARS learner XML (MedBiquitous Activity Report): one `ActivityReport` per learner completion.

The same `ACCMELearnerReports` document is the XML batch file, the XML export, the rejection file of an
XML upload and the learner payload of the web-service requests. Writing follows the element tree of
../shared/reference/pars-web-services.md §2 and is valid against the MedBiquitous Activity Report schema:
v1 for a file without REMS, v2 as soon as one record carries REMS. Where public sources leave a choice
open, the choice is data in resources/pars/xml_format.toml (docs/xml-format.md explains each one).

Reading is tolerant of what other systems export (any prefixes or none, v1 or v2, `CreditID` per
certificate or per report, `CreditReceived` as `hx:` elements or as attributes, `UniqueID` in `Member` or
in each certificate, ISO or US dates, several `ActivityReports`) and never depends on the settings.

Parsing is always safe: no DTDs, no entities, no network, no huge trees, and any DOCTYPE is refused
outright. Values that do not parse stay as their text in the `Completion` so validation can name the
problem (671, 673...); missing elements become None; structure that is not PARS learner XML is a
BatchFileError naming the element and its line.
"""

from __future__ import annotations

import re
import tomllib
from copy import deepcopy
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree

from app.pars import catalog
from app.pars.batch import MAX_RECORDS, BatchFile, BatchFileError, BatchRecord, too_many_records_message
from app.pars.domain import BoardPart, CmePart, Completion, Learner, RecordAction, RemsPart
from app.pars.values import excel_safe, format_amount, normalize_birth_date, parse_amount, parse_pars_date, shown

NS_REPORT_V1 = "http://ns.medbiq.org/activityreport/v1/"
NS_REPORT_V2 = "http://ns.medbiq.org/activityreport/v2/"
NS_MEMBER_V1 = "http://ns.medbiq.org/member/v1/"
NS_MEMBER_V2 = "http://ns.medbiq.org/member/v2/"
NS_NAME_V1 = "http://ns.medbiq.org/name/v1/"
NS_NAME_V2 = "http://ns.medbiq.org/name/v2/"
NS_HX = "http://ns.medbiq.org/lom/extend/v1/"
# The names most callers mean: v1 and the healthcare LOM extension.
NS_REPORT = NS_REPORT_V1
NS_EXTEND = NS_HX

FORMAT_FILE = "xml_format.toml"
WRAPPER = "ACCMELearnerReports"
NPI_DOMAIN = "NPI"
CREDIT_UNIT = "Point"
STATUS_COMPLETED = "Completed"

# Files above this are refused before parsing: 5,000 full records take well under 10 MB.
MAX_XML_BYTES = 50 * 1024 * 1024

_STATE_CODE = re.compile(r"[A-Za-z]{2}")
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0"}
_GYEAR_BIRTH = re.compile(r"--(\d{2})-(\d{2})")
_ISO_BIRTH = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_IDD = re.compile(r"idd:[^:]*:(.+)")
_ACTIVITY_ID = re.compile(r"\d{9}")


@dataclass(frozen=True, slots=True)
class _Version:
    name: str
    report: str
    member: str
    person: str  # the name schema


V1 = _Version("v1", NS_REPORT_V1, NS_MEMBER_V1, NS_NAME_V1)
V2 = _Version("v2", NS_REPORT_V2, NS_MEMBER_V2, NS_NAME_V2)


@dataclass(frozen=True, slots=True)
class XmlFormat:
    """The open choices of resources/pars/xml_format.toml (see docs/xml-format.md)."""

    version: str  # "auto" | "v2"
    wrapper_namespace: str
    birth_year: int
    completed_time: str
    v2_domain: str
    credit_types: str  # "certificates" | "credit-focus"
    credit_type_certification: str
    extension_namespace: str
    extension_prefix: str
    write_provider_id: bool
    regulation_label: str
    regulation_url: str
    time_in_practice: Mapping[str, str]
    practice_areas: tuple[str, ...]
    practice_area_aliases: Mapping[str, str]
    practice_area_other: str


def _setting(data: dict[str, Any], table: str, key: str, kind: type, where: str) -> Any:
    section = data.get(table)
    if not isinstance(section, dict) or key not in section:
        raise catalog.CatalogError(f"{where}: [{table}] {key} is missing")
    value = section[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise catalog.CatalogError(f"{where}: [{table}] {key} must be a {kind.__name__}")
    return value


def load_format(path: Path) -> XmlFormat:
    """Read and check an xml_format.toml; CatalogError (one line) when a setting is missing or wrong."""
    where = str(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise catalog.CatalogError(f"{where}: settings file is missing") from exc
    except tomllib.TOMLDecodeError as exc:
        raise catalog.CatalogError(f"{where}: not valid TOML ({exc})") from exc

    def strings(table: str, key: str) -> tuple[str, ...]:
        values = _setting(data, table, key, list, where)
        if not all(isinstance(v, str) and v for v in values):
            raise catalog.CatalogError(f"{where}: [{table}] {key} must list non-empty texts")
        return tuple(values)

    def mapping(table: str, key: str) -> dict[str, str]:
        values = _setting(data, table, key, dict, where)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in values.items()):
            raise catalog.CatalogError(f"{where}: [{table}] {key} must map texts to texts")
        return dict(values)

    fmt = XmlFormat(
        version=_setting(data, "document", "version", str, where),
        wrapper_namespace=_setting(data, "document", "wrapper_namespace", str, where),
        birth_year=_setting(data, "dates", "birth_year", int, where),
        completed_time=_setting(data, "dates", "completed_time", str, where),
        v2_domain=_setting(data, "identifiers", "v2_domain", str, where),
        credit_types=_setting(data, "moc", "credit_types", str, where),
        credit_type_certification=_setting(data, "moc", "credit_type_certification", str, where),
        extension_namespace=_setting(data, "extension", "namespace", str, where),
        extension_prefix=_setting(data, "extension", "prefix", str, where),
        write_provider_id=_setting(data, "extension", "write_provider_id", bool, where),
        regulation_label=_setting(data, "rems", "regulation_label", str, where),
        regulation_url=_setting(data, "rems", "regulation_url", str, where),
        time_in_practice=mapping("rems", "time_in_practice"),
        practice_areas=strings("rems", "practice_areas"),
        practice_area_aliases=mapping("rems", "practice_area_aliases"),
        practice_area_other=_setting(data, "rems", "practice_area_other", str, where),
    )
    problems = []
    if fmt.version not in ("auto", "v2"):
        problems.append(f"[document] version must be \"auto\" or \"v2\", not {fmt.version!r}")
    try:
        date(fmt.birth_year, 2, 29)
    except ValueError:
        problems.append(f"[dates] birth_year {fmt.birth_year} must be a leap year so that 02/29 is a date")
    if not re.fullmatch(r"\d{2}:\d{2}:\d{2}", fmt.completed_time):
        problems.append("[dates] completed_time must be hh:mm:ss")
    if not re.fullmatch(r"idd:\S*\.\S*:\S*", fmt.v2_domain.replace("{domain}", "X")) or "{domain}" not in fmt.v2_domain:
        problems.append("[identifiers] v2_domain must look like idd:<name.with.dot>:{domain}")
    if fmt.credit_types not in ("certificates", "credit-focus"):
        problems.append("[moc] credit_types must be \"certificates\" or \"credit-focus\"")
    if "{board}" not in fmt.credit_type_certification or "{credit_type}" not in fmt.credit_type_certification:
        problems.append("[moc] credit_type_certification must contain {board} and {credit_type}")
    if fmt.extension_namespace in (NS_REPORT_V1, NS_REPORT_V2, ""):
        problems.append("[extension] namespace must differ from the Activity Report namespace")
    if not re.fullmatch(r"[A-Za-z_][\w.-]*", fmt.extension_prefix) or fmt.extension_prefix in ("m", "n"):
        problems.append("[extension] prefix must be an XML name other than m and n")
    if fmt.practice_area_other not in fmt.practice_areas:
        problems.append("[rems] practice_area_other must be one of practice_areas")
    if problems:
        raise catalog.CatalogError(f"{where}: " + "; ".join(problems))
    return fmt


@lru_cache(maxsize=1)
def xml_format() -> XmlFormat:
    """The settings in use: the office's override of xml_format.toml if present, else the bundled one."""
    return load_format(catalog.catalog_path(FORMAT_FILE))


catalog.on_reload(xml_format.cache_clear)


@dataclass(slots=True)
class ParsedRecord:
    index: int  # 1-based position of the learner record in the document
    completion: Completion
    provider_id: str | None  # the ProviderOrganization the report names (7-digit PARS provider ID)
    line: int | None = None  # line of the ActivityReport element
    source: str | None = None  # the ActivityReport as read (only this record's Participant), for rejection files


# ---------------------------------------------------------------------------------------------- render


def _q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}" if namespace else name


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


def _version_of(completions: Iterable[Completion], fmt: XmlFormat) -> _Version:
    if fmt.version == "v2" or any(completion.rems is not None for completion in completions):
        return V2
    return V1


def _nsmap(version: _Version, fmt: XmlFormat) -> dict[str | None, str]:
    return {None: version.report, "m": version.member, "n": version.person, fmt.extension_prefix: fmt.extension_namespace}


def _domain(domain: str, version: _Version, fmt: XmlFormat) -> str:
    return fmt.v2_domain.format(domain=domain) if version is V2 else domain


def _birth_text(text: str, fmt: XmlFormat) -> str:
    month_day = normalize_birth_date(text)
    if month_day is None:
        return text  # kept as given so that a rejection file shows what was wrong
    month, day = month_day.split("/")
    return f"{fmt.birth_year:04d}-{month}-{day}"


def _completed_text(value: date | str, fmt: XmlFormat) -> str:
    if isinstance(value, date):
        return f"{value.isoformat()}T{fmt.completed_time}"
    return str(value)


def _practice_area(text: str, fmt: XmlFormat) -> str:
    folded = " ".join(text.split()).casefold()
    for name in fmt.practice_areas:
        if name.casefold() == folded:
            return name
    for alias, name in fmt.practice_area_aliases.items():
        if alias.casefold() == folded:
            return name
    return fmt.practice_area_other


def _credit(
    certificate: etree._Element, version: _Version, certification: str, amount: Decimal | str | None
) -> etree._Element:
    received = _sub(certificate, version.report, "CreditReceived")
    _sub(received, NS_HX, "activityCertification", certification)
    _sub(received, NS_HX, "creditUnit", CREDIT_UNIT)
    text = _amount_text(amount)
    if text is not None:
        _sub(received, NS_HX, "numberOfCredits", text)
    return received


def _certificate(
    module: etree._Element, version: _Version, certification: str, amount: Decimal | str | None,
    credit_id: str | None,
) -> etree._Element:
    certificate = _sub(module, version.report, "CreditCertificate")
    received = _credit(certificate, version, certification, amount)
    _sub(certificate, version.report, "CreditID", credit_id or "")
    return received


def _identifiers(completion: Completion) -> list[tuple[str, str]]:
    """(domain, value) of the learner's license or NPI and each board's diplomate ID."""
    learner = completion.learner
    found: list[tuple[str, str]] = []
    if learner.license_id is not None or learner.licensing_state is not None:
        found.append((learner.licensing_state or NPI_DOMAIN, learner.license_id or ""))
    for board in completion.boards:
        if board.board_id:
            found.append((board.board, board.board_id))
    return found


def _render(
    parent: etree._Element | None, completion: Completion, provider_id: str, version: _Version,
    title: str | None, fmt: XmlFormat,
) -> etree._Element:
    ns = version.report
    if parent is None:
        report = etree.Element(_q(ns, "ActivityReport"), nsmap=_nsmap(version, fmt))
    else:
        report = _sub(parent, ns, "ActivityReport")
    _sub(report, ns, "ReportingOrganization", provider_id)

    learner = completion.learner
    identifiers = _identifiers(completion)
    member = _sub(report, ns, "Member")
    for domain, value in identifiers:
        _sub(member, version.member, "UniqueID", value).set("domain", _domain(domain, version, fmt))
    if learner.first_name is not None or learner.last_name is not None:
        name = _sub(member, version.member, "Name")
        if learner.first_name is not None:
            _sub(name, version.person, "GivenName", learner.first_name)
        if learner.last_name is not None:
            _sub(name, version.person, "FamilyName", learner.last_name)
    if learner.birth_date is not None:
        info = _sub(member, version.member, "PersonalInfo")
        _sub(info, version.member, "BirthDate", _birth_text(learner.birth_date, fmt))

    rems = completion.rems
    # Profession is required in a Participant: a REMS record without one (only ever in a rejection file,
    # every record sent has passed validation) keeps its RegulatoryInformation, which reads back as REMS.
    if rems is not None and rems.profession is not None:
        participant = _sub(_sub(report, ns, "Participants"), ns, "Participant")
        domain, value = identifiers[0] if identifiers else ("creditid", completion.credit_id or "")
        _sub(participant, ns, "LocalIdentifier", value).set("domain", _domain(domain, V2, fmt))
        if rems.state_of_practice is not None:
            state = catalog.state_name(rems.state_of_practice) or rems.state_of_practice
            _sub(participant, ns, "StateOfPrimaryPractice", state)
        if rems.dea_registration is not None:
            _sub(participant, ns, "DEARegistration", rems.dea_registration)
        if rems.profession is not None:
            _sub(participant, ns, "Profession", rems.profession)
        if rems.practice_area is not None:
            _sub(participant, ns, "PracticeArea", _practice_area(rems.practice_area, fmt))
        if rems.performs_surgery is not None:
            _sub(participant, ns, "SurgicalProcedures", "true" if rems.performs_surgery else "false")
        if rems.time_in_practice is not None:
            time = fmt.time_in_practice.get(rems.time_in_practice, rems.time_in_practice)
            _sub(participant, ns, "TimeInPractice", time)

    activity = _sub(report, ns, "Activity")
    _sub(activity, ns, "ProviderOrganization", provider_id)
    shown_title = title or completion.activity_id or ""
    _sub(activity, ns, "ActivityName", shown_title)
    if rems is not None:
        regulation = _sub(_sub(activity, ns, "RegulatoryInformation"), ns, "CompliantToRegulation", fmt.regulation_url)
        regulation.set("label", fmt.regulation_label)
    module = _sub(activity, ns, "Module")
    module_name = _sub(module, ns, "ModuleName", shown_title)
    if completion.activity_id is not None:
        module_name.set("moduleID", completion.activity_id)
    _sub(module, ns, "Status", STATUS_COMPLETED)
    if completion.completion_date is not None:
        _sub(module, ns, "CompletedDateTime", _completed_text(completion.completion_date, fmt))

    credit_id = completion.credit_id
    if completion.cme is not None:
        _certificate(module, version, catalog.cme_rules().credit_name, completion.cme.credits, credit_id)
    for board in completion.boards:
        total = _certificate(module, version, board.board, board.points, credit_id)
        for credit_type, amount in board.credit_types.items():
            if fmt.credit_types == "credit-focus":
                focus = _sub(total, ns, "CreditFocus")
                _sub(focus, ns, "Description", credit_type)
                shown = amount if amount is not None else board.points
                _sub(focus, ns, "NumberOfCredits", _amount_text(shown) or "0")
            else:
                name = fmt.credit_type_certification.format(board=board.board, credit_type=credit_type)
                _certificate(module, version, name, amount, credit_id)

    extension = _sub(report, ns, "XtensibleInfo")
    if fmt.write_provider_id:
        _sub(extension, fmt.extension_namespace, "ProviderID", provider_id)
    if credit_id is not None and module.find(_q(ns, "CreditCertificate")) is None:
        # No certificate to hold it (REMS alone): the creditID rides in the extension so it is not lost.
        _sub(extension, fmt.extension_namespace, "CreditID", credit_id)
    if completion.action is not None:
        action = completion.action
        action_text = action.value.lower() if isinstance(action, RecordAction) else str(action)
        _sub(extension, fmt.extension_namespace, "LearnerRecordAction", action_text)
    if len(extension) == 0:
        report.remove(extension)
    return report


def render_report(
    completion: Completion, provider_id: str, *, title: str | None = None, version: str | None = None,
    fmt: XmlFormat | None = None,
) -> etree._Element:
    """One standalone `ActivityReport` element (v2 when it carries REMS, unless `version` says)."""
    fmt = fmt or xml_format()
    chosen = {"v1": V1, "v2": V2}.get(version or "", None) or _version_of([completion], fmt)
    return _render(None, completion, provider_id, chosen, title, fmt)


def render_document(
    completions: Iterable[Completion], provider_id: str, created: datetime, *,
    titles: Mapping[str, str] | None = None, fmt: XmlFormat | None = None,
) -> bytes:
    """A whole `ACCMELearnerReports` document (UTF-8, with XML declaration). `titles`: activity ID -> title."""
    root = build_document(completions, provider_id, created, titles=titles, fmt=fmt)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def build_document(
    completions: Iterable[Completion], provider_id: str, created: datetime, *,
    titles: Mapping[str, str] | None = None, fmt: XmlFormat | None = None,
) -> etree._Element:
    """The `ACCMELearnerReports` element render_document writes, as a tree (a request embeds it as is:
    writing it out and reading it back in would cost more than building it)."""
    fmt = fmt or xml_format()
    completions = list(completions)
    titles = titles or {}
    version = _version_of(completions, fmt)
    root = etree.Element(_q(fmt.wrapper_namespace, WRAPPER))
    reports = etree.SubElement(root, _q(version.report, "ActivityReports"), nsmap=_nsmap(version, fmt))
    if created.tzinfo is not None:
        created = created.astimezone(timezone.utc).replace(tzinfo=None)
    _sub(reports, version.report, "DateTimeCreated", created.replace(microsecond=0).isoformat() + "Z")
    if version is V2:
        dates = [c.completion_date for c in completions if isinstance(c.completion_date, date)]
        _sub(reports, version.report, "ReportingStartDate", min(dates, default=created.date()).isoformat())
        _sub(reports, version.report, "ReportingEndDate", max(dates, default=created.date()).isoformat())
    for completion in completions:
        title = titles.get(completion.activity_id or "")
        _render(reports, completion, provider_id, version, title, fmt)
    return root


# ------------------------------------------------------------------------------------- render as text
# A web-service request carries hundreds of records, and building each one as lxml elements costs
# more than the request's round trip. document_text writes the very bytes etree.tostring writes for
# build_document's tree (tests/test_xml_codec.py compares them record by record); the tree stays the
# reference, and a format this writer does not cover (an extension namespace other than hx's) is
# written through the tree.

# What XML 1.0 cannot carry (lxml refuses these too), and what a text or an attribute escapes.
_NOT_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_TEXT_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ATTRIBUTE_SPECIAL = re.compile('[&<>"\r\n\t\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]')


def _refuse_unwritable(value: str) -> None:
    if _NOT_XML_CHARS.search(value):
        # the same error lxml raises, so a caller tells an unwritable record apart the same way
        raise ValueError("All strings must be XML compatible: Unicode or ASCII, no NULL bytes or control characters")


def _text_xml(value: str) -> str:
    if _TEXT_SPECIAL.search(value) is None:
        return value
    _refuse_unwritable(value)
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _attribute_xml(value: str) -> str:
    if _ATTRIBUTE_SPECIAL.search(value) is None:
        return value
    _refuse_unwritable(value)
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
        .replace("\r", "&#13;").replace("\n", "&#10;").replace("\t", "&#9;")
    )


def _leaf(out: list[str], tag: str, text: str | None, attribute: tuple[str, str | None] | None = None) -> None:
    """<tag>text</tag>, <tag/> when text is None (as lxml writes an element without text)."""
    attributes = ""
    if attribute is not None and attribute[1] is not None:
        attributes = f' {attribute[0]}="{_attribute_xml(attribute[1])}"'
    if text is None:
        out.append(f"<{tag}{attributes}/>")
    else:
        out.append(f"<{tag}{attributes}>{_text_xml(text)}</{tag}>")


def _certificate_text(
    out: list[str], hx: str, certification: str, amount: Decimal | str | None, credit_id: str | None,
    focus: list[tuple[str, str]] = (),  # type: ignore[assignment]
) -> None:
    out.append("<CreditCertificate><CreditReceived>")
    _leaf(out, f"{hx}activityCertification", certification)
    _leaf(out, f"{hx}creditUnit", CREDIT_UNIT)
    text = _amount_text(amount)
    if text is not None:
        _leaf(out, f"{hx}numberOfCredits", text)
    for description, credits in focus:
        out.append("<CreditFocus>")
        _leaf(out, "Description", description)
        _leaf(out, "NumberOfCredits", credits)
        out.append("</CreditFocus>")
    out.append("</CreditReceived>")
    _leaf(out, "CreditID", credit_id or "")
    out.append("</CreditCertificate>")


def _report_text(
    out: list[str], completion: Completion, provider_id: str, version: _Version, title: str | None, fmt: XmlFormat,
) -> None:
    """One ActivityReport inside ActivityReports (whose namespace declarations it relies on), as _render."""
    ext = f"{fmt.extension_prefix}:"
    out.append("<ActivityReport>")
    _leaf(out, "ReportingOrganization", provider_id)

    learner = completion.learner
    identifiers = _identifiers(completion)
    member: list[str] = []
    for domain, value in identifiers:
        _leaf(member, "m:UniqueID", value, ("domain", _domain(domain, version, fmt)))
    if learner.first_name is not None or learner.last_name is not None:
        member.append("<m:Name>")
        if learner.first_name is not None:
            _leaf(member, "n:GivenName", learner.first_name)
        if learner.last_name is not None:
            _leaf(member, "n:FamilyName", learner.last_name)
        member.append("</m:Name>")
    if learner.birth_date is not None:
        member.append("<m:PersonalInfo>")
        _leaf(member, "m:BirthDate", _birth_text(learner.birth_date, fmt))
        member.append("</m:PersonalInfo>")
    if member:
        out.append("<Member>")
        out.extend(member)
        out.append("</Member>")
    else:
        out.append("<Member/>")

    rems = completion.rems
    if rems is not None and rems.profession is not None:  # as _render: a Participant needs a profession
        out.append("<Participants><Participant>")
        domain, value = identifiers[0] if identifiers else ("creditid", completion.credit_id or "")
        _leaf(out, "LocalIdentifier", value, ("domain", _domain(domain, V2, fmt)))
        if rems.state_of_practice is not None:
            _leaf(out, "StateOfPrimaryPractice", catalog.state_name(rems.state_of_practice) or rems.state_of_practice)
        if rems.dea_registration is not None:
            _leaf(out, "DEARegistration", rems.dea_registration)
        if rems.profession is not None:
            _leaf(out, "Profession", rems.profession)
        if rems.practice_area is not None:
            _leaf(out, "PracticeArea", _practice_area(rems.practice_area, fmt))
        if rems.performs_surgery is not None:
            _leaf(out, "SurgicalProcedures", "true" if rems.performs_surgery else "false")
        if rems.time_in_practice is not None:
            _leaf(out, "TimeInPractice", fmt.time_in_practice.get(rems.time_in_practice, rems.time_in_practice))
        out.append("</Participant></Participants>")

    out.append("<Activity>")
    _leaf(out, "ProviderOrganization", provider_id)
    shown_title = title or completion.activity_id or ""
    _leaf(out, "ActivityName", shown_title)
    if rems is not None:
        out.append("<RegulatoryInformation>")
        _leaf(out, "CompliantToRegulation", fmt.regulation_url, ("label", fmt.regulation_label))
        out.append("</RegulatoryInformation>")
    out.append("<Module>")
    _leaf(out, "ModuleName", shown_title, ("moduleID", completion.activity_id))
    _leaf(out, "Status", STATUS_COMPLETED)
    if completion.completion_date is not None:
        _leaf(out, "CompletedDateTime", _completed_text(completion.completion_date, fmt))
    credit_id = completion.credit_id
    certificates = 0
    if completion.cme is not None:
        _certificate_text(out, ext, catalog.cme_rules().credit_name, completion.cme.credits, credit_id)
        certificates += 1
    for board in completion.boards:
        if fmt.credit_types == "credit-focus":
            focus = [
                (credit_type, _amount_text(amount if amount is not None else board.points) or "0")
                for credit_type, amount in board.credit_types.items()
            ]
            _certificate_text(out, ext, board.board, board.points, credit_id, focus)
            certificates += 1
        else:
            _certificate_text(out, ext, board.board, board.points, credit_id)
            for credit_type, amount in board.credit_types.items():
                name = fmt.credit_type_certification.format(board=board.board, credit_type=credit_type)
                _certificate_text(out, ext, name, amount, credit_id)
            certificates += 1 + len(board.credit_types)
    out.append("</Module></Activity>")

    extension: list[str] = []
    if fmt.write_provider_id:
        _leaf(extension, f"{ext}ProviderID", provider_id)
    if credit_id is not None and not certificates:
        _leaf(extension, f"{ext}CreditID", credit_id)
    if completion.action is not None:
        action = completion.action
        _leaf(extension, f"{ext}LearnerRecordAction", action.value.lower() if isinstance(action, RecordAction) else str(action))
    if extension:
        out.append("<XtensibleInfo>")
        out.extend(extension)
        out.append("</XtensibleInfo>")
    out.append("</ActivityReport>")


def document_text(
    completions: Iterable[Completion], provider_id: str, created: datetime, *,
    titles: Mapping[str, str] | None = None, fmt: XmlFormat | None = None,
) -> str | None:
    """The `ACCMELearnerReports` element build_document makes, written as etree.tostring writes it
    (no declaration, no indentation); None when the format needs the tree (see above). Raises
    ValueError, as lxml does, when a value holds a character XML cannot carry."""
    fmt = fmt or xml_format()
    if fmt.extension_namespace != NS_HX or fmt.wrapper_namespace:
        return None
    completions = list(completions)
    titles = titles or {}
    version = _version_of(completions, fmt)
    namespaces = "".join(
        f' xmlns{":" + prefix if prefix else ""}="{_attribute_xml(namespace)}"'
        for prefix, namespace in _nsmap(version, fmt).items()
    )
    out = [f"<{WRAPPER}><ActivityReports{namespaces}>"]
    if created.tzinfo is not None:
        created = created.astimezone(timezone.utc).replace(tzinfo=None)
    _leaf(out, "DateTimeCreated", created.replace(microsecond=0).isoformat() + "Z")
    if version is V2:
        dates = [c.completion_date for c in completions if isinstance(c.completion_date, date)]
        _leaf(out, "ReportingStartDate", min(dates, default=created.date()).isoformat())
        _leaf(out, "ReportingEndDate", max(dates, default=created.date()).isoformat())
    for completion in completions:
        _report_text(out, completion, provider_id, version, titles.get(completion.activity_id or ""), fmt)
    out.append(f"</ActivityReports></{WRAPPER}>")
    return "".join(out)


def document_version(completions: Iterable[Completion]) -> str:
    """"v1" or "v2": the Activity Report version render_document writes for these completions."""
    return _version_of(completions, xml_format()).name


# ----------------------------------------------------------------------------------------------- parse
# Matching is by local name, so documents that use other prefixes (or no namespaces) are still read.

_MEDBIQ = "http://ns.medbiq.org/"
# Children the standard (v1/v2 with ACCME's additions) allows; other elements in a MedBiquitous namespace
# or none are refused with their line, elements of other namespaces are extensions and skipped.
_KNOWN_CHILDREN = {
    "ActivityReport": {"ReportingOrganization", "Member", "Participants", "Activity", "XtensibleInfo", "CreditID"},
    "Activity": {
        "ProviderOrganization", "ActivityName", "ActivityInstanceID", "Status", "LaunchDetails",
        "CommercialSupporter", "RegulatoryInformation", "Module", "PointOfCareLearningData", "Results",
    },
    "Module": {
        "ModuleName", "Metadata", "Status", "StartDateTime", "EndDateTime", "DueDateTime", "RegisteredDateTime",
        "CompletedDateTime", "ExpiredDateTime", "TimeEngaged", "Results", "CreditCertificate",
    },
    "CreditCertificate": {"UniqueID", "CreditReceived", "CreditID"},
}


def _local(element: etree._Element) -> str:
    tag = element.tag
    if not isinstance(tag, str):  # comments and processing instructions
        return ""
    return tag.rsplit("}", 1)[-1]


# What the reader learnt about a child tag (namespace included) inside a parent tag: its local name
# when the standard allows it there, None when not. A 500-record request asks the same few
# questions thousands of times. Bounded, so a document inventing tag names cannot grow it without end.
_CHILD_VERDICTS: dict[tuple[str, str], str | None] = {}
_MAX_CHILD_VERDICTS = 4096


def _namespace(element: etree._Element) -> str:
    tag = element.tag
    return tag[1:].split("}", 1)[0] if isinstance(tag, str) and tag.startswith("{") else ""


def _children(element: etree._Element | None, name: str) -> Iterator[etree._Element]:
    """Child elements named `name` in any namespace or none (lxml filters them: a reader of a
    5,000-record file asks this tens of times per record)."""
    if element is None:
        return iter(())
    return element.iterchildren("{*}" + name)


def _child(element: etree._Element | None, name: str) -> etree._Element | None:
    if element is None:
        return None
    return next(element.iterchildren("{*}" + name), None)


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


def _where(element: etree._Element) -> str:
    return f"line {element.sourceline}" if element.sourceline else "the document"


def _check_children(element: etree._Element) -> dict[str, list[etree._Element]]:
    """Refuse a child the standard does not allow here (an extension in its own namespace is fine);
    return the children by local name, in document order (what _children and _child would find)."""
    parent = element.tag
    found: dict[str, list[etree._Element]] = {}
    for child in element:
        tag = child.tag
        if not isinstance(tag, str):
            continue  # a comment
        key = (parent, tag)
        if key in _CHILD_VERDICTS:
            name = _CHILD_VERDICTS[key]
        else:
            name = _local(child) if _child_allowed(element, child) else None
            if len(_CHILD_VERDICTS) < _MAX_CHILD_VERDICTS:
                _CHILD_VERDICTS[key] = name
        if name is None:
            known = _KNOWN_CHILDREN[_local(element)]
            raise BatchFileError(
                f"{_where(child)}: <{_local(child)}> inside <{_local(element)}> is not part of PARS learner XML "
                f"(expected one of {', '.join(sorted(known))})."
            )
        found.setdefault(name, []).append(child)
    return found


def _child_allowed(element: etree._Element, child: etree._Element) -> bool:
    """Whether `child` may stand inside `element` (which _KNOWN_CHILDREN describes)."""
    name = _local(child)
    if not name or name in _KNOWN_CHILDREN[_local(element)]:
        return True
    namespace = _namespace(child)
    return bool(namespace) and not namespace.startswith(_MEDBIQ)  # an extension in its own namespace (##other)


def _first(children: dict[str, list[etree._Element]], name: str) -> etree._Element | None:
    """The first child named `name` of those _check_children returned."""
    found = children.get(name)
    return found[0] if found else None


def _single(element: etree._Element | None, children: dict[str, list[etree._Element]], name: str
            ) -> etree._Element | None:
    """The one child named `name` of `element` (its children as _check_children returned them)."""
    found = children.get(name, ())
    if len(found) > 1:
        raise BatchFileError(
            f"{_where(found[1])}: a second <{name}> in one <{_local(element)}>; PARS takes one activity and one "
            "completion per learner record (write each as its own <ActivityReport>)."
        )
    return found[0] if found else None


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


def _birth(text: str | None) -> str | None:
    """MM/DD from YYYY-MM-DD, --MM-DD or MM/DD (other text kept for validation to judge)."""
    if text is None:
        return None
    for pattern, month_group in ((_ISO_BIRTH, 2), (_GYEAR_BIRTH, 1)):
        match = pattern.fullmatch(text)
        if match:
            month_day = normalize_birth_date(f"{match.group(month_group)}/{match.group(month_group + 1)}")
            return month_day or text
    month_day = normalize_birth_date(text)
    return month_day if month_day is not None and re.fullmatch(r"\d{1,2}/\d{1,2}", text) else text


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


def _attribute(element: etree._Element | None, name: str) -> str | None:
    if element is None:
        return None
    value = element.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _plain_domain(domain: str | None) -> str | None:
    """"CA" from "CA" or from v2's "idd:accme.org:CA"."""
    if domain is None:
        return None
    match = _IDD.fullmatch(domain)
    return match.group(1).strip() if match else domain


def _is_license_domain(domain: str) -> bool:
    return domain.upper() == NPI_DOMAIN or _STATE_CODE.fullmatch(domain) is not None


def _credit_field(received: etree._Element, name: str) -> str | None:
    """A CreditReceived member written as an hx: child element (the standard) or as an attribute."""
    return _path_text(received, name) or _attribute(received, name)


class _Reader:
    """Collects one report's identities and certificates into a Completion."""

    def __init__(self, completion: Completion) -> None:
        self.completion = completion
        self.boards: dict[str, BoardPart] = {}
        self.board_ids: dict[str, str | None] = {}
        self.last_board: str | None = None  # a credit type named without its board belongs to this one

    def identity(self, domain: str | None, value: str | None) -> str | None:
        """Record a UniqueID; returns the board code it names (None for a license or NPI)."""
        domain = _plain_domain(domain)
        if domain is None:
            return None
        if _is_license_domain(domain) or catalog.state_code(domain) is not None:
            learner = self.completion.learner
            if domain.upper() != NPI_DOMAIN:
                learner.licensing_state = domain
            learner.license_id = value
            return None
        self.board_ids[domain.upper()] = value
        return domain

    def board(self, code: str) -> BoardPart:
        key = code.upper()
        if key not in self.boards:
            self.boards[key] = BoardPart(board=code)
        return self.boards[key]

    def is_board(self, name: str) -> bool:
        return name.upper() in self.board_ids or catalog.board_code(name) is not None

    def certificate(self, certificate: etree._Element) -> None:
        children = _check_children(certificate)
        unique = _first(children, "UniqueID")
        current = self.identity(_attribute(unique, "domain"), _text(unique))
        cme_name = catalog.cme_rules().credit_name.casefold()
        for received in children.get("CreditReceived", ()):
            name = _credit_field(received, "activityCertification") or ""
            amount = _amount(_credit_field(received, "numberOfCredits"))
            board_code, credit_type = self._split(name)
            if name.casefold() == cme_name:
                self.completion.cme = CmePart(credits=amount)
                continue
            if credit_type is not None:
                self._credit_type(board_code, credit_type, amount)
                current = board_code
            elif self.is_board(name) or (current or self.last_board) is None:
                self.board(name).points = amount
                current = name
            else:
                current = current or self.last_board
                self._credit_type(current, name, amount)
            self.last_board = current
            for focus in _children(received, "CreditFocus"):
                description = _path_text(focus, "Description")
                if description is not None:
                    self._credit_type(current, description, _amount(_path_text(focus, "NumberOfCredits")))

    def _credit_type(self, board_code: str, name: str, amount: Decimal | str | None) -> None:
        board = self.board(board_code)
        if name in board.credit_types:
            board.repeated_types.append(name)  # the same type twice in one record: validation says 678
        else:
            board.credit_types[name] = amount

    def _split(self, name: str) -> tuple[str, str | None]:
        """("ABIM", "Medical Knowledge") for a credit-type certificate name such as "ABIM: Medical Knowledge"."""
        for separator in (":", " - ", " "):
            head, found, tail = name.partition(separator)
            if found and tail.strip() and self.is_board(head.strip()):
                return head.strip(), tail.strip()
        return name, None

    def finish(self) -> None:
        for key, board_id in self.board_ids.items():
            self.board(key).board_id = board_id
        # A board code as the file spells it; the catalogue's when the file used an alias.
        self.completion.boards = list(self.boards.values())


def _participant_rems(participant: etree._Element) -> RemsPart:
    fmt = xml_format()
    time = _path_text(participant, "TimeInPractice")
    if time is not None:
        reverse = {standard: own for own, standard in fmt.time_in_practice.items()}
        time = reverse.get(time, catalog.time_in_practice(time) or time)
    state = _path_text(participant, "StateOfPrimaryPractice") or _path_text(participant, "StateOfPractice")
    surgery = _path_text(participant, "SurgicalProcedures") or _path_text(participant, "PerformsSurgicalProcedures")
    return RemsPart(
        profession=_path_text(participant, "Profession"),
        state_of_practice=(catalog.state_code(state) or state) if state is not None else None,
        dea_registration=_path_text(participant, "DEARegistration"),
        practice_area=_path_text(participant, "PracticeArea"),
        performs_surgery=_yes_no(surgery),
        time_in_practice=time,
    )


def parse_reports(element: etree._Element) -> list[Completion]:
    """The learner records an `ActivityReport` describes: one, or one per REMS `Participant` of a
    report that lists several (as MedBiquitous's own sample does)."""
    children = _check_children(element)
    member = _single(element, children, "Member")
    learner = Learner(
        first_name=_path_text(member, "Name", "GivenName"),
        last_name=_path_text(member, "Name", "FamilyName"),
        birth_date=_birth(_path_text(member, "PersonalInfo", "BirthDate")),
    )
    completion = Completion(action=None, learner=learner)
    reader = _Reader(completion)
    for unique in _children(member, "UniqueID"):
        reader.identity(_attribute(unique, "domain"), _text(unique))

    activity = _single(element, children, "Activity")
    in_activity = _check_children(activity) if activity is not None else {}
    module = _single(activity, in_activity, "Module")
    in_module = _check_children(module) if module is not None else {}
    module_name = _first(in_module, "ModuleName")
    # The ID is ModuleName/@moduleID; older ParsDesk files and some exports repeat it as the text (which
    # is otherwise the activity's title) or in Activity/@activityID.
    text_id = _text(module_name)
    completion.activity_id = (
        _attribute(module_name, "moduleID")
        or (text_id if text_id is not None and _ACTIVITY_ID.fullmatch(text_id) else None)
        or _attribute(activity, "activityID")
    )
    completion.completion_date = _date(_text(_first(in_module, "CompletedDateTime")))
    for certificate in in_module.get("CreditCertificate", ()):
        reader.certificate(certificate)
    reader.finish()

    credit_id = next((text for item in element.iter("{*}CreditID") if (text := _text(item))), None)
    completion.credit_id = credit_id
    completion.action = _action(_path_text(_first(children, "XtensibleInfo"), "LearnerRecordAction"))

    participants = list(_children(_first(children, "Participants"), "Participant"))
    if not participants:
        regulation = _child(_first(in_activity, "RegulatoryInformation"), "CompliantToRegulation")
        label = f"{_attribute(regulation, 'label') or ''} {_text(regulation) or ''}"
        if regulation is not None and "REMS" in label.upper():
            completion.rems = RemsPart()
        return [completion]
    found: list[Completion] = []
    for participant in participants:
        one = Completion(
            action=completion.action, activity_id=completion.activity_id, credit_id=completion.credit_id,
            learner=replace(learner),
            completion_date=completion.completion_date, cme=completion.cme,
            boards=[BoardPart(b.board, b.board_id, b.points, dict(b.credit_types), list(b.repeated_types))
                    for b in completion.boards],
            rems=_participant_rems(participant),
        )
        if member is None:  # identity only from the participant's local identifier
            local = _child(participant, "LocalIdentifier")
            domain = _plain_domain(_attribute(local, "domain"))
            # only a license-like domain says who the learner is ("idd:nonesuch.edu:ce" is a local number)
            if domain is not None and (domain.upper() == NPI_DOMAIN or catalog.state_code(domain) is not None):
                _Reader(one).identity(domain, _text(local))
        found.append(one)
    return found


def parse_report(element: etree._Element) -> Completion:
    """The (first) Completion an `ActivityReport` element describes (inverse of render_report)."""
    return parse_reports(element)[0]


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


_REPORTS_HEADER = {"DateTimeCreated", "ReportingStartDate", "ReportingEndDate"}


def _report_elements(root: etree._Element, name: str) -> list[etree._Element]:
    """Every ActivityReport of an ACCMELearnerReports wrapper (one or several ActivityReports in it), a
    bare ActivityReports or a lone ActivityReport, in document order."""
    kind = _local(root)
    if kind == "ActivityReport":
        return [root]
    if kind == "ActivityReports":
        containers = [root]
    elif kind == WRAPPER:
        containers = []
        for child in root:
            local = _local(child)
            if local == "ActivityReports":
                containers.append(child)
            elif local == "ActivityReport":
                containers.append(root)  # reports directly under the wrapper: tolerated
            elif local:
                raise BatchFileError(
                    f"{name}, {_where(child)}: <{local}> inside <{WRAPPER}> is not part of PARS learner XML "
                    "(expected <ActivityReports>)."
                )
    else:
        raise BatchFileError(
            f"{name} is XML but not a PARS learner document (root element <{kind}> on {_where(root)}, "
            f"expected <{WRAPPER}> or <ActivityReports>)."
        )
    reports: list[etree._Element] = []
    for container in dict.fromkeys(containers):
        for child in container:
            local = _local(child)
            if local == "ActivityReport":
                reports.append(child)
                continue
            if not local or local in _REPORTS_HEADER or (container is root and kind == WRAPPER):
                continue  # the wrapper's own children were checked above
            if _namespace(child) and not _namespace(child).startswith(_MEDBIQ):
                continue  # v2 allows extensions of other namespaces here
            raise BatchFileError(
                f"{name}, {_where(child)}: <{local}> inside <ActivityReports> is not part of PARS learner "
                "XML (expected <DateTimeCreated> and <ActivityReport> elements)."
            )
    return reports


def report_elements(root: etree._Element, name: str = "The document") -> list[etree._Element]:
    """The ActivityReport elements of a parsed learner document (see _report_elements)."""
    return _report_elements(root, name)


def parse_document(data: bytes, *, name: str = "The document", keep_source: bool = False) -> list[ParsedRecord]:
    """Every learner record of a PARS learner XML document, in document order (`keep_source`: with each
    record's ActivityReport as read, for a rejection file)."""
    root = parse_xml_bytes(data, name=name)
    records: list[ParsedRecord] = []
    for report in _report_elements(root, name):
        provider = _path_text(report, "Activity", "ProviderOrganization") or _path_text(
            report, "ReportingOrganization"
        )
        try:
            completions = parse_reports(report)
        except BatchFileError as exc:
            raise BatchFileError(f"{name}, {exc}") from None
        for number, completion in enumerate(completions):
            records.append(ParsedRecord(
                index=len(records) + 1, completion=completion, provider_id=provider, line=report.sourceline,
                source=_source_text(report, number, len(completions)) if keep_source else None,
            ))
            if len(records) > MAX_RECORDS:
                raise BatchFileError(too_many_records_message(len(records)))
    return records


def _source_text(report: etree._Element, participant: int, participants: int) -> str:
    """The report as read, as standalone XML text (its namespace declarations included); a report listing
    several REMS participants keeps only the one this learner record was read from."""
    if participants > 1:
        report = deepcopy(report)
        found = list(_children(_child(report, "Participants"), "Participant"))
        for index, element in enumerate(found):
            if index != participant:
                element.getparent().remove(element)
    return etree.tostring(report, encoding="unicode", with_tail=False)


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
    parsed = parse_document(data, name=path.name, keep_source=True)
    if not parsed:
        raise BatchFileError(f"{path.name} contains no ActivityReport learner records.")
    records = [
        BatchRecord(row=item.index, values=completion_to_values(item.completion), completion=item.completion,
                    source=item.source)
        for item in parsed
    ]
    return BatchFile(format="xml", headers=list(HEADERS), records=records)


def sample_completions(provider_id: str) -> list[Completion]:
    """What the "Download XML sample" file holds: a CME + MOC add and a CME + REMS add."""
    from app.pars.domain import new_credit_id

    return [
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


def write_xml_sample(path: Path | str, provider_id: str = "1234567") -> None:
    """A small, schema-valid XML learner file (v2, since one record carries REMS)."""
    created = datetime.now(timezone.utc)
    titles = {"123456789": "Sample activity"}
    Path(path).write_bytes(render_document(sample_completions(provider_id), provider_id, created, titles=titles))


# ------------------------------------------------------------------------------------- rejection files
# The rejection file of an XML upload is a PARS learner document holding the rejected records, so that the
# coordinator can correct them in the LMS or an editor and drop the file back. The reason rides in each
# report's XtensibleInfo (the schema takes any element of another namespace there) and in a comment
# before the report, which editors show; readers ignore both (docs/xml-format.md, "Rejection files").

REJECTION_CODE = "RejectionCode"
REJECTION_DESCRIPTION = "RejectionDescription"
VALUE_AS_READ = "ValueAsRead"
# ActivityName/ModuleName and the organisations are NonNullString: a record read without them still needs text.
NOT_GIVEN = "not given"
_IDD_DOMAIN = re.compile(r"idd:\S*:\S*")


@dataclass(frozen=True, slots=True)
class RejectedRecord:
    """One record of a rejection file: the record as read (or as stored, with its creditID) and why."""

    completion: Completion
    code: int
    description: str
    provider_id: str | None = None  # the ProviderOrganization as read
    title: str | None = None  # the ActivityName as read (or the activity's title)
    origin: str | None = None  # where it was read: "record 3 of lms.xml"
    # a REMS participant's LocalIdentifier as read (domain, text), when it is not the learner's license or NPI
    local_identifier: tuple[str, str] | None = None


def rejected_as_read(source: str, code: int, description: str, origin: str | None = None) -> RejectedRecord:
    """The RejectedRecord of a record kept as read (ParsedRecord.source: one `ActivityReport`)."""
    report = parse_xml_bytes(source.encode("utf-8"), name="The stored record")
    completion = parse_reports(report)[0]
    provider = _path_text(report, "Activity", "ProviderOrganization") or _path_text(report, "ReportingOrganization")
    local = _child(_child(_child(report, "Participants"), "Participant"), "LocalIdentifier")
    local_text, local_domain = _text(local), _attribute(local, "domain")
    return RejectedRecord(
        completion, code, description, provider, _path_text(report, "Activity", "ActivityName"), origin,
        (local_domain, local_text) if local_text and local_domain else None,
    )


def _visible(text: str) -> str:
    """Text safe to write: control, direction and zero-width characters as visible <U+XXXX> codes."""
    return excel_safe(shown(text, limit=len(text)))


def _comment_text(text: str) -> str:
    # "--" may not occur in an XML comment, nor may it end with "-".
    text = _visible(text)
    while "--" in text:
        text = text.replace("--", "- -")
    return f" {text.rstrip('-')} "


def _schema_safe(completion: Completion, fmt: XmlFormat) -> tuple[Completion, list[tuple[str, str]]]:
    """The record with every value the schema's types cannot hold left out, and those values as read.

    A completion date, birth date or amount that does not parse (kept as text for validation to name),
    and a REMS value outside the standard's enumerations, cannot be written where it belongs without making
    the file invalid; it travels in XtensibleInfo instead. Texts are made safe (see _visible)."""
    from app.pars.domain import (
        F_BOARD_POINTS, F_CME_CREDITS, F_COMPLETION_DATE, F_CREDIT_TYPE_AMOUNT, F_DOB, F_REMS_PROFESSION,
    )

    as_read: list[tuple[str, str]] = []

    def text(value: str | None) -> str | None:
        return None if value is None else _visible(value)

    def amount(value: Decimal | str | None, label: str) -> Decimal | None:
        if value is None or isinstance(value, Decimal):
            return value
        as_read.append((label, _visible(str(value))))
        return None

    completed = completion.completion_date
    if completed is not None and not isinstance(completed, date):
        as_read.append((F_COMPLETION_DATE, _visible(str(completed))))
        completed = None
    learner = completion.learner
    birth = learner.birth_date
    if birth is not None and normalize_birth_date(birth) is None:
        as_read.append((F_DOB, _visible(birth)))
        birth = None
    boards = []
    for board in completion.boards:
        types = {text(name) or "": amount(value, f"{F_CREDIT_TYPE_AMOUNT} ({name})")
                 for name, value in board.credit_types.items()}
        boards.append(BoardPart(_visible(board.board), text(board.board_id), amount(board.points, f"{F_BOARD_POINTS} "
                                f"({board.board})"), types, [_visible(t) for t in board.repeated_types]))
    rems = completion.rems
    if rems is not None:
        from app.pars.excel import F_REMS_DEA, F_REMS_PRACTICE_AREA, F_REMS_STATE, F_REMS_SURGERY, F_REMS_TIME

        def listed(value: str | None, canonical: str | None, label: str) -> str | None:
            if value is not None and canonical is None:
                as_read.append((label, _visible(value)))
            return canonical

        profession = listed(rems.profession, catalog.rems_profession(rems.profession), F_REMS_PROFESSION)
        time = catalog.time_in_practice(rems.time_in_practice)
        area = rems.practice_area
        # the writer maps an area it does not know to "Other": here the value as read is kept instead
        known_area = area is not None and (_practice_area(area, fmt) != fmt.practice_area_other
                                           or " ".join(area.split()).casefold() == fmt.practice_area_other.casefold())
        rems = RemsPart(
            profession=profession,
            state_of_practice=text(rems.state_of_practice),
            dea_registration=listed(rems.dea_registration, catalog.dea_registration(rems.dea_registration), F_REMS_DEA),
            practice_area=listed(area, area if known_area else None, F_REMS_PRACTICE_AREA),
            performs_surgery=rems.performs_surgery,
            time_in_practice=listed(rems.time_in_practice, time, F_REMS_TIME),
        )
        if profession is None:  # no Participant can be written: keep what else was read beside it
            surgery = None if rems.performs_surgery is None else ("Yes" if rems.performs_surgery else "No")
            for label, value in ((F_REMS_STATE, rems.state_of_practice), (F_REMS_DEA, rems.dea_registration),
                                 (F_REMS_PRACTICE_AREA, rems.practice_area), (F_REMS_SURGERY, surgery),
                                 (F_REMS_TIME, rems.time_in_practice)):
                if value is not None:
                    as_read.append((label, value))
    safe = Completion(
        action=completion.action if isinstance(completion.action, RecordAction) else text(completion.action),
        activity_id=text(completion.activity_id),
        credit_id=text(completion.credit_id),
        learner=Learner(text(learner.first_name), text(learner.last_name), birth, text(learner.licensing_state),
                        text(learner.license_id)),
        completion_date=completed,
        cme=None if completion.cme is None else CmePart(amount(completion.cme.credits, F_CME_CREDITS)),
        boards=boards,
        rems=rems,
    )
    return safe, as_read


def render_rejections(records: Iterable[RejectedRecord], created: datetime, *, provider_id: str | None = None,
                      fmt: XmlFormat | None = None) -> bytes:
    """The rejection file of an XML upload: an `ACCMELearnerReports` document with each rejected record as
    it was read, schema-valid (v1, or v2 when one carries REMS), the error code and description in its
    `XtensibleInfo` and in a comment before it. `provider_id` fills a record read without an organisation."""
    fmt = fmt or xml_format()
    prepared = [(record, *_schema_safe(record.completion, fmt)) for record in records]
    if not prepared:
        raise ValueError("A rejection file needs at least one record (the schema requires one ActivityReport).")
    version = _version_of([completion for _, completion, _ in prepared], fmt)
    root = etree.Element(_q(fmt.wrapper_namespace, WRAPPER))
    reports = etree.SubElement(root, _q(version.report, "ActivityReports"), nsmap=_nsmap(version, fmt))
    if created.tzinfo is not None:
        created = created.astimezone(timezone.utc).replace(tzinfo=None)
    _sub(reports, version.report, "DateTimeCreated", created.replace(microsecond=0).isoformat() + "Z")
    if version is V2:
        dates = [c.completion_date for _, c, _ in prepared if isinstance(c.completion_date, date)]
        _sub(reports, version.report, "ReportingStartDate", min(dates, default=created.date()).isoformat())
        _sub(reports, version.report, "ReportingEndDate", max(dates, default=created.date()).isoformat())
    for record, completion, as_read in prepared:
        description = _visible(record.description)
        where = f"{record.origin}: " if record.origin else ""
        reports.append(etree.Comment(_comment_text(f"{where}rejected {record.code}: {description}")))
        provider = _visible(record.provider_id or provider_id or NOT_GIVEN)
        title = _visible(record.title or completion.activity_id or NOT_GIVEN)
        report = _render(reports, completion, provider, version, title, fmt)
        local = report.find(f"{_q(version.report, 'Participants')}/{_q(version.report, 'Participant')}/"
                            f"{_q(version.report, 'LocalIdentifier')}")
        if local is not None and not local.text:  # no license, NPI or creditID to identify the participant
            domain, text = record.local_identifier or ("local", NOT_GIVEN)
            local.text = _visible(text)
            local.set("domain", domain if _IDD_DOMAIN.fullmatch(domain) else _domain(_visible(domain), V2, fmt))
        module = report.find(f"{_q(version.report, 'Activity')}/{_q(version.report, 'Module')}")
        for board in completion.boards:  # a credit type named twice (678) is shown as read
            for repeated in board.repeated_types:
                name = fmt.credit_type_certification.format(board=board.board, credit_type=repeated)
                _certificate(module, version, name, None, completion.credit_id)
        extension = report.find(_q(version.report, "XtensibleInfo"))
        if extension is None:
            extension = _sub(report, version.report, "XtensibleInfo")
        _sub(extension, fmt.extension_namespace, REJECTION_CODE, str(record.code))
        _sub(extension, fmt.extension_namespace, REJECTION_DESCRIPTION, description)
        for label, value in as_read:
            _sub(extension, fmt.extension_namespace, VALUE_AS_READ, value).set("field", label)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
