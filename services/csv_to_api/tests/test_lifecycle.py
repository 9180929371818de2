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
from csv_to_api.lifecycle import Lifecycle, ReportIncomplete
from csv_to_api.outcomes import MemoryFileStore, MemoryRowStore, RowOutcome
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


def test_a_finished_file_planned_again_sends_nothing_and_reports_the_same(s3: Any) -> None:
    # A failed execution redriven after a redriven chunk finished its file must succeed, not fail again.
    files = MemoryFileStore()
    life = Lifecycle(
        files=files, rows=MemoryRowStore(), s3=s3, results_bucket="results", read_blocks=blocks_of(b"a\n1\n")
    )
    file = ref(b"a\n1\n")
    life.plan(file, parse_feeds(None), PlannerConfig())
    files.put_chunk(file.file_id, 0, {"accepted": 1, "already_accepted": 0, "rejected": 0})
    first = life.finish(file)
    assert first.status == "completed"
    again = life.plan(file, parse_feeds(None), PlannerConfig())
    assert (again.outcome, again.chunks, again.rows) == ("done", [], 1)
    assert "already completed" in again.message
    assert life.finish(file).to_json()["counts"] == first.to_json()["counts"]
    assert files.files[file.file_id]["status"] == "completed"


class LaggingIndex(MemoryRowStore):
    """The rejects index of DynamoDB: eventually consistent, it shows a new reject only after some reads."""

    def __init__(self, reads_behind: int) -> None:
        super().__init__()
        self.reads_behind = reads_behind

    def rejects(self, file_id: str) -> Iterator[RowOutcome]:
        if self.reads_behind > 0:
            self.reads_behind -= 1
            return iter(())
        return super().rejects(file_id)


def finished_with_one_reject(s3: Any, rows: MemoryRowStore, sleeps: list[float]) -> Lifecycle:
    files = MemoryFileStore()
    life = Lifecycle(files=files, rows=rows, s3=s3, results_bucket="results", read_blocks=blocks_of(DATA),
                     report_attempts=3, sleep=sleeps.append)  # fmt: skip
    file = ref(DATA)
    plan = life.plan(file, FEEDS, PlannerConfig())
    caller = ChunkCaller(read_blocks=blocks_of(DATA), rows=rows, files=files, api=ScriptedApi(), limiter=None,
                         config=CallerConfig(concurrency=2), sleep=lambda _s: None)  # fmt: skip
    header = Header(tuple(plan.header), FEEDS.by_name("t"))
    for chunk in plan.chunks:
        caller.process(file, header, chunk, None, Deadline.never())
    return life


def test_the_report_waits_for_the_rejects_index_to_show_every_counted_reject(s3: Any) -> None:
    sleeps: list[float] = []
    life = finished_with_one_reject(s3, LaggingIndex(reads_behind=2), sleeps)
    summary = life.finish(ref(DATA))
    assert summary.status == "completed_with_rejects"
    report = json.loads(
        s3.get_object(Bucket="results", Key=f"reports/{ref(DATA).file_id}.json")["Body"].read()
    )
    assert [r["row"] for r in report["rejected"]] == [7]
    assert sleeps == [0.5, 1.0]


def test_a_report_whose_rejects_never_show_fails_so_the_step_is_retried(s3: Any) -> None:
    sleeps: list[float] = []
    life = finished_with_one_reject(s3, LaggingIndex(reads_behind=10), sleeps)
    with pytest.raises(ReportIncomplete, match="shows 0 of 1 rejected rows"):
        life.finish(ref(DATA))
    assert life.files.get(ref(DATA).file_id)["status"] == "sending"  # not final: the retry decides
