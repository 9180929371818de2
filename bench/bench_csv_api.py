"""CSV to API: the shared limit through the deployed graph, and one caller against the usual loops.

    .venv/bin/python bench/bench_csv_api.py [--files 20] [--rows 5000] [--rate 200] [--caller-rows 2000]
                                            [--skip-graph]

1. **The graph** (local stack, started and deployed if needed, the local root applied with
   ``csv_rate_limit = --rate`` and the module's default ``csv_rate_utilization = 0.96``): three drops,
   each of files put at once into the upload bucket: one file
   of ``--rows`` rows, 4 files of ``--rows / 2``, and ``--files`` files of ``--rows``. The fake records
   API (limit R = ``--rate``, no faults) logs every request's arrival. Reported per drop: the delivered
   rate over the steady part (from the 10th to the 90th percentile of arrivals), the most requests in any
   one-second window (must be <= R), requests the API refused for its limit, that every row arrived once
   (nothing lost, nothing duplicated), and the chunks in flight (a chunk from its first request to its
   last): more files queued, more chunks at once, up to each file's Map MaxConcurrency and, over all
   files, the caller's reserved concurrency. Last line of this part:
   ``csv_api rows_per_s=<n> limit=<r> max_window=<m> chunks_in_flight=<one>/<four>/<all>``.
2. **One caller invocation** (in process, limiter off) sending ``--caller-rows`` rows to the fake API in a
   subprocess, against what a first version usually does: a naive loop opening a new connection per row
   (``http.client``), and a sequential loop on one kept-alive urllib3 connection. Every method sends the
   same bodies; the fake's record count is checked after each. Last line:
   ``csv_caller rows_per_s=<n> ratio_vs_naive=<x> ratio_vs_keepalive=<y>``.
"""

from __future__ import annotations

import argparse
import bisect
import http.client
import io
import json
import math
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
for folder in ("tools", "shared", "services/csv_to_api"):
    sys.path.insert(0, str(REPO / folder))

import urllib3  # noqa: E402
from csv_to_api.api import RecordsApi  # noqa: E402
from csv_to_api.caller import CallerConfig, ChunkCaller  # noqa: E402
from csv_to_api.contract import FileRef, make_file_id  # noqa: E402
from csv_to_api.feeds import Feed  # noqa: E402
from csv_to_api.outcomes import MemoryFileStore, MemoryRowStore  # noqa: E402
from csv_to_api.planner import PlannerConfig, plan_file  # noqa: E402
from csv_to_api.rows import Header, check_row  # noqa: E402
from csv_to_api.scan import records  # noqa: E402

from fake_records_api import busiest_second  # noqa: E402
from pipelines_shared.deadline import Deadline  # noqa: E402
from pipelines_shared.log import configure_logging  # noqa: E402

LATENCY_S = 0.02
UTILIZATION = "0.96"
"""The limiter's share of R in the graph: the module's default, what every AWS root runs (the local root
runs 0.9 for its tests, whose every second is checked against R on a busy 2-CPU emulator)."""
HTTP = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=3, read=30))


def sample(rows: int, seed: int) -> bytes:
    out = io.StringIO(newline="")
    out.write("order_id,customer,amount,email,note\r\n")
    for row in range(1, rows + 1):
        order_id = seed * 1_000_000 + row
        out.write(f'{order_id},customer-{row % 97},{row}.{row % 100:02d},c{row}@example.com,"n, {row}"\r\n')
    return out.getvalue().encode()


def control(url: str, path: str, body: Any = None) -> Any:
    method = "GET" if body is None else "POST"
    response = HTTP.request(method, url + path, body=None if body is None else json.dumps(body).encode())
    assert response.status == 200, response.data
    return json.loads(response.data)


# ------------------------------------------------------------------------------------------- 1. graph


LOCAL_CHUNK_BYTES = 65536
"""chunk_bytes of the local root (terraform/environments/local/main.tf): the bench cuts each file as the
planner does to know which chunk each request belongs to (checked against each file's chunk_count)."""


def chunk_of_row(body: bytes, chunk_bytes: int) -> list[int]:
    """first_row of each chunk, as the planner cuts the file."""
    file = FileRef(bucket="bench", key="incoming/x.csv", etag="e", size=len(body))

    def read(_file: FileRef, start: int, end: int) -> Any:
        yield body[start:end]

    plan = plan_file(read, file, Feed(name="bench"), PlannerConfig(chunk_bytes=chunk_bytes))
    return [chunk.first_row for chunk in plan.chunks]


def in_flight(
    requests: list[dict[str, Any]], firsts: dict[str, list[int]], start: float, end: float
) -> list[int]:
    """Chunks in flight in each second from ``start`` to ``end``: a chunk is in flight from its first
    request's arrival to its last one's."""
    spans: dict[tuple[str, int], list[float]] = {}
    for request in requests:
        file_id, row = request["key"].rsplit(":", 1)
        chunk = bisect.bisect_right(firsts[file_id], int(row)) - 1
        span = spans.setdefault((file_id, chunk), [request["t"], request["t"]])
        span[0], span[1] = min(span[0], request["t"]), max(span[1], request["t"])
    seconds = range(math.floor(start), math.ceil(end))
    return [
        sum(1 for low, high in spans.values() if low < second + 1 and high >= second) for second in seconds
    ]


