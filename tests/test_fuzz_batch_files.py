"""A bounded fuzz of `parsdesk check` and `parsdesk import`: a few hundred mutated workbooks and XML
files, made here from a fixed seed, each run through the command line's own entry function inside
one child interpreter whose address space is capped (so a reader that tries to allocate gigabytes
fails that child instead of the suite), plus a handful of real `parsdesk` processes.

For every file: exit 0, 1 or 2 only; no traceback; on exit 2 exactly one line on stderr and the store
unchanged; and no run longer than a few seconds (a hang detector, far above the ~50 ms a run takes).
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
import shutil
import subprocess
import sys
import zipfile
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from app.models import Store
from app.pars.domain import BoardPart, CmePart, Completion, Learner, RecordAction, RemsPart
from app.pars.excel import HEADERS
from tests.batch_support import ACTIVITY, AS_OF, add_activity, row
from tests.xlsx_support import ROOT, inline_row, run_parsdesk, shared_strings_xml, write_xlsx

SEED = 20261203
XLSX_FILES = 160
XML_FILES = 100
IMPORT_EVERY = 8  # every 8th file is also imported into a fresh copy of a store
SLOWEST_RUN_SECONDS = 8.0

HOSTILE_TEXTS = [
    "_x0000_", "_x001B_[31m", "\x01", "\u202e", "\u2066", "\u200b", "\ufeff", "=HYPERLINK(\"http://x\")",
    "+cmd", "@SUM(A1)", "-1", "1" + "0" * 30, "1E+30", "NaN", "Infinity", "-0", "0.0000001", "9" * 400,
    "A" * 5000, "", " ", "Delete", "Update", "12-31-9999", "02-30-2026", "00-00-0000", "13/45", "ABIM",
    "ABX", "Medical Knowledge", "Medical Knowledge", "\U0001f600", "Ωmega", "&amp;", "<![CDATA[x]]>",
]
HUGE_REFS = ["XFD1048576", "CV1048576", "ZZZZZZZ5", "A1048576", "AY3", "A0", "A5006", "A99999999999",
             "$A$3", "a3", "3A", "", "A-1", "AAAA1"]


# ----------------------------------------------------------------------------------- base files


def base_rows(rng: random.Random) -> list[list[str]]:
    rows = []
    for n in range(rng.randint(1, 6)):
        cells = row(n, **({"Credit_Type": "Medical Knowledge"} if n % 2 else {}))
        rows.append([cells.get(header, "") for header in HEADERS])
    return rows


def sheet_xml(rows: list[list[str]], rng: random.Random, shared: list[str] | None) -> str:
    parts = [inline_row(1, ["PARS learner upload"]), inline_row(2, HEADERS)]
    for number, values in enumerate(rows, start=3):
        if shared is None:
            parts.append(inline_row(number, values))
        else:
            cells = []
            for index, value in enumerate(values):
                if value:
                    shared.append(value)
                    letter = "ABCDEFGHIJKLMNOPQRSTUVW"[index]
                    cells.append(f'<c r="{letter}{number}" t="s"><v>{len(shared) - 1}</v></c>')
            parts.append(f'<row r="{number}">{"".join(cells)}</row>')
    return "".join(parts)


def mutate_text(text: str, rng: random.Random) -> str:
    """One structural or value mutation of a sheet or XML text."""
    choice = rng.randrange(12)
    if choice == 0:  # a cell reference out of bounds or malformed
        refs = re.findall(r' r="([A-Z]+[0-9]+)"', text)
        if refs:
            return text.replace(f' r="{rng.choice(refs)}"', f' r="{rng.choice(HUGE_REFS)}"', 1)
    if choice == 1:  # a row number out of bounds
        return re.sub(r'<row r="\d+"', f'<row r="{rng.choice(["0", "5006", "1048576", "-4", "x"])}"', text, count=1)
    if choice == 2:  # a hostile value in some text node
        nodes = [m for m in re.finditer(r">([^<>]+)<", text)]
        if nodes:
            node = rng.choice(nodes)
            return text[:node.start(1)] + rng.choice(HOSTILE_TEXTS).replace("<", "&lt;") + text[node.end(1):]
    if choice == 3:  # delete a random slice
        start = rng.randrange(len(text))
        return text[:start] + text[start + rng.randint(1, 200):]
    if choice == 4:  # duplicate a random slice
        start = rng.randrange(len(text))
        piece = text[start:start + rng.randint(1, 400)]
        return text[:start] + piece * rng.randint(2, 50) + text[start:]
    if choice == 5:  # a DOCTYPE or an entity
        return text.replace("?>", '?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>', 1)
    if choice == 6:  # a formula without its value
        return re.sub(r'(<c r="[A-Z]+\d+")[^>]*>.*?</c>', r"\1><f>SUM(A1:A2)</f></c>", text, count=1)
    if choice == 7:  # a cell type changed
        return re.sub(r't="(inlineStr|s|n)"', f't="{rng.choice(["s", "n", "b", "e", "d", "str", "zz"])}"', text,
                      count=1)
    if choice == 8:  # a cell without a reference
        return re.sub(r' r="[A-Z]+\d+"', "", text, count=rng.randint(1, 5))
    if choice == 9:  # random bytes of noise
        start = rng.randrange(len(text))
        noise = "".join(chr(rng.choice([0x3C, 0x3E, 0x26, 0x22, 0x20, 0x61, 0x202E, 0x1B, 0xFFFD])) for _ in range(8))
        return text[:start] + noise + text[start:]
    if choice == 10:  # a huge attribute count
        return re.sub(r'(count|uniqueCount)="\d+"', f'\\1="{rng.choice(["4294967295", "-1", "1e9", "99999999"])}"',
                      text, count=1)
    # swap two tags
    tags = re.findall(r"<[a-zA-Z][^<>]*>", text)
    if len(tags) > 2:
        first, second = rng.sample(tags, 2)
        return text.replace(first, "\0", 1).replace(second, first, 1).replace("\0", second, 1)
    return text + "<junk/>"


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        kind = rng.randrange(3)
        position = rng.randrange(len(buffer))
        if kind == 0:
            buffer[position] = rng.randrange(256)
        elif kind == 1:
            del buffer[position:position + rng.randint(1, 64)]
        else:
            buffer[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    return bytes(buffer)


def make_xlsx(path: Path, rng: random.Random) -> None:
    shared: list[str] | None = [] if rng.random() < 0.4 else None
    text = sheet_xml(base_rows(rng), rng, shared)
    strings = shared_strings_xml(shared) if shared is not None else None
    for _ in range(rng.randint(1, 3)):
        if strings is not None and rng.random() < 0.3:
            strings = mutate_text(strings, rng)
        else:
            text = mutate_text(text, rng)
    dimension = rng.choice(["A1:W8"] * 8 + ["A1:XFD1048576", "A1", None, "ZZZ9:A1"])
    write_xlsx(path, text, dimension=dimension,
               shared_strings=strings)
    if rng.random() < 0.25:  # damage the zip container itself
        path.write_bytes(mutate_bytes(path.read_bytes(), rng))


def xml_completion(n: int, rng: random.Random) -> Completion:
    return Completion(
        action=rng.choice([RecordAction.ADD, RecordAction.DELETE]),
        activity_id=ACTIVITY.activity_id,
        credit_id=f"ccid:1234567:fuzz{n}",
        learner=Learner(f"Learner{n}", "Testperson", "03/14", "CA", f"A{n:07d}"),
        completion_date=date(2026, 1, 6),
        cme=CmePart(Decimal("4")),
        boards=[BoardPart("ABIM", f"{100000 + n}", Decimal("4"), {"Medical Knowledge": Decimal("4")})],
        rems=RemsPart("Physician") if n % 3 == 0 else None,
    )


def make_xml(path: Path, rng: random.Random) -> None:
    from app.pars.xml_codec import render_document

    data = render_document([xml_completion(n, rng) for n in range(rng.randint(1, 5))], "1234567",
                           datetime(2026, 2, 15, tzinfo=timezone.utc)).decode()
    for _ in range(rng.randint(1, 3)):
        data = mutate_text(data, rng)
    encoded = data.encode("utf-8", "surrogatepass")
    if rng.random() < 0.2:
        encoded = mutate_bytes(encoded, rng)
    path.write_bytes(encoded)


# ------------------------------------------------------------------------------------- the driver

# Runs in the child: each case through app.cli.main, stdout/stderr captured, one JSON line out.
DRIVER = r"""
import contextlib, hashlib, io, json, resource, shutil, sys, time, traceback
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from app.cli import main
for line in sys.stdin:
    case = json.loads(line)
    print(json.dumps({"start": case["id"]}), flush=True)
    store = case.get("store")
    if store:
        shutil.copyfile(case["base_store"], store)
        before = hashlib.sha256(open(store, "rb").read()).hexdigest()
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(case["args"])
    except BaseException:
        code = "exception"
        err.write(traceback.format_exc())
    elapsed = time.perf_counter() - started
    result = {"id": case["id"], "code": code, "out": out.getvalue()[-3000:], "err": err.getvalue()[-3000:],
              "seconds": elapsed}
    if store:
        result["store_unchanged"] = hashlib.sha256(open(store, "rb").read()).hexdigest() == before
    print(json.dumps(result), flush=True)
