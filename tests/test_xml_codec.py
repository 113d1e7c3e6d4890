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


@pytest.mark.parametrize(
    "completion",
    [
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
    ],
)
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
