"""A file's status and report follow its chunks: a missing chunk fails the file, the same file finished
again after a redrive completes it, and the report accounts for every row."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from csv_fakes import ScriptedApi, blocks_of, ref
from csv_to_api.caller import CallerConfig, ChunkCaller
from csv_to_api.feeds import parse_feeds
from csv_to_api.lifecycle import Lifecycle
from csv_to_api.outcomes import MemoryFileStore, MemoryRowStore, TransitionRefused
from csv_to_api.planner import PlannerConfig
from csv_to_api.rows import Header
from moto import mock_aws

from pipelines_shared.deadline import Deadline

DATA = b"a,b\n" + b"".join(f"{n},{'x' if n != 7 else ''}\n".encode() for n in range(1, 41))
FEEDS = parse_feeds({"feeds": [{"name": "t", "prefix": "incoming/", "columns": [
    {"name": "a", "type": "integer"}, {"name": "b", "required": True}]}]})  # fmt: skip


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="results")
        yield client


def test_a_file_fails_with_a_missing_chunk_and_completes_once_it_is_redriven(s3: Any) -> None:
    files, rows = MemoryFileStore(), MemoryRowStore()
    life = Lifecycle(files=files, rows=rows, s3=s3, results_bucket="results", read_blocks=blocks_of(DATA))
    file = ref(DATA)
    assert life.receive(file, file.file_id)
    assert not life.receive(file, file.file_id)  # a duplicate event
    plan = life.plan(file, FEEDS, PlannerConfig(chunk_bytes=50))
    assert plan.rows == 40
    assert len(plan.chunks) > 2
    caller = ChunkCaller(read_blocks=blocks_of(DATA), rows=rows, files=files, api=ScriptedApi(), limiter=None,
                         config=CallerConfig(concurrency=2), sleep=lambda _s: None)  # fmt: skip
    header = Header(tuple(plan.header), FEEDS.by_name("t"))
    for chunk in plan.chunks[1:]:  # the first chunk gave up: parked in the DLQ
        caller.process(file, header, chunk, None, Deadline.never())
    summary = life.finish(file)
    assert (summary.status, summary.reason, summary.missing_chunks) == ("failed", "chunks_failed", (0,))
    caller.process(file, header, plan.chunks[0], None, Deadline.never())  # the redrive
    summary = life.finish(file)
    assert (summary.status, summary.reason) == ("completed_with_rejects", "")
    report = json.loads(s3.get_object(Bucket="results", Key=f"reports/{file.file_id}.json")["Body"].read())
    assert report["counts"] == {"accepted": 39, "already_accepted": 0, "rejected": 1}
    assert [(r["row"], r["reason"]) for r in report["rejected"]] == [(7, "missing_required")]
    assert report["rejects_by_reason"] == {"missing_required": 1}
    assert files.get(file.file_id)["status"] == "completed_with_rejects"  # type: ignore[index]


def test_a_rejected_header_fails_the_file_and_sends_nothing(s3: Any) -> None:
    data = b"a,c\n1,2\n"
    files = MemoryFileStore()
    life = Lifecycle(
        files=files, rows=MemoryRowStore(), s3=s3, results_bucket="results", read_blocks=blocks_of(data)
    )
    file = ref(data)
    plan = life.plan(file, FEEDS, PlannerConfig())
    assert (plan.outcome, plan.reason, plan.chunks) == ("rejected", "header_mismatch", [])
    summary = life.finish(file)
    assert (summary.status, summary.reason) == ("failed", "header_mismatch")


def test_an_empty_file_completes_with_no_rows(s3: Any) -> None:
    life = Lifecycle(files=MemoryFileStore(), rows=MemoryRowStore(), s3=s3, results_bucket="results",
                     read_blocks=blocks_of(b"a,b\n"))  # fmt: skip
    file = ref(b"a,b\n")
    assert life.plan(file, FEEDS, PlannerConfig()).outcome == "empty"
    summary = life.finish(file)
    assert (summary.status, summary.rows) == ("completed", 0)


def test_a_finished_file_cannot_be_planned_again_by_a_stray_execution(s3: Any) -> None:
    files = MemoryFileStore()
    life = Lifecycle(
        files=files, rows=MemoryRowStore(), s3=s3, results_bucket="results", read_blocks=blocks_of(b"a\n1\n")
    )
    file = ref(b"a\n1\n")
    life.plan(file, parse_feeds(None), PlannerConfig())
    files.files[file.file_id]["status"] = "completed"
    with pytest.raises(TransitionRefused):
        life.plan(file, parse_feeds(None), PlannerConfig())
