"""Sync throughput: records per second for a 5,000-record outbox sent to the PARS sandbox.

    .venv/bin/python bench/bench_sync.py [--records 5000] [--batch-size 500] [--latency 0 50 200]
                                         [--in-flight 4] [--runs 5] [--office]

For each latency (`parsdesk sandbox --latency MS`: the sandbox, in its own process as a remote PARS
would be, waits MS before answering every request) a fresh store is filled with queued records and
one engine pass sends them over HTTP (the real client, the real sandbox validating every record).
Each latency is measured twice: one batch at PARS at a time (the engine before issue 12, for
comparison) and `--in-flight` batches at once (what the app and `parsdesk sync` do). The figure is
records / wall time of the pass: marking each batch in flight, the HTTP round trip, and storing
every answer with its history event. Targets: >= 500 records/s at 50 ms, >= 2,500 at 200 ms; the
"goal" column is the parallel figure divided by its target (>= 1.00x meets it). Sequential and parallel
passes alternate run by run, so a change in the machine's load hits both; the load average (`uptime`)
is printed before and after, since the sandbox and ParsDesk share the machine's cores with whatever
else runs; so is the CPU time of a parallel pass in ParsDesk's process and in the sandbox's (median),
which a busy machine stretches far less than the wall time.

--office also measures the same passes from an office store: a throwaway PostgreSQL 15 (fsync on, as
tests/pg_support.py starts it; as `nobody` when run as root), printed under the SQLite figures of the
same run. Target for the office store: >= 500 records/s at 50 ms.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.models import Store  # noqa: E402
from app.pars.activities_json import write_activities  # noqa: E402
from app.pars.client import ParsClient  # noqa: E402
from app.pars.credentials import SANDBOX_DEMO_CREDENTIALS  # noqa: E402
from app.sync.engine import DEFAULT_IN_FLIGHT, SyncEngine  # noqa: E402
from tests.sync_support import SANDBOX_ACTIVITY, add_activity, queue_records  # noqa: E402

TARGETS = {50.0: 500.0, 200.0: 2500.0}  # latency ms -> records/s the parallel engine must reach


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc), or None where it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


@contextmanager
def sandbox_process(scratch: Path, latency_ms: float) -> Iterator[tuple[str, int]]:
    """`parsdesk sandbox --latency MS` on a free port; yields its URL and process id."""
    activities = scratch / "activities.json"
    write_activities(activities, [SANDBOX_ACTIVITY])
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "sandbox", "--port", "0", "--board-delay", "3600",
         "--activities", str(activities), "--latency", str(latency_ms)],
        stdout=subprocess.PIPE, text=True, cwd=str(ROOT),
    )
    try:
        found = re.search(r"http://\S+", process.stdout.readline() if process.stdout else "")
        if not found:
            raise SystemExit("the sandbox process did not say where it listens")
        yield found.group(0), process.pid
    finally:
        process.terminate()
        process.wait(10)


def measure(records: int, batch_size: int, latency_ms: float, in_flight: int, office=None) -> tuple[float, float, float | None]:  # noqa: ANN001,E501
    """Records per second of one pass sending `records` queued records (from a fresh SQLite store, or
    a fresh database of the `office` PostgresServer), with the CPU seconds the pass took in this
    process and in the sandbox's (None where that cannot be read)."""
    with tempfile.TemporaryDirectory(prefix="parsdesk-bench-sync-") as folder:
        scratch = Path(folder)
        store = Store.open(office.create_database() if office is not None else scratch / "bench.sqlite3")
        activity = add_activity(store, accme_id=SANDBOX_ACTIVITY.activity_id)
        queue_records(store, activity, records)
        with sandbox_process(scratch, latency_ms) as (url, sandbox_pid):

            def make_client() -> ParsClient:
                return ParsClient(url, SANDBOX_DEMO_CREDENTIALS, timeout=60)

            with make_client() as client:
                engine = SyncEngine(store, client, batch_size=batch_size, in_flight=in_flight,
                                    client_factory=make_client)
                sandbox_before = process_cpu_seconds(sandbox_pid)
                cpu_before = time.process_time()
                started = time.perf_counter()
                report = engine.run(poll=False)
                elapsed = time.perf_counter() - started
                cpu = time.process_time() - cpu_before
                sandbox_after = process_cpu_seconds(sandbox_pid)
                engine.close()
        store.close()
    if report.sent != records or report.errors:
        raise SystemExit(f"bench pass incomplete: {report}")
    sandbox_cpu = None if sandbox_before is None or sandbox_after is None else sandbox_after - sandbox_before
    return records / elapsed, cpu, sandbox_cpu


