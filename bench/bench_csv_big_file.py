"""CSV to API: a 1 GB file through each function's code path within its memory setting (peak RSS).

    .venv/bin/python bench/bench_csv_big_file.py [--mb 1024] [--chunk-mb 32] [--rejects 200000]

A partner's 1 GB CSV (quoted fields with commas, doubled quotes and line breaks; CRLF) is written to a
temporary file. Each step then runs in a fresh Python process, as a Lambda invocation would, reading
the file through the same block reader the functions use on S3 (ranged reads of ``block_bytes``), and
reports its wall time and its peak resident memory (``ru_maxrss``, interpreter and imports included):

- **plan** (csv-file-planner): header, row count and chunk boundaries in one streaming pass over 1 GB;
- **call** (csv-api-caller): one chunk of ``--chunk-mb`` (32 times the module's default chunk) parsed,
  validated and sent through the caller's thread pool to an API that accepts at once (the HTTP path is
  measured by bench_csv_api.py); row outcomes are counted, not kept;
- **report** (the report step): a report with ``--rejects`` rejected rows of 1 KiB each, streamed.

Each peak is compared with the function's ``memory_size`` in terraform/modules/csv_to_api (512 MB for the
planner and the caller). A whole 1 GB file through the API at R = 300 requests/s would take ~10 hours:
the memory bound is per chunk, so the chunk is what is measured. Last line:
``csv_big_file mb=<n> plan_mb_per_s=<x> plan_peak_rss_mb=<p> call_peak_rss_mb=<c> report_peak_rss_mb=<r>``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for folder in ("tools", "shared", "services/csv_to_api"):
    sys.path.insert(0, str(REPO / folder))

MEMORY_SIZE_MB = {"plan": 512, "call": 512, "report": 512}
"""terraform/modules/csv_to_api/variables.tf: planner.memory_size, caller.memory_size; the report runs in
the planner (and, for a redriven chunk, in the caller)."""
HEADER = b"order_id,customer,amount,email,note\r\n"


def write_file(path: Path, megabytes: int) -> int:
    """About ``megabytes`` MiB of CSV: one generated block of 10,000 rows, written again and again (the
    bytes a reader sees are what matters; generating every row would take minutes); returns its data rows."""
    lines = []
    for row in range(1, 10_001):
        note = f'"line one\r\nline two, ""{row}"""' if row % 50 == 0 else f"n{row % 1000}"
        lines.append(f"{row},customer-{row % 97},{row % 9999}.{row % 100:02d},c{row}@example.com,{note}\r\n")
    block = "".join(lines).encode()
    blocks = max(1, ((megabytes << 20) - len(HEADER)) // len(block) + 1)
    with path.open("wb") as out:
        out.write(HEADER)
        for _ in range(blocks):
            out.write(block)
    return blocks * 10_000


def file_blocks(path: Path, block_bytes: int) -> Any:
    """A block reader like csv_to_api.caller.s3_blocks: bytes [start, end), one read per block."""

    def read(_file: Any, start: int, end: int) -> Iterator[bytes]:
        with path.open("rb") as handle:
            handle.seek(start)
            position = start
            while position < end:
                data = handle.read(min(block_bytes, end - position))
                if not data:
                    raise ValueError(f"short read at {position}")
                position += len(data)
                yield data

    return read


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------- steps (child processes)


def step_plan(path: Path, chunk_mb: int) -> dict[str, Any]:
    from csv_to_api.contract import FileRef
    from csv_to_api.feeds import Feed
    from csv_to_api.planner import PlannerConfig, plan_file

    config = PlannerConfig()
    file = FileRef(bucket="bench", key="incoming/big.csv", etag="e", size=path.stat().st_size)
    began = time.perf_counter()
    plan = plan_file(file_blocks(path, config.block_bytes), file, Feed(name="bench"), config)
    seconds = time.perf_counter() - began
    largest = max(plan.chunks, key=lambda chunk: chunk.end - chunk.start)
    return {"seconds": seconds, "rows": plan.rows, "chunks": len(plan.chunks),
            "largest_chunk_bytes": largest.end - largest.start}  # fmt: skip


class NullApi:
    def post(self, idempotency_key: str, body: bytes, *, before_send: Any = None) -> Any:
        from csv_to_api.api import Answer, Response

        if before_send is not None:
            before_send()

        return Response(Answer.ACCEPTED, 201)


class CountingRowStore:
    """Counts outcomes instead of keeping them (DynamoDB keeps them in the function)."""

    def __init__(self) -> None:
        self.recorded = 0

    def outcomes(self, file_id: str, first_row: int, last_row: int) -> dict[int, Any]:
        return {}

    def record(self, file_id: str, outcomes: Iterable[Any]) -> None:
        self.recorded += sum(1 for _ in outcomes)

    def rejects(self, file_id: str) -> Iterator[Any]:
        return iter(())


def step_call(path: Path, chunk_mb: int) -> dict[str, Any]:
    from csv_to_api.caller import CallerConfig, ChunkCaller
    from csv_to_api.contract import FileRef
    from csv_to_api.feeds import Feed
    from csv_to_api.outcomes import MemoryFileStore
    from csv_to_api.planner import PlannerConfig, plan_file
    from csv_to_api.rows import parse_header

    from pipelines_shared.deadline import Deadline

    config = CallerConfig()
    size = min(path.stat().st_size, len(HEADER) + (chunk_mb << 20))
    file = FileRef(bucket="bench", key="incoming/big.csv", etag="e", size=size)
    read = file_blocks(path, config.block_bytes)
    # One chunk of the first chunk_mb MiB, cut at a row boundary by the planner itself.
    plan = plan_file(read, file, Feed(name="bench"), PlannerConfig(chunk_bytes=size, max_chunks=1))
    (chunk,) = plan.chunks
    header = parse_header(HEADER.strip(), Feed(name="bench"))
    rows = CountingRowStore()
    caller = ChunkCaller(read_blocks=read, rows=rows, files=MemoryFileStore(), api=NullApi(), limiter=None,
                         config=config)  # fmt: skip
    began = time.perf_counter()
    result = caller.process(file, header, chunk, None, Deadline.never())
    seconds = time.perf_counter() - began
    assert result.complete, result
    assert rows.recorded == chunk.rows, (rows.recorded, chunk.rows)
    return {"seconds": seconds, "rows": chunk.rows, "chunk_bytes": chunk.end - chunk.start}


def step_report(path: Path, rejects: int) -> dict[str, Any]:
    from csv_to_api.contract import FileRef
    from csv_to_api.outcomes import Outcome, RowOutcome
    from csv_to_api.report import summarize, write_report

    class SizingS3:
        uploaded = 0

        def upload_file(self, filename: str, bucket: str, key: str, ExtraArgs: Any = None) -> None:
            SizingS3.uploaded += os.path.getsize(filename)

    raw = "x" * 1024

    def outcomes() -> Iterator[RowOutcome]:
        for row in range(1, rejects + 1):
            yield RowOutcome(row, Outcome.REJECTED, "invalid_type", "amount: not a decimal", raw)

    file = FileRef(bucket="bench", key="incoming/big.csv", etag="e", size=1)
    summary = summarize(plan_outcome="send", rows=rejects, chunk_count=1,
                        chunks={0: {"accepted": 0, "already_accepted": 0, "rejected": rejects}})  # fmt: skip
    began = time.perf_counter()
    _, _, reasons = write_report(SizingS3(), "results", file, feed="bench", header=["a"], summary=summary,
                                 rejects=outcomes(), timings={})  # fmt: skip
    assert reasons == {"invalid_type": rejects}
    return {"seconds": time.perf_counter() - began, "rejects": rejects, "report_bytes": SizingS3.uploaded}


STEPS = {"plan": step_plan, "call": step_call, "report": step_report}


def run_step(name: str, path: Path, argument: int) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, __file__, "--step", name, "--path", str(path), "--argument", str(argument)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=int, default=1024)
    parser.add_argument("--chunk-mb", type=int, default=32)
    parser.add_argument("--rejects", type=int, default=200_000)
    parser.add_argument("--step", choices=sorted(STEPS), help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--argument", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:  # a child: one step, then its result and peak memory as one JSON line
        from pipelines_shared.log import configure_logging

        configure_logging(level="WARNING")
        result = STEPS[args.step](args.path, args.argument)
        print(json.dumps(result | {"peak_rss_mb": round(peak_rss_mb(), 1)}))
        return 0

    with tempfile.TemporaryDirectory(prefix="csv-big-") as folder:
        path = Path(folder) / "big.csv"
        began = time.perf_counter()
        rows = write_file(path, args.mb)
        size = path.stat().st_size
        took = time.perf_counter() - began
        print(f"wrote {size / 2**20:.0f} MiB, {rows:,} rows (every 50th with a quoted CRLF, a comma and "
              f"quotes) in {took:.0f}s", flush=True)  # fmt: skip
        results = {
            "plan": run_step("plan", path, args.chunk_mb),
            "call": run_step("call", path, args.chunk_mb),
            "report": run_step("report", path, args.rejects),
        }
    plan, call, report = results["plan"], results["call"], results["report"]
    assert plan["rows"] == rows, f"the plan counted {plan['rows']} rows, the file has {rows}"
    plan_rate = size / 2**20 / plan["seconds"]
    print(f"{'step':<8} {'work':<52} {'seconds':>8} {'peak RSS':>9} {'memory_size':>12}")
    work = {
        "plan": f"{plan['rows']:,} rows, {plan['chunks']} chunks ({plan_rate:.0f} MiB/s)",
        "call": f"one {call['chunk_bytes'] / 2**20:.0f} MiB chunk, {call['rows']:,} rows "
        f"({call['rows'] / call['seconds']:,.0f} rows/s)",
        "report": f"{report['rejects']:,} rejects, {report['report_bytes'] / 2**20:.0f} MiB of report",
    }
    for name, result in results.items():
        print(f"{name:<8} {work[name]:<52} {result['seconds']:>8.1f} {result['peak_rss_mb']:>7.0f}MB "
              f"{MEMORY_SIZE_MB[name]:>10}MB")  # fmt: skip
        assert result["peak_rss_mb"] < MEMORY_SIZE_MB[name], f"{name} over its memory setting"
    peaks = " ".join(f"{name}_peak_rss_mb={result['peak_rss_mb']:.0f}" for name, result in results.items())
    print(f"csv_big_file mb={size >> 20} plan_mb_per_s={plan_rate:.1f} {peaks}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