"""
CHILD_MEMORY_BYTES = 1536 * 1024 * 1024


def activities_file(folder: Path) -> Path:
    path = folder / "activities.json"
    path.write_text(json.dumps([{
        "activity_id": ACTIVITY.activity_id, "title": ACTIVITY.title, "type": ACTIVITY.activity_type,
        "start_date": ACTIVITY.start_date.isoformat(), "end_date": ACTIVITY.end_date.isoformat(),
        "cme_credits": str(ACTIVITY.cme_credits), "rems": True,
        "boards": [{"board": "ABIM", "max_points": "8", "credit_types": ["Medical Knowledge"],
                    "credit_claim_date": "2026-03-31"}],
    }]))
    return path


@pytest.fixture(scope="module")
def fuzz_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], dict[str, list[str]], Path]:
    folder = tmp_path_factory.mktemp("fuzz")
    rng = random.Random(SEED)
    activities = activities_file(folder)
    base_store = folder / "base.sqlite3"
    store = Store.open(base_store)
    add_activity(store)
    store.close()

    cases, files = [], {}
    for index in range(XLSX_FILES + XML_FILES):
        is_xlsx = index < XLSX_FILES
        path = folder / f"case{index:03d}.{'xlsx' if is_xlsx else 'xml'}"
        (make_xlsx if is_xlsx else make_xml)(path, rng)
        case_id = f"check-{index}"
        files[case_id] = ["check", str(path)]
        cases.append({"id": case_id, "args": ["check", str(path), "--activities", str(activities),
                                              "--as-of", AS_OF.isoformat()]})
        if index % IMPORT_EVERY == 0:
            case_id = f"import-{index}"
            copy = folder / f"store{index:03d}.sqlite3"
            files[case_id] = ["import", str(path)]
            cases.append({"id": case_id, "args": ["import", str(path), "--db", str(copy), "--as-of",
                                                  AS_OF.isoformat()],
                          "store": str(copy), "base_store": str(base_store)})

    done = subprocess.run(
        [sys.executable, "-c", DRIVER, str(CHILD_MEMORY_BYTES)], cwd=ROOT, text=True, capture_output=True,
        input="".join(json.dumps(case) + "\n" for case in cases), timeout=600,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    started = [line["start"] for line in lines if "start" in line]
    results = [line for line in lines if "code" in line]
    assert done.returncode == 0, (
        f"the fuzz child died (exit {done.returncode}) on {started[-1] if started else '?'}: "
        f"{files.get(started[-1]) if started else ''}\n{done.stderr[-3000:]}"
    )
    assert len(results) == len(cases)
    return results, files, folder


def test_every_mutated_file_gets_exit_0_1_or_2_and_no_traceback(fuzz_run) -> None:
    results, files, _ = fuzz_run
    for result in results:
        where = f"{result['id']} {files[result['id']]}: {result['err'][-1500:]}"
        assert result["code"] in (0, 1, 2), where
        assert "Traceback" not in result["err"] + result["out"], where


def test_an_unreadable_file_is_one_clear_line_and_changes_no_store(fuzz_run) -> None:
    results, files, _ = fuzz_run
    refused = [result for result in results if result["code"] == 2]
    assert len(refused) > 20  # the mutations do reach the refusals
    for result in refused:
        where = f"{result['id']} {files[result['id']]}"
        command = files[result["id"]][0]
        lines = result["err"].splitlines()
        assert len(lines) == 1, f"{where}: {result['err']}"
        assert lines[0].startswith(f"parsdesk {command}: "), where
        assert result["out"] == "", where
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]", lines[0]), where
        if "store_unchanged" in result:
            assert result["store_unchanged"], where


def test_a_readable_file_reports_every_row_and_prints_nothing_hostile(fuzz_run) -> None:
    results, files, _ = fuzz_run
    checked = [result for result in results if result["code"] in (0, 1) and result["id"].startswith("check")]
    assert len(checked) > 20
    for result in checked:
        where = f"{result['id']} {files[result['id']]}"
        assert re.search(r"\d[\d,]* records?, [\d,]+ valid, [\d,]+ invalid\.\n?$", result["out"]), where
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]", result["out"]), where


def test_no_run_takes_more_than_a_few_seconds(fuzz_run) -> None:
    results, files, _ = fuzz_run
    slowest = max(results, key=lambda result: result["seconds"])
    assert slowest["seconds"] < SLOWEST_RUN_SECONDS, f"{slowest['id']} {files[slowest['id']]}"


def test_a_handful_of_mutated_files_through_real_processes(fuzz_run, tmp_path: Path) -> None:
    """The same verdicts from a real `parsdesk` process (its own interpreter, capped memory)."""
    results, files, folder = fuzz_run
    by_code: dict[object, list[dict]] = {}
    for result in results:
        if result["id"].startswith("check"):
            by_code.setdefault(result["code"], []).append(result)
    picked = [*by_code.get(2, [])[:3], *by_code.get(1, [])[:2]]
    activities = folder / "activities.json"
    for result in picked:
        path = files[result["id"]][1]
        done = run_parsdesk("check", path, "--activities", str(activities), "--as-of", AS_OF.isoformat())
        assert done.returncode == result["code"], f"{path}: {done.stderr[-2000:]}"
        assert "Traceback" not in done.stderr
        if done.returncode == 2:
            assert done.stderr.count("\n") == 1
