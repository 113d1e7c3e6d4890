"""Everything ParsDesk writes as learner XML validates against the MedBiquitous Activity Report schemas.

The schemas are reference material outside the project: ../shared/reference/medbiq-schemas beside the
repository (CI has it), or the folder named by PARSDESK_MEDBIQ_SCHEMAS. Without them this module skips,
saying why.
"""

from __future__ import annotations

import dataclasses
import os
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from app.pars import protocol, xml_codec
from app.pars.credentials import Credentials
from app.pars.domain import BoardPart, CmePart, Completion, Learner, RecordAction, RemsPart

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = Path(os.environ.get("PARSDESK_MEDBIQ_SCHEMAS") or REPO.parent / "shared" / "reference" / "medbiq-schemas")
MEDBIQ = "http://ns.medbiq.org/"
# common/v2 imports three W3C / Dublin Core schemas; the reference folder has local stand-ins for them.
STUBS = {
    "http://www.w3.org/2004/08/xop/include": "_stubs/xop.xsd",
    "http://www.dublincore.org/schemas/xmls/qdc/dcterms.xsd": "_stubs/dcterms.xsd",
    "http://www.w3.org/2001/xml.xsd": "_stubs/xml.xsd",
}

pytestmark = pytest.mark.skipif(
    not (SCHEMAS / "activityreport" / "v1" / "activityreport.xsd").is_file(),
    reason=f"MedBiquitous schemas not found at {SCHEMAS} (set PARSDESK_MEDBIQ_SCHEMAS to validate)",
)
PROVIDER = "1234567"
CREATED = datetime(2026, 3, 15, 8, 30, tzinfo=timezone.utc)


class _LocalSchemas(etree.Resolver):
    def resolve(self, url, pubid, context):  # noqa: ANN001, ANN201 - lxml's signature
        if url in STUBS:
            return self.resolve_filename(str(SCHEMAS / STUBS[url]), context)
        if url.startswith(MEDBIQ):
            return self.resolve_filename(str(SCHEMAS / url[len(MEDBIQ):]), context)
        return None


_schemas: dict[str, etree.XMLSchema] = {}


def schema(version: str) -> etree.XMLSchema:
    if version not in _schemas:
        parser = etree.XMLParser(no_network=True)
        parser.resolvers.add(_LocalSchemas())
        document = etree.parse(str(SCHEMAS / "activityreport" / version / "activityreport.xsd"), parser)
        _schemas[version] = etree.XMLSchema(document)
    return _schemas[version]


def schema_errors(document: bytes) -> tuple[str, list[str]]:
    """The version the document claims and its schema errors ([] when valid)."""
    root = etree.fromstring(document)
    assert etree.QName(root).localname == "ACCMELearnerReports"
    [reports] = [child for child in root if etree.QName(child).localname == "ActivityReports"]
    version = "v2" if etree.QName(reports).namespace.endswith("/v2/") else "v1"
    xsd = schema(version)
    if xsd.validate(etree.ElementTree(reports)):
        return version, []
    return version, [f"line {e.line}: {e.message}" for e in xsd.error_log]


def learner(state: str | None = "CA", license_id: str | None = "A123456") -> Learner:
    return Learner("Ana María", "O'Neil", "02/29", state, license_id)


def cme_only() -> Completion:
    return Completion(action=RecordAction.ADD, activity_id="202612345", credit_id="ccid:1234567:cme-1",
                      learner=learner(), completion_date=date(2026, 3, 14), cme=CmePart(Decimal("2.5")))


def cme_and_two_boards() -> Completion:
    return Completion(
        action=RecordAction.ADD, activity_id="202612345", credit_id="ccid:1234567:moc-2",
        learner=learner(None, "1234567893"), completion_date=date(2026, 3, 14), cme=CmePart(Decimal("10")),
        boards=[
            BoardPart("ABIM", "123456", Decimal("10"), {"Medical Knowledge": Decimal("10"), "Patient Safety": Decimal("1.25")}),
            BoardPart("ABA", "98765", Decimal("5"), {"Lifelong Learning": None}),
        ],
    )


def moc_only() -> Completion:
    return Completion(action=RecordAction.ADD, activity_id="202612345", credit_id="ccid:1234567:moc-3",
                      learner=Learner("Pat", "Doe", "11/02"), completion_date=date(2026, 3, 14),
                      boards=[BoardPart("ABS", None, Decimal("2.75"), {"Accredited CME": None})])


def rems_alone() -> Completion:
    return Completion(
        action=RecordAction.ADD, activity_id="202612345", credit_id="ccid:1234567:rems-4",
        learner=learner("MI", "4301012345"), completion_date=date(2026, 3, 14),
        rems=RemsPart("Nurse", "MI", "None", "Hospice and/or Palliative Care", False, "11-15 years"),
    )


