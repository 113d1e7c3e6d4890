"""How fast is the upload-file route with a full PARS file (5,000 records)?

    .venv/bin/python bench/bench_upload_route.py [--records 5000]

Builds a store with N queued records (CME + one board with a credit type), then times:
prepare (claim + write one Excel upload file), the same as XML, the sandbox's batch upload answering
with a rejection workbook, and taking that workbook back in (matching every row). Prints seconds and
records per second; no targets are asserted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import httpx  # noqa: E402

from app.models import Store  # noqa: E402
from app.services.pars_upload import prepare_upload, store_runner, take_in_results  # noqa: E402
from sync_support import SANDBOX_ACTIVITY, RecordSpec, add_activity, queue_records, running_sandbox  # noqa: E402


def _store(folder: Path, records: int) -> Store:
    store = Store.open(folder / "bench.sqlite3")
    activity = add_activity(store, accme_id="123456789", abim_points=Decimal("8"))
    # every 10th record claims too many CME credits, so PARS rejects 10 % (674)
    queue_records(store, activity, records, spec=lambda n: RecordSpec(
        completion_date=date(2026, 1, 6), cme_credits=Decimal("9") if n % 10 == 0 else Decimal("8"),
        board=("ABIM", f"{200000 + n}", Decimal("8"), {"Medical Knowledge": "8"})))
    return store


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for file_format in ("xlsx", "xml"):
            work = folder / file_format
            work.mkdir()
            store = _store(work, args.records)
            started = time.perf_counter()
            report = prepare_upload(store_runner(store), work, file_format=file_format)
            elapsed = time.perf_counter() - started
            [prepared] = report.files
            print(f"prepare {file_format}: {prepared.records:,} records in {elapsed:.2f} s "
                  f"({prepared.records / elapsed:,.0f} records/s), {prepared.path.stat().st_size / 1024:,.0f} KB")
            if file_format == "xlsx":
                with running_sandbox(activities=[SANDBOX_ACTIVITY]) as sandbox:
                    started = time.perf_counter()
                    response = httpx.post(f"{sandbox.url}/_sandbox/batch-upload", params={"name": prepared.name},
                                          content=prepared.path.read_bytes(), auth=("demo", "demo-sandbox"),
                                          timeout=600)
                    elapsed = time.perf_counter() - started
                rejections = work / "rejections.xlsx"
                rejections.write_bytes(response.content)
                print(f"sandbox batch upload: {prepared.records:,} records, "
                      f"{response.headers['X-PARS-Rejected']} rejected, in {elapsed:.2f} s")
                started = time.perf_counter()
                with store.transaction() as session:
                    check, applied = take_in_results(session, rejections)
                elapsed = time.perf_counter() - started
                print(f"take in PARS's results: {check.kind}, {applied.rejected:,} rejected in {elapsed:.2f} s")
            store.close()


if __name__ == "__main__":
    main()
