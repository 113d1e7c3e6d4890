"""The PARS learner XML: exact round trips, tolerant reading, raw text for bad values, safe parsing."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from lxml import etree

from app.pars.batch import BatchFileError
from app.pars.domain import BoardPart, CmePart, Completion, Learner, RecordAction, RemsPart
from app.pars.xml_codec import (
    NS_EXTEND,
    NS_MEMBER_V1,
    NS_MEMBER_V2,
    NS_REPORT,
    NS_REPORT_V2,
    document_created,
    parse_document,
    parse_report,
    render_document,
    render_report,
)

PROVIDER = "1234567"


def full_completion() -> Completion:
    return Completion(
        action=RecordAction.ADD,
        activity_id="123456789",
        credit_id="ccid:1234567:abc-001",
        learner=Learner("Ana María", "O'Neil", "02/29", "CA", "A98765"),
        completion_date=date(2026, 3, 14),
        cme=CmePart(Decimal("2.5")),
        boards=[
            BoardPart("ABIM", "123456", Decimal("10"), {"Medical Knowledge": Decimal("10"), "Patient Safety": Decimal("1.25")}),
            BoardPart("ABS", None, Decimal("2.75"), {"Accredited CME": None}),
        ],
        rems=RemsPart(
            profession="Physician",
            state_of_practice="OR",
            dea_registration="Institutional",
            practice_area="Pain",
            performs_surgery=True,
            time_in_practice="21+ years",
        ),
    )


def test_report_round_trip_is_exact_with_boards_cme_rems_license_and_action() -> None:
    original = full_completion()
    assert parse_report(render_report(original, PROVIDER)) == original


# Records with parts missing: the reader and the writer must each keep exactly what is there.
PARTIAL_COMPLETIONS = [
    Completion(action=RecordAction.DELETE, activity_id="123456789", credit_id="ccid:1234567:x",
               learner=Learner("A", "B", "01/01", None, "1234567893"),
               completion_date=date(2026, 1, 2), cme=CmePart(Decimal("1"))),
    # MOC only, no license at all
    Completion(activity_id="123456789", credit_id="ccid:1:y", learner=Learner("A", "B", "01/01"),
               completion_date=date(2026, 1, 2), boards=[BoardPart("ABP", "99", Decimal("0.25"))]),
    # REMS only, present but empty participant; license without CME must survive
    Completion(activity_id="123456789", learner=Learner("A", "B", None, "NY", "X1"),
               completion_date=date(2026, 1, 2), rems=RemsPart()),
    # nothing but missing values
    Completion(action=None, learner=Learner()),
]


@pytest.mark.parametrize("completion", PARTIAL_COMPLETIONS)
def test_partial_completions_round_trip(completion: Completion) -> None:
    assert parse_report(render_report(completion, PROVIDER)) == completion


def test_document_round_trip_keeps_order_index_and_provider() -> None:
    first, second = full_completion(), full_completion()
    second.credit_id = "ccid:1234567:abc-002"
    second.action = RecordAction.DELETE
    created = datetime(2026, 3, 15, 8, 30, tzinfo=timezone.utc)
    data = render_document([first, second], PROVIDER, created)
    parsed = parse_document(data)
    assert [p.index for p in parsed] == [1, 2]
    assert [p.completion for p in parsed] == [first, second]
    assert {p.provider_id for p in parsed} == {PROVIDER}
    assert document_created(data) == datetime(2026, 3, 15, 8, 30)


def test_rendering_uses_the_documented_shape() -> None:
    element = render_report(full_completion(), PROVIDER, title="Cardiology Update")
    ns = {"a": NS_REPORT_V2, "hx": NS_EXTEND, "m": NS_MEMBER_V2}
    module = element.find("a:Activity/a:Module", ns)
    assert module.findtext("a:CompletedDateTime", namespaces=ns) == "2026-03-14T00:00:00"
    assert module.find("a:ModuleName", ns).get("moduleID") == "123456789"
    assert module.findtext("a:ModuleName", namespaces=ns) == "Cardiology Update"
    assert element.findtext("a:Activity/a:ActivityName", namespaces=ns) == "Cardiology Update"
    assert element.findtext("a:XtensibleInfo/hx:LearnerRecordAction", namespaces=ns) == "add"
    assert element.findtext("a:Member/m:PersonalInfo/m:BirthDate", namespaces=ns) == "2000-02-29"
    certificates = module.findall("a:CreditCertificate", ns)
    shown = [
        (
            c.findtext("a:CreditReceived/hx:activityCertification", namespaces=ns),
            c.findtext("a:CreditReceived/hx:numberOfCredits", namespaces=ns),
            c.findtext("a:CreditID", namespaces=ns),
        )
        for c in certificates
    ]
    assert shown == [
        ("AMA PRA Category 1", "2.5", "ccid:1234567:abc-001"),
        ("ABIM", "10", "ccid:1234567:abc-001"),
        ("ABIM: Medical Knowledge", "10", "ccid:1234567:abc-001"),
        ("ABIM: Patient Safety", "1.25", "ccid:1234567:abc-001"),
        ("ABS", "2.75", "ccid:1234567:abc-001"),
        ("ABS: Accredited CME", None, "ccid:1234567:abc-001"),
    ]
    assert all(len(c.findall("a:CreditReceived", ns)) == 1 for c in certificates)
    assert {c.findtext("a:CreditReceived/hx:creditUnit", namespaces=ns) for c in certificates} == {"Point"}
    domains = [u.get("domain") for u in element.iterfind("a:Member/m:UniqueID", ns)]
    assert domains == ["idd:accme.org:CA", "idd:accme.org:ABIM"]
    participant = element.find("a:Participants/a:Participant", ns)
    assert [(_local(c), c.text) for c in participant] == [
        ("LocalIdentifier", "A98765"),
        ("StateOfPrimaryPractice", "Oregon"),
        ("DEARegistration", "Institutional"),
        ("Profession", "Physician"),
        ("PracticeArea", "Pain"),
        ("SurgicalProcedures", "true"),
        ("TimeInPractice", "21+ years"),
    ]
    regulation = element.find("a:Activity/a:RegulatoryInformation/a:CompliantToRegulation", ns)
    assert regulation.get("label") == "Opioid REMS" and regulation.text.startswith("http")


def test_without_rems_the_report_is_v1_with_bare_domains() -> None:
    completion = full_completion()
    completion.rems = None
    element = render_report(completion, PROVIDER)
    assert etree.QName(element).namespace == NS_REPORT
    assert [u.get("domain") for u in element.iter(f"{{{NS_MEMBER_V1}}}UniqueID")] == ["CA", "ABIM"]


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def test_unparseable_values_stay_as_text_and_missing_elements_are_none() -> None:
    data = f"""<?xml version="1.0"?>
    <ACCMELearnerReports xmlns="{NS_REPORT}"><ActivityReports>
      <ActivityReport>
        <Activity><Module>
          <ModuleName moduleID="123456789"/>
          <CompletedDateTime>13-45-2026</CompletedDateTime>
          <CreditCertificate><UniqueID domain="ABIM">55</UniqueID>
            <CreditReceived activityCertification="ABIM" numberOfCredits="ten"/></CreditCertificate>
        </Module></Activity>
        <XtensibleInfo><LearnerRecordAction>update</LearnerRecordAction></XtensibleInfo>
      </ActivityReport>
    </ActivityReports></ACCMELearnerReports>""".encode()
    [record] = parse_document(data)
    completion = record.completion
    assert completion.completion_date == "13-45-2026"
    assert completion.boards[0].points == "ten"
    assert completion.action == "update"
    assert completion.learner.first_name is None and completion.learner.birth_date is None
    assert completion.credit_id is None and completion.cme is None
    assert record.provider_id is None


def test_reading_accepts_iso_dates_and_other_prefixes() -> None:
    data = f"""<r:ACCMELearnerReports xmlns:r="{NS_REPORT}"><r:ActivityReports><r:ActivityReport>
      <r:Activity><r:Module><r:CompletedDateTime>2026-03-14T00:00:00</r:CompletedDateTime></r:Module></r:Activity>
      <r:XtensibleInfo><e:LearnerRecordAction xmlns:e="{NS_EXTEND}">DELETE</e:LearnerRecordAction></r:XtensibleInfo>
    </r:ActivityReport></r:ActivityReports></r:ACCMELearnerReports>""".encode()
    [record] = parse_document(data)
    assert record.completion.completion_date == date(2026, 3, 14)
    assert record.completion.action is RecordAction.DELETE


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty"),
        (b"<ACCMELearnerReports><ActivityReports>", "not well-formed XML"),
        (b"<html><body/></html>", "not a PARS learner document"),
        (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
            b"<ACCMELearnerReports>&lol2;</ACCMELearnerReports>",
            "DOCTYPE",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<ACCMELearnerReports>&x;</ACCMELearnerReports>",
            "DOCTYPE",
        ),
    ],
)
def test_bad_documents_raise_one_line_batch_file_errors(data: bytes, fragment: str) -> None:
    with pytest.raises(BatchFileError) as caught:
        parse_document(data)
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message
    assert "root:" not in message  # nothing of /etc/passwd


def test_utf16_doctype_is_refused_after_parsing() -> None:
    text = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY x "y">]><ACCMELearnerReports/>'
    with pytest.raises(BatchFileError, match="DOCTYPE"):
        parse_document(text.encode("utf-16"))


def test_oversized_documents_are_refused_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    import app.pars.xml_codec as codec

    monkeypatch.setattr(codec, "MAX_XML_BYTES", 100)
    with pytest.raises(BatchFileError, match="MB"):
        parse_document(b"<ACCMELearnerReports>" + b" " * 200 + b"</ACCMELearnerReports>")


def test_processing_instructions_are_dropped() -> None:
    element = etree.fromstring(render_document([full_completion()], PROVIDER, datetime(2026, 1, 1)))
    data = etree.tostring(element).replace(b"<ActivityReports>", b"<?evil stuff?><ActivityReports>", 1)
    assert [r.completion for r in parse_document(data)] == [full_completion()]


# --- the request writer: text, byte for byte what the element tree writes ------------------------------

_AWKWARD = ["", "plain", "Ana María", "O'Neil & \"Sons\" <MD>", "tab\there", "line\nbreak", "cr\rhere", "]]>",
            "😀 emoji", "\u00a0nbsp", "x" * 300]


def _writer_cases() -> list[list[Completion]]:
    from dataclasses import replace

    full = full_completion()
    partials = [
        *PARTIAL_COMPLETIONS,
        Completion(action="odd action", activity_id=None, credit_id="c", learner=Learner(None, "Only"),
                   completion_date="13/45/2026", cme=CmePart("two"), boards=[BoardPart("XYZ", "", "n/a", {"T": "x"})]),
        Completion(action=RecordAction.ADD, credit_id="ccid:rems-only", learner=Learner("A", "B", "1999-02-03", "ZZ", None),
                   completion_date=date(2026, 1, 2),
                   rems=RemsPart("Nurse", "Guam", None, "pain medicine", False, "0-5 years")),
    ]
    awkward = [
        replace(full, credit_id=f"ccid:{n}:{text}", learner=Learner(text, text, text or None, text[:2] or None, text),
                boards=[BoardPart(text or "ABIM", text, Decimal("1"), {text or "MK": Decimal("1")})])
        for n, text in enumerate(_AWKWARD)
    ]
    without_rems = [replace(c, rems=None) for c in [full, *awkward]]
    return [[full], partials, awkward, without_rems, [*without_rems, *partials[:2]]]


@pytest.mark.parametrize("credit_types", ["certificates", "credit-focus"])
@pytest.mark.parametrize("write_provider_id", [False, True])
def test_the_request_writer_writes_exactly_what_the_element_tree_writes(credit_types, write_provider_id) -> None:
    from dataclasses import replace

    from app.pars.xml_codec import build_document, document_text, xml_format

    fmt = replace(xml_format(), credit_types=credit_types, write_provider_id=write_provider_id)
    created = datetime(2026, 3, 15, 8, 30, 12, 345, tzinfo=timezone.utc)
    for completions in _writer_cases():
        titles = {"123456789": "Cardiology & <Update> \"2026\""}
        tree = build_document(completions, PROVIDER, created, titles=titles, fmt=fmt)
        text = document_text(completions, PROVIDER, created, titles=titles, fmt=fmt)
        assert text is not None
        assert text.encode("utf-8") == etree.tostring(tree, encoding="UTF-8", xml_declaration=False)


def test_the_request_writer_refuses_what_xml_cannot_carry_as_the_tree_does() -> None:
    from dataclasses import replace

    from app.pars.xml_codec import build_document, document_text

    created = datetime(2026, 3, 15, tzinfo=timezone.utc)
    for bad in ("\x01", "a\x0bb", "\x00", "\ufffe", "\ud800"):
        record = replace(full_completion(), learner=Learner("Ana", f"Doe{bad}", "02/29", "CA", "A1"))
        with pytest.raises(ValueError):
            build_document([record], PROVIDER, created)
        with pytest.raises(ValueError):
            document_text([record], PROVIDER, created)


def test_a_format_with_its_own_extension_namespace_is_written_through_the_tree() -> None:
    from dataclasses import replace

    from app.pars import protocol
    from app.pars.credentials import SANDBOX_DEMO_CREDENTIALS
    from app.pars.xml_codec import document_text, xml_format

    fmt = replace(xml_format(), extension_namespace="urn:example:own-extension")
    assert document_text([full_completion()], PROVIDER, datetime(2026, 3, 15), fmt=fmt) is None
    request = protocol.save_learner_activity_request(
        SANDBOX_DEMO_CREDENTIALS, [(RecordAction.ADD, full_completion())], created=datetime(2026, 3, 15))
    [report] = protocol.report_elements_from_request(protocol.parse_request(request).body)
    assert parse_report(report) == full_completion()


def test_a_save_learner_activity_request_is_the_envelope_around_the_written_document() -> None:
    from app.pars import protocol
    from app.pars.credentials import Credentials
    from app.pars.environments import SAVE_LEARNER_ACTIVITY
    from app.pars.xml_codec import build_document

    credentials = Credentials("1234567", "o'brien & <co>", 'pa"ss')
    created = datetime(2026, 3, 15, 8, 30, tzinfo=timezone.utc)
    for completions in _writer_cases():
        records = [(RecordAction.ADD, c) for c in completions]
        written = protocol.save_learner_activity_request(credentials, records, created=created)
        root, body = protocol._request(SAVE_LEARNER_ACTIVITY, credentials)
        from dataclasses import replace

        body.append(build_document([replace(c, action=RecordAction.ADD) for c in completions], "1234567", created))
        assert written == protocol._serialize(root)


def test_the_answer_writer_writes_exactly_what_the_element_tree_writes() -> None:
    from app.pars import protocol

    awkward = [
        protocol.RecordResult("ccid:1234567:a&b<c>", "Accepted", None, None),
        protocol.RecordResult("", "NotFound", None, ""),
        protocol.RecordResult("ccid:1234567:x", "Rejected", 671, 'Completion date "12-31" is > the end & after\r\nthe claim date ü'),
        protocol.RecordResult("ccid:1234567:y", "Delete Submitted", 0, "  spaced  "),
    ]
    for results in ([], awkward[:1], awkward, awkward * 3):
        for operation in ("SaveLearnerActivity", "GetLearnerStatusByCreditId"):
            root, body = protocol._response(operation)
            protocol._results_element(body, results)
            assert protocol.results_response(operation, results) == protocol._serialize(root)
    with pytest.raises(ValueError):
        protocol.results_response("SaveLearnerActivity", [protocol.RecordResult("c", "Rejected", 999, "bad \x01")])
