"""Reading PARS learner XML as other systems write it: the matrix of issue 9 §2, from small files built here.

Every variant must give the same Completion as the canonical record, so validation gives the same verdict
as for the same row in Excel. Structure that is not PARS learner XML is a one-line message naming the
element and its line.
"""

from __future__ import annotations

import itertools
import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from app.pars.batch import BatchFileError
from app.pars.domain import BoardPart, CmePart, Completion, History, Learner, RecordAction
from app.pars.validation import validate_batch
from app.pars.xml_codec import parse_document, read_xml_batch

V1 = "http://ns.medbiq.org/activityreport/v1/"
V2 = "http://ns.medbiq.org/activityreport/v2/"
HX = "http://ns.medbiq.org/lom/extend/v1/"
MEMBER = {V1: "http://ns.medbiq.org/member/v1/", V2: "http://ns.medbiq.org/member/v2/"}
NAME = {V1: "http://ns.medbiq.org/name/v1/", V2: "http://ns.medbiq.org/name/v2/"}
REPO = Path(__file__).resolve().parent.parent
SCHEMAS = Path(os.environ.get("PARSDESK_MEDBIQ_SCHEMAS") or REPO.parent / "shared" / "reference" / "medbiq-schemas")


def expected(credit_id: str = "ccid:1234567:r1", action: RecordAction = RecordAction.ADD) -> Completion:
    return Completion(
        action=action, activity_id="202612345", credit_id=credit_id,
        learner=Learner("Pat", "Doe", "04/15", "CA", "A123456"), completion_date=date(2026, 3, 14),
        cme=CmePart(Decimal("2")),
        boards=[BoardPart("ABIM", "123456", Decimal("10"), {"Medical Knowledge": Decimal("10")})],
    )


def report(
    *, p: str = "", m: str = "m:", n: str = "n:", hx: str = "hx:", credit_id_in: str = "certificate",
    credit_form: str = "elements", completed: str = "2026-03-14", birth: str = "2000-04-15",
    ids_in: str = "member", license_domain: str = "CA", action_ns: str = "hx", credit_id: str = "ccid:1234567:r1",
    action: str = "add",
) -> str:
    """One ActivityReport; p/m/n/hx are the prefixes ("" = default namespace) the caller declared."""

    def credit(certification: str, amount: str) -> str:
        if credit_form == "attributes":
            return (f'<{p}CreditReceived activityCertification="{certification}" creditUnit="Point" '
                    f'numberOfCredits="{amount}"/>')
        return (f"<{p}CreditReceived><{hx}activityCertification>{certification}</{hx}activityCertification>"
                f"<{hx}creditUnit>Point</{hx}creditUnit><{hx}numberOfCredits>{amount}</{hx}numberOfCredits>"
                f"</{p}CreditReceived>")

    def certificate(certification: str, amount: str, unique: str = "") -> str:
        inner_id = f"<{p}CreditID>{credit_id}</{p}CreditID>" if credit_id_in == "certificate" else ""
        inner_unique = unique if ids_in == "certificate" else ""
        return f"<{p}CreditCertificate>{inner_unique}{credit(certification, amount)}{inner_id}</{p}CreditCertificate>"

    license_unique = f'<{p}UniqueID domain="{license_domain}">A123456</{p}UniqueID>'
    board_unique = f'<{p}UniqueID domain="ABIM">123456</{p}UniqueID>'
    member_ids = (
        f'<{m}UniqueID domain="{license_domain}">A123456</{m}UniqueID><{m}UniqueID domain="ABIM">123456</{m}UniqueID>'
        if ids_in == "member" else ""
    )
    action_element = {
        "hx": f"<{hx}LearnerRecordAction>{action}</{hx}LearnerRecordAction>",
        "acme": f'<a:LearnerRecordAction xmlns:a="urn:example:accme">{action}</a:LearnerRecordAction>',
    }[action_ns]
    report_id = f"<{p}CreditID>{credit_id}</{p}CreditID>" if credit_id_in == "report" else ""
    return (
        f"<{p}ActivityReport><{p}ReportingOrganization>Example Society</{p}ReportingOrganization>"
        f"<{p}Member>{member_ids}<{m}Name><{n}GivenName>Pat</{n}GivenName><{n}FamilyName>Doe</{n}FamilyName></{m}Name>"
        f"<{m}PersonalInfo><{m}BirthDate>{birth}</{m}BirthDate></{m}PersonalInfo></{p}Member>"
        f"<{p}Activity><{p}ProviderOrganization>1234567</{p}ProviderOrganization>"
        f"<{p}ActivityName>Cardiology Update</{p}ActivityName><{p}Module>"
        f'<{p}ModuleName moduleID="202612345">Cardiology Update</{p}ModuleName><{p}Status>Completed</{p}Status>'
        f"<{p}CompletedDateTime>{completed}</{p}CompletedDateTime>"
        + certificate("AMA PRA Category 1", "2", license_unique)
        + certificate("ABIM", "10", board_unique)
        + certificate("ABIM: Medical Knowledge" if ids_in == "member" else "Medical Knowledge", "10")
        + f"</{p}Module></{p}Activity>{report_id}<{p}XtensibleInfo>{action_element}</{p}XtensibleInfo>"
        f"</{p}ActivityReport>"
    )