def rems_combined() -> Completion:
    return Completion(
        action=RecordAction.ADD, activity_id="202612345", credit_id="ccid:1234567:rems-5",
        learner=learner(), completion_date=date(2026, 3, 14), cme=CmePart(Decimal("3")),
        boards=[BoardPart("ABP", "55", Decimal("3"), {"Lifelong Learning & Self-Assessment": Decimal("3")})],
        rems=RemsPart("Physician", "CA", "Individual", "Pain medicine", True, "0-5 years"),
    )


def a_delete() -> Completion:
    return dataclasses.replace(cme_and_two_boards(), action=RecordAction.DELETE)


KINDS = {
    "cme only": (cme_only, "v1"),
    "cme and two boards with credit types": (cme_and_two_boards, "v1"),
    "moc only": (moc_only, "v1"),
    "rems alone": (rems_alone, "v2"),
    "rems with cme and a board": (rems_combined, "v2"),
    "a delete": (a_delete, "v1"),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_of_record_is_valid_alone(kind: str) -> None:
    make, expected_version = KINDS[kind]
    document = xml_codec.render_document([make()], PROVIDER, CREATED, titles={"202612345": "Cardiology Update"})
    version, errors = schema_errors(document)
    assert (version, errors) == (expected_version, [])
    # and ParsDesk reads back what it wrote (REMS practice areas come back in the standard's words)
    [record] = xml_codec.parse_document(document)
    expected = make()
    if expected.rems is not None and expected.rems.practice_area == "Pain medicine":
        expected.rems.practice_area = "Pain"
    assert record.completion == expected


def test_every_kind_together_is_one_valid_v2_file_and_v1_when_no_rems() -> None:
    everything = [make() for make, _ in KINDS.values()]
    assert schema_errors(xml_codec.render_document(everything, PROVIDER, CREATED)) == ("v2", [])
    without_rems = [c for c in everything if c.rems is None]
    assert schema_errors(xml_codec.render_document(without_rems, PROVIDER, CREATED)) == ("v1", [])


def test_credit_focus_setting_is_valid_too() -> None:
    fmt = dataclasses.replace(xml_codec.xml_format(), credit_types="credit-focus")
    document = xml_codec.render_document([cme_and_two_boards(), moc_only()], PROVIDER, CREATED, fmt=fmt)
    assert schema_errors(document) == ("v1", [])
    first, second = (r.completion for r in xml_codec.parse_document(document))
    assert first.boards[0].credit_types == {"Medical Knowledge": Decimal("10"), "Patient Safety": Decimal("1.25")}
    assert first.boards[1].credit_types == {"Lifelong Learning": Decimal("5")}  # "same as total" made explicit
    assert second.boards[0].credit_types == {"Accredited CME": Decimal("2.75")}


def test_the_xml_sample_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "sample.xml"
    xml_codec.write_xml_sample(path)
    assert schema_errors(path.read_bytes()) == ("v2", [])


def test_the_web_service_payload_is_the_same_valid_document() -> None:
    credentials = Credentials(provider_id=PROVIDER, user="u", password="p")
    records = [(RecordAction.ADD, cme_only()), (RecordAction.DELETE, rems_combined())]
    request = protocol.save_learner_activity_request(credentials, records)
    body = protocol.parse_request(request).body
    [document] = [child for child in body if etree.QName(child).localname == "ACCMELearnerReports"]
    assert schema_errors(etree.tostring(document)) == ("v2", [])
    completions = [xml_codec.parse_report(report) for report in protocol.report_elements_from_request(body)]
    assert [c.credit_id for c in completions] == ["ccid:1234567:cme-1", "ccid:1234567:rems-5"]
    assert [c.action for c in completions] == [RecordAction.ADD, RecordAction.DELETE]


def test_an_xml_upload_file_and_the_xml_export_are_valid(store, tmp_path: Path) -> None:
    from app.services.export import export_filtered_xml
    from app.services.learners import SearchFilters
    from app.services.pars_upload import prepare_upload, store_runner
    from sync_support import RecordSpec, add_activity, queue_records

    activity = add_activity(store, accme_id="123456789")
    queue_records(store, activity, 3, spec=lambda n: RecordSpec(
        board=("ABIM", "100001", Decimal("8"), {"Medical Knowledge": "8"}) if n == 1 else None))
    with store.session() as session:
        export_filtered_xml(session, tmp_path / "export.xml", SearchFilters())
    assert schema_errors((tmp_path / "export.xml").read_bytes()) == ("v1", [])
    folder = tmp_path / "upload"
    folder.mkdir()
    [prepared] = prepare_upload(store_runner(store), folder, file_format="xml").files
    assert schema_errors(prepared.path.read_bytes()) == ("v1", [])


# --- the rejection file of an XML upload -------------------------------------------------------------


def _rejected(completion: Completion, code: int = 671) -> xml_codec.RejectedRecord:
    return xml_codec.RejectedRecord(completion, code, "Completion Date: not within the activity -- see 671\x07",
                                    None, None, "record 1 of lms.xml")


def rejected_kinds() -> dict[str, tuple[Completion, str]]:
    """Records a rejection file may hold: every kind written above, and records that failed because what
    was read cannot be a valid record (values the schema's types cannot hold, missing parts, hostile text)."""
    unreadable = dataclasses.replace(
        cme_and_two_boards(), completion_date="13-45-2026", cme=CmePart("ten"),
        learner=dataclasses.replace(learner(), birth_date="31/31", first_name="Ana\u202e\u200b"),
    )
    unreadable.boards[0].points = "lots"
    unreadable.boards[0].credit_types["Medical Knowledge"] = "x"
    unreadable.boards[0].repeated_types.append("Medical Knowledge")
    rems_unknown = dataclasses.replace(rems_combined(), rems=RemsPart(
        profession="Wizard", state_of_practice="NY", dea_registration="Maybe", practice_area="Astrology",
        performs_surgery=True, time_in_practice="forever"))
    rems_odd_values = dataclasses.replace(rems_alone(), rems=dataclasses.replace(
        rems_alone().rems, dea_registration="Sometimes", time_in_practice="ages"))
    nothing = Completion(action="Modify", learner=Learner(last_name="Doe"))
    kinds = {name: (make(), version) for name, (make, version) in KINDS.items()}
    kinds.update({
        "values the schema cannot hold": (unreadable, "v1"),
        "rems with an unknown profession": (rems_unknown, "v2"),
        "rems with odd values": (rems_odd_values, "v2"),
        "almost nothing read": (nothing, "v1"),
        "rems read without any identifier": (Completion(learner=Learner(last_name="Roe"),
                                                        rems=RemsPart(profession="Physician")), "v2"),
    })
    return kinds


@pytest.mark.parametrize("kind", sorted(rejected_kinds()))
def test_each_kind_of_rejected_record_makes_a_valid_rejection_file_that_reads_back(kind: str) -> None:
    completion, expected_version = rejected_kinds()[kind]
    document = xml_codec.render_rejections([_rejected(completion)], CREATED, provider_id=PROVIDER)
    assert schema_errors(document) == (expected_version, [])
    [record] = xml_codec.parse_document(document)
    assert record.completion.credit_id == completion.credit_id
    assert record.completion.learner.last_name == completion.learner.last_name
    text = document.decode("utf-8")
    assert "\x07" not in text and "\u202e" not in text and "\u200b" not in text
    assert "<hx:RejectionCode>671</hx:RejectionCode>" in text


def test_a_rejection_file_mixing_every_kind_is_valid() -> None:
    records = [_rejected(completion) for completion, _ in rejected_kinds().values()]
    assert schema_errors(xml_codec.render_rejections(records, CREATED, provider_id=PROVIDER)) == ("v2", [])
    without_rems = [r for r in records if r.completion.rems is None]
    assert schema_errors(xml_codec.render_rejections(without_rems, CREATED)) == ("v1", [])


def test_the_rejection_files_of_import_and_check_are_valid(store, tmp_path: Path) -> None:
    from app.cli import main as cli_main
    from tests.batch_support import AS_OF
    from tests.batch_support import add_activity as add_batch_activity
    from tests.test_xml_rejections import lms_export

    add_batch_activity(store)
    source = lms_export(tmp_path)
    assert cli_main(["import", str(source), "--db", store.location, "--as-of", AS_OF.isoformat()]) == 1
    assert schema_errors((tmp_path / "lms-rejections.xml").read_bytes()) == ("v1", [])
    assert cli_main(["check", str(source), "--db", store.location, "--as-of", AS_OF.isoformat(),
                     "--rejections", str(tmp_path / "check.xml")]) == 1
    assert schema_errors((tmp_path / "check.xml").read_bytes()) == ("v1", [])


def test_the_medbiquitous_samples_rejection_file_is_valid_with_one_participant_per_record(tmp_path: Path) -> None:
    from app.commands.check import check_batch
    from app.pars.batch import load_batch
    from app.pars.domain import History

    sample = load_batch(SCHEMAS / "activityreport" / "v2" / "sample_activityreport.xml")
    verdicts = check_batch(sample, {}, History(), date(2026, 3, 1))
    assert all(verdicts)  # no record action, creditID, activity ID, name or date: both records fail
    from app.commands.check import _write_xml_rejections

    assert _write_xml_rejections(tmp_path / "rejections.xml", sample, verdicts) == 2
    document = (tmp_path / "rejections.xml").read_bytes()
    assert schema_errors(document) == ("v2", [])
    root = etree.fromstring(document)
    assert [len(list(report.iter("{*}Participant"))) for report in root.iter("{*}ActivityReport")] == [1, 1]
    again = load_batch(tmp_path / "rejections.xml")
    assert [r.completion.rems.profession for r in again.records] == ["Physician", "Nurse"]