def load_average() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def medians(records: int, batch_size: int, latency: float, in_flight: int, runs: int, office  # noqa: ANN001
            ) -> tuple[float, float, float, float | None]:
    """Median records/s of `runs` sequential and `runs` parallel passes, alternating, and the median
    CPU seconds of a parallel pass in this process and in the sandbox's."""
    sequential: list[float] = []
    parallel: list[tuple[float, float, float | None]] = []
    for _ in range(runs):
        sequential.append(measure(records, batch_size, latency, 1, office)[0])
        parallel.append(measure(records, batch_size, latency, in_flight, office))
    sandbox_cpu = [cpu for _, _, cpu in parallel if cpu is not None]
    return (
        statistics.median(sequential),
        statistics.median(rate for rate, _, _ in parallel),
        statistics.median(cpu for _, cpu, _ in parallel),
        statistics.median(sandbox_cpu) if sandbox_cpu else None,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--latency", type=float, nargs="+", default=[0.0, 50.0, 200.0], metavar="MS")
    parser.add_argument("--in-flight", type=int, default=DEFAULT_IN_FLIGHT, help="batches at PARS at once")
    parser.add_argument("--runs", type=int, default=5, help="passes per figure (the median is printed)")
    parser.add_argument("--office", action="store_true", help="also measure from a throwaway PostgreSQL office store")
    args = parser.parse_args()
    engines: list[tuple[str, object]] = [("SQLite", None)]
    server = None
    if args.office:
        sys.path.insert(0, str(ROOT / "tests"))
        from pg_support import PostgresServer

        server = PostgresServer.start(durable=True)
        engines.append(("PostgreSQL", server))
    print(f"sync bench: {args.records} records, batches of {args.batch_size}, sandbox in its own process, "
          f"median of {args.runs} run(s); {os.cpu_count()} cores, load average {load_average()} (1/5/15 min)")
    met = True
    try:
        for name, office in engines:
            print(f"  {name} store")
            print(f"  {'latency':>8}  {'sequential':>12}  {f'{args.in_flight} in flight':>12}  {'ratio':>6}  "
                  f"{'goal':>6}  target")
            for latency in args.latency:
                sequential, parallel, cpu, sandbox_cpu = medians(
                    args.records, args.batch_size, latency, args.in_flight, args.runs, office)
                target = TARGETS.get(latency)
                goal = verdict = ""
                if target is not None:
                    ok = parallel >= target
                    met = met and ok
                    goal = f"{parallel / target:.2f}x"
                    verdict = f">= {target:,.0f}/s: {'meets' if ok else 'MISSES'}"
                print(f"  {latency:>5.0f} ms  {sequential:>10,.0f}/s  {parallel:>10,.0f}/s  "
                      f"{parallel / sequential:>5.2f}x  {goal:>6}  {verdict}")
                shown = "unknown" if sandbox_cpu is None else f"{sandbox_cpu:.2f} s"
                print(f"  {'':>8}  CPU of a pass with {args.in_flight} in flight: ParsDesk {cpu:.2f} s, "
                      f"sandbox {shown} (steadier than the rate on a shared machine)")
    finally:
        if server is not None:
            server.stop()
    print(f"  load average after: {load_average()}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