def document(reports: list[str], *, version: str = V1, wrapper: bool = True, prefixes: str = "default",
             several: bool = False) -> bytes:
    if prefixes == "default":
        declarations = f'xmlns="{version}" xmlns:m="{MEMBER[version]}" xmlns:n="{NAME[version]}" xmlns:hx="{HX}"'
    elif prefixes == "custom":
        declarations = (f'xmlns:ar="{version}" xmlns:mem="{MEMBER[version]}" xmlns:nm="{NAME[version]}" '
                        f'xmlns:lx="{HX}"')
    else:  # no namespaces at all
        declarations = ""
    p = "ar:" if prefixes == "custom" else ""
    groups = [reports[:1], reports[1:]] if several and len(reports) > 1 else [reports]
    body = "".join(
        f"<{p}ActivityReports {declarations}><{p}DateTimeCreated>2026-03-15T08:30:00</{p}DateTimeCreated>"
        + "".join(group) + f"</{p}ActivityReports>"
        for group in groups
    )
    if wrapper:
        body = f"<ACCMELearnerReports>{body}</ACCMELearnerReports>"
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode()


def prefix_args(prefixes: str) -> dict[str, str]:
    if prefixes == "custom":
        return {"p": "ar:", "m": "mem:", "n": "nm:", "hx": "lx:"}
    if prefixes == "none":
        return {"p": "", "m": "", "n": "", "hx": ""}
    return {}


@pytest.mark.parametrize(
    ("wrapper", "version", "prefixes", "credit_id_in", "credit_form", "ids_in"),
    list(itertools.product([True, False], [V1, V2], ["default", "custom", "none"], ["certificate", "report"],
                           ["elements", "attributes"], ["member", "certificate"])),
)
def test_every_shape_reads_as_the_same_record(
    wrapper: bool, version: str, prefixes: str, credit_id_in: str, credit_form: str, ids_in: str
) -> None:
    one = report(credit_id_in=credit_id_in, credit_form=credit_form, ids_in=ids_in, **prefix_args(prefixes))
    data = document([one], version=version, wrapper=wrapper, prefixes=prefixes)
    [record] = parse_document(data)
    assert record.completion == expected()
    assert record.provider_id == "1234567"


@pytest.mark.parametrize("completed", ["2026-03-14", "2026-03-14T00:00:00", "2026-03-14T09:15:00", "03-14-2026"])
@pytest.mark.parametrize("birth", ["2000-04-15", "1970-04-15", "--04-15", "04/15"])
def test_completion_and_birth_date_forms(completed: str, birth: str) -> None:
    [record] = parse_document(document([report(completed=completed, birth=birth)]))
    assert record.completion == expected()


@pytest.mark.parametrize(
    ("domain", "state"), [("CA", "CA"), ("idd:accme.org:CA", "CA"), ("NPI", None), ("idd:accme.org:NPI", None)]
)
def test_unique_id_domains_state_npi_and_board(domain: str, state: str | None) -> None:
    [record] = parse_document(document([report(license_domain=domain)]))
    assert record.completion.learner.licensing_state == state
    assert record.completion.learner.license_id == "A123456"
    assert [(b.board, b.board_id) for b in record.completion.boards] == [("ABIM", "123456")]


@pytest.mark.parametrize("action_ns", ["hx", "acme"])
@pytest.mark.parametrize(("text", "action"), [("add", RecordAction.ADD), ("Delete", RecordAction.DELETE)])
def test_learner_record_action_in_any_namespace(action_ns: str, text: str, action: RecordAction) -> None:
    [record] = parse_document(document([report(action_ns=action_ns, action=text)]))
    assert record.completion.action is action


def test_several_activity_reports_in_one_file_keep_their_order() -> None:
    reports = [report(credit_id=f"ccid:1234567:r{i}") for i in (1, 2, 3)]
    records = parse_document(document(reports, several=True))
    assert [r.completion.credit_id for r in records] == ["ccid:1234567:r1", "ccid:1234567:r2", "ccid:1234567:r3"]
    assert [r.index for r in records] == [1, 2, 3]


