"""The fast batch path (column-wise reading, verdicts decided once per distinct value) gives exactly
the records and verdicts of the record-by-record path it replaced: same rows, fields, codes and
messages, for generated workbooks holding every kind of problem (tests/batch_variety.py)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from batch_variety import GOLDEN, GOLDEN_CASES, case_name, judge_case


@pytest.fixture(scope="module")
def golden() -> dict[str, dict[str, object]]:
    return json.loads(gzip.decompress(GOLDEN.read_bytes()))


@pytest.mark.parametrize("case", GOLDEN_CASES, ids=[case_name(*case) for case in GOLDEN_CASES])
def test_records_and_verdicts_are_those_of_the_record_by_record_path(
    tmp_path: Path, golden: dict[str, dict[str, object]], case: tuple[int, int, int]
) -> None:
    expected = golden[case_name(*case)]
    found = judge_case(tmp_path, *case)
    assert found["headers"] == expected["headers"]
    assert len(found["records"]) == len(expected["records"])
    differing = [index for index, (a, b) in enumerate(zip(found["records"], expected["records"])) if a != b]
    assert not differing, f"records read differently at indexes {differing[:10]}"
    for name in ("history", "empty"):
        for index, (mine, theirs) in enumerate(zip(found[name], expected[name])):
            assert mine == theirs, f"{name}: record {index}"
        assert len(found[name]) == len(expected[name])