def run_files(pipeline: dict[str, Any], files: int, rows: int, rate: int) -> dict[str, Any]:
    """Drop ``files`` files of ``rows`` rows at once; wait until each is final; measure at the fake API."""
    import boto3

    api = pipeline["records_api_url"]
    control(api, "/_reset", {"rate_limit": rate})
    s3 = boto3.client("s3")
    run = uuid.uuid4().hex[:8]
    bodies = {
        f"{pipeline['incoming_prefix']}bench/{run}/f{i:02d}.csv": sample(rows, i + 1) for i in range(files)
    }
    started = time.time()
    ids, firsts = {}, {}
    for key, body in bodies.items():
        put = s3.put_object(Bucket=pipeline["upload_bucket"], Key=key, Body=body)
        ids[key] = make_file_id(pipeline["upload_bucket"], key, put["ETag"])
        firsts[ids[key]] = chunk_of_row(body, LOCAL_CHUNK_BYTES)
    dynamodb = boto3.client("dynamodb")
    deadline = time.monotonic() + 60 + 3 * files * rows / rate
    records: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline and len(records) < len(ids):
        for file_id in set(ids.values()) - set(records):
            key = {"file_id": {"S": file_id}, "part": {"S": "file"}}
            item = dynamodb.get_item(TableName=pipeline["file_table"], Key=key, ConsistentRead=True).get(
                "Item"
            )
            if item and item["status"]["S"] in ("completed", "completed_with_rejects", "failed"):
                records[file_id] = item
        time.sleep(1)
    finished = time.time()
    assert len(records) == len(ids), f"{len(ids) - len(records)} files did not finish in time"
    for file_id, item in records.items():
        assert item["status"]["S"] == "completed", (file_id, item["status"])
        assert int(item["chunk_count"]["N"]) == len(firsts[file_id]), "the local root's chunk_bytes changed"
    requests = [r for r in control(api, "/_requests")["requests"] if r["t"] >= started]
    accepted = control(api, "/_records")["records"]
    keys = [r["key"] for r in accepted if r["key"].split(":")[0] in firsts]
    expected = {f"{file_id}:{row}" for file_id in firsts for row in range(1, rows + 1)}
    times = sorted(r["t"] for r in requests)
    steady = times[len(times) // 10 : len(times) * 9 // 10]
    flight = in_flight(requests, firsts, steady[0], steady[-1])
    return {
        "files": files, "rows": rows, "requests": len(requests), "seconds": finished - started,
        "steady_rate": (len(steady) - 1) / (steady[-1] - steady[0]), "busiest": busiest_second(times),
        "lost": len(expected - set(keys)), "duplicated": len(keys) - len(set(keys)),
        "refused": control(api, "/_stats")["rate_limited"],
        "in_flight_peak": max(flight), "in_flight_mean": sum(flight) / len(flight),
    }  # fmt: skip


def bench_graph(files: int, rows: int, rate: int) -> None:
    from devstack import stack, terraform

    stack.start_all(progress=True)
    os.environ.update(stack.stack_env())
    print(f"==> terraform apply (local root, csv_rate_limit={rate}, csv_rate_utilization={UTILIZATION})",
          flush=True)  # fmt: skip
    overrides = {"csv_rate_limit": str(rate), "csv_rate_utilization": UTILIZATION}
    terraform.apply(capture=True, overrides=overrides)
    pipeline = terraform.outputs()["csv_to_api"]
    # More files queued at once, more chunks in flight: up to each file's Map MaxConcurrency, and over all
    # files up to the caller's reserved concurrency, while the rate stays at the one shared limit.
    scenarios = [(1, rows), (4, rows // 2), (files, rows)]
    results = [run_files(pipeline, n, r, rate) for n, r in scenarios]
    print(f"limit R = {rate} requests/s; chunks of {LOCAL_CHUNK_BYTES // 1024} KiB; steady = 10th to 90th "
          "percentile of arrivals; in flight = chunks between their first and last request")  # fmt: skip
    columns = ("files x rows", "requests", "end to end", "steady/s", "of R", "busiest 1 s", "refused",
               "lost", "dup", "in flight peak", "mean")  # fmt: skip
    print(" | ".join(columns))
    for r in results:
        cells = (f"{r['files']} x {r['rows']}", r["requests"], f"{r['seconds']:.0f} s",
                 f"{r['steady_rate']:.1f}", f"{r['steady_rate'] / rate:.3f}", r["busiest"], r["refused"],
                 r["lost"], r["duplicated"], r["in_flight_peak"], f"{r['in_flight_mean']:.1f}")  # fmt: skip
        print(" | ".join(str(cell) for cell in cells))
    last = results[-1]
    print(f"csv_api rows_per_s={last['steady_rate']:.1f} limit={rate} max_window={last['busiest']} "
          f"chunks_in_flight={'/'.join(str(r['in_flight_peak']) for r in results)}", flush=True)  # fmt: skip


# ------------------------------------------------------------------------------------------ 2. caller


def start_fake() -> tuple[subprocess.Popen[str], str, str]:
    token = uuid.uuid4().hex
    env = dict(os.environ, PYTHONPATH=str(REPO / "tools"))
    process = subprocess.Popen(
        [sys.executable, "-m", "fake_records_api", "--port", "0", "--token", token],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    return process, process.stdout.readline().strip(), token


def bench_caller(rows: int, concurrency: int) -> None:
    process, url, token = start_fake()
    # Every answer takes LATENCY_S, as a partner's API across the internet does (loopback answers in
    # ~1 ms, where the loop's own overhead would be all that is measured).
    control(url, "/_faults", {"slow_rate": 1.0, "slow_seconds": LATENCY_S, "max_faults_per_key": 1})
    try:
        data = sample(rows, 9)
        feed = Feed(name="bench")
        header = Header(("order_id", "customer", "amount", "email", "note"), feed)
        bodies = []
        for record in records(iter([data[data.index(b"\n") + 1 :]]), 0):
            body = check_row(header, record)
            assert isinstance(body, bytes)
            bodies.append(body)
        results: dict[str, float] = {}

        def check(name: str, file_id: str) -> None:
            got = sum(1 for r in control(url, "/_records")["records"] if r["key"].startswith(file_id + ":"))
            assert got == rows, f"{name}: {got} of {rows} rows arrived"

        # ours: one caller invocation over the whole file, limiter off
        def read(_file: FileRef, start: int, end: int) -> Any:
            yield data[start:end]

        file = FileRef(bucket="bench", key="bench.csv", etag=uuid.uuid4().hex, size=len(data))
        (chunk,) = plan_file(read, file, feed, PlannerConfig(chunk_bytes=len(data))).chunks
        caller = ChunkCaller(read_blocks=read, rows=MemoryRowStore(), files=MemoryFileStore(),
                             api=RecordsApi(url, token_provider=lambda: token, connections=concurrency),
                             limiter=None, config=CallerConfig(concurrency=concurrency))  # fmt: skip
        began = time.perf_counter()
        result = caller.process(file, header, chunk, None, Deadline.never())
        results["ours"] = rows / (time.perf_counter() - began)
        assert result.counts["accepted"] == rows
        check("ours", file.file_id)

        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        parts = urlsplit(url)
        naive_id = uuid.uuid4().hex
        began = time.perf_counter()
        for row, body in enumerate(bodies, 1):  # a new connection per row
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            connection.request(
                "POST", "/v1/records", body, headers | {"Idempotency-Key": f"{naive_id}:{row}"}
            )
            assert connection.getresponse().status == 201
            connection.close()
        results["naive"] = rows / (time.perf_counter() - began)
        check("naive", naive_id)

        pool = urllib3.HTTPConnectionPool(parts.hostname, parts.port, maxsize=1, retries=False)
        keep_id = uuid.uuid4().hex
        began = time.perf_counter()
        for row, body in enumerate(bodies, 1):  # one kept-alive connection, one row at a time
            response = pool.urlopen("POST", "/v1/records", body=body,
                                    headers=headers | {"Idempotency-Key": f"{keep_id}:{row}"})  # fmt: skip
            assert response.status == 201
        results["keepalive"] = rows / (time.perf_counter() - began)
        check("keepalive", keep_id)
    finally:
        process.terminate()
        process.wait(10)
    ours = results["ours"]
    print(f"{'method':<44} {'rows/s':>9} {'ours is':>8}")
    labels = {
        "ours": f"csv-api-caller ({concurrency} in flight, kept alive)",
        "naive": "naive loop (new connection per row)",
        "keepalive": "sequential loop, one kept-alive connection",
    }
    for name, label in labels.items():
        print(f"{label:<44} {results[name]:>9.1f} {ours / results[name]:>7.2f}x")
    print(
        f"every answer delayed {LATENCY_S * 1000:.0f} ms; every method's {rows} rows checked at the fake API"
    )
    print(f"csv_caller rows_per_s={ours:.1f} ratio_vs_naive={ours / results['naive']:.1f} "
          f"ratio_vs_keepalive={ours / results['keepalive']:.2f}", flush=True)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--caller-rows", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16, help="the caller's requests in flight")
    parser.add_argument("--skip-graph", action="store_true", help="only the in-process caller comparison")
    args = parser.parse_args()
    configure_logging(level="WARNING")
    if not args.skip_graph:
        bench_graph(args.files, args.rows, args.rate)
    bench_caller(args.caller_rows, args.concurrency)
    return 0


if __name__ == "__main__":
    sys.exit(main())