def test_variants_get_the_same_verdict_as_the_canonical_record() -> None:
    canonical = expected()
    canonical.completion_date = "13-45-2026"
    variant = parse_document(document([report(completed="13-45-2026", credit_form="attributes", p="")]))[0]
    [canonical_issues] = validate_batch([canonical], {}, History(), date(2026, 3, 20))
    [variant_issues] = validate_batch([variant.completion], {}, History(), date(2026, 3, 20))
    assert [(i.code, i.field) for i in canonical_issues] == [(i.code, i.field) for i in variant_issues]
    assert 671 in {i.code for i in variant_issues}


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"<Learners><Learner/></Learners>", "root element <Learners> on line 1"),
        (b"<ACCMELearnerReports>\n<Report/></ACCMELearnerReports>", "line 2: <Report> inside <ACCMELearnerReports>"),
        (b"<ActivityReports>\n<DateTimeCreated/>\n<Learner/></ActivityReports>", "line 3: <Learner> inside <ActivityReports>"),
        (b"<ActivityReports><ActivityReport>\n<Member/>\n<Member/></ActivityReport></ActivityReports>",
         "line 3: a second <Member>"),
        (b"<ActivityReports><ActivityReport><Activity><Module>\n<CreditCertificate>\n<Credits/>"
         b"</CreditCertificate></Module></Activity></ActivityReport></ActivityReports>",
         "line 3: <Credits> inside <CreditCertificate>"),
        (b"<ActivityReports><ActivityReport>\n<Activity/>\n<Activity/></ActivityReport></ActivityReports>",
         "line 3: a second <Activity>"),
    ],
)
def test_structure_that_is_not_pars_xml_is_named_with_its_line(data: bytes, fragment: str) -> None:
    with pytest.raises(BatchFileError) as caught:
        parse_document(data, name="lms.xml")
    assert fragment in str(caught.value)
    assert str(caught.value).startswith("lms.xml")
    assert "\n" not in str(caught.value)


def test_extensions_in_other_namespaces_are_skipped() -> None:
    data = document([report()]).replace(
        b"<Member>", b'<Member><x:Note xmlns:x="urn:example:lms">ignored</x:Note>', 1
    ).replace(b"</Module>", b'<x:Note xmlns:x="urn:example:lms">ignored</x:Note></Module>', 1)
    with pytest.raises(BatchFileError):  # inside Member the standard allows no extension before UniqueID…
        parse_document(data.replace(b"<Member><x:Note", b"<Member><Note", 1))
    [record] = parse_document(data)
    assert record.completion == expected()


@pytest.mark.skipif(not SCHEMAS.is_dir(), reason=f"MedBiquitous reference folder not found at {SCHEMAS}")
def test_medbiquitous_rems_sample_gives_clear_per_record_verdicts() -> None:
    batch = read_xml_batch(SCHEMAS / "activityreport" / "v2" / "sample_activityreport.xml")
    assert [r.row for r in batch.records] == [1, 2]  # one learner record per Participant
    first, second = (r.completion for r in batch.records)
    assert (first.rems.profession, first.rems.state_of_practice, first.rems.time_in_practice) == (
        "Physician", "MI", "0-5 years")
    assert (second.rems.profession, second.rems.state_of_practice, second.rems.performs_surgery) == (
        "Nurse", "WI", False)
    verdicts = validate_batch([first, second], {}, History(), date(2026, 3, 1))
    for issues in verdicts:
        assert {i.code for i in issues} >= {601, 630, 622, 623, 631}
        assert all(i.message for i in issues)


def test_the_same_records_as_excel_rows_and_as_xml_get_the_same_verdicts(tmp_path: Path) -> None:
    """§2: "give the same verdicts as for Excel" — record by record, code by code and field by field."""
    from dataclasses import replace

    from app.commands.check import check_batch
    from app.pars.batch import load_batch
    from app.pars.excel import HEADERS, completion_to_values
    from tests.batch_support import ACTIVITY, AS_OF, completion, write_xlsx, write_xml

    base = completion(1)
    records = [
        base,
        replace(completion(2), completion_date=date(2026, 2, 3)),  # after the activity's end
        replace(completion(3), completion_date="13-45-2026"),  # not a date
        replace(completion(4), learner=Learner("Learner4", None, "13/45", "CA", "A0000004")),  # no last name, bad DOB
        replace(completion(5), cme=CmePart(Decimal("9"))),  # above the activity's credits
        replace(completion(6), boards=[BoardPart("ABX", "1", Decimal("4"), {})]),  # no such board
        replace(completion(7), activity_id="999999999"),  # unknown activity
    ]
    rows = [dict(zip(HEADERS, completion_to_values(r))) for r in records]
    excel = load_batch(write_xlsx(tmp_path / "learners.xlsx", rows))
    xml = load_batch(write_xml(tmp_path / "learners.xml", [
        replace(r, credit_id=f"ccid:1234567:r{n}") for n, r in enumerate(records, start=1)]))
    activities = {ACTIVITY.activity_id: ACTIVITY}
    excel_verdicts = check_batch(excel, activities, History(), AS_OF)
    xml_verdicts = check_batch(xml, activities, History(), AS_OF)
    assert [[(i.code, i.field) for i in issues] for issues in xml_verdicts] == [
        [(i.code, i.field) for i in issues] for issues in excel_verdicts]
    assert not excel_verdicts[0] and all(excel_verdicts[1:])
