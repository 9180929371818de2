"""A chunk's rows reach the API once in effect, bad rows are reported, and a retry or a resumed
invocation sends nothing twice."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from csv_fakes import ScriptedApi, blocks_of, random_csv, ref
from csv_to_api.api import Answer, Response
from csv_to_api.caller import CallerConfig, ChunkCaller, ChunkFailed
from csv_to_api.contract import Resume
from csv_to_api.feeds import Feed
from csv_to_api.limiter import MemorySlotCounter, RateLimiter
from csv_to_api.outcomes import MemoryFileStore, MemoryRowStore
from csv_to_api.planner import PlannerConfig, plan_file
from csv_to_api.rows import parse_header

from pipelines_shared.deadline import Deadline

FAST = CallerConfig(
    concurrency=4, window_rows=16, backoff_initial=0.0, backoff_max=0.0, stop_margin_seconds=0
)


def make(
    data: bytes, api: Any, config: CallerConfig = FAST, **kwargs: Any
) -> tuple[ChunkCaller, MemoryRowStore]:
    rows = MemoryRowStore()
    caller = ChunkCaller(read_blocks=blocks_of(data, 11), rows=rows, files=MemoryFileStore(), api=api,
                         limiter=None, config=config, sleep=lambda _s: None, **kwargs)  # fmt: skip
    return caller, rows


def run_all(caller: ChunkCaller, data: bytes, chunk_bytes: int = 300) -> list[dict[str, int]]:
    file = ref(data)
    plan = plan_file(blocks_of(data), file, Feed(name="t"), PlannerConfig(chunk_bytes=chunk_bytes))
    header = parse_header(b",".join(h.encode() for h in plan.header), Feed(name="t"))
    results = []
    for chunk in plan.chunks:
        result = caller.process(file, header, chunk, None, Deadline.never())
        assert result.complete
        results.append(result.counts)
    return results


def test_every_row_reaches_the_api_once_with_its_key_and_exact_text() -> None:
    data, table = random_csv(random.Random(3), rows=150)
    api = ScriptedApi()
    caller, _ = make(data, api)
    counts = run_all(caller, data)
    assert sum(c["accepted"] for c in counts) == 150
    file_id = ref(data).file_id
    assert sorted(api.accepted) == sorted(f"{file_id}:{n}" for n in range(1, 151))
    assert [list(json.loads(api.accepted[f"{file_id}:{n}"]).values()) for n in range(1, 151)] == table


def test_a_retried_chunk_skips_rows_with_an_outcome_and_counts_them_again() -> None:
    data, _ = random_csv(random.Random(4), rows=60)
    api = ScriptedApi()
    caller, _rows = make(data, api)
    first = run_all(caller, data, chunk_bytes=10_000)
    again = run_all(caller, data, chunk_bytes=10_000)
    assert first == again == [{"accepted": 60, "already_accepted": 0, "rejected": 0}]
    assert max(api.calls.values()) == 1


def test_transient_failures_and_429s_are_retried_and_rejections_are_not() -> None:
    data = b"a,b\n" + b"".join(f"{n},x\n".encode() for n in range(1, 11))
    file_id = ref(data).file_id
    api = ScriptedApi(script={
        f"{file_id}:2": [Response(Answer.TRANSIENT, 503), Response(Answer.TRANSIENT, 0, "reset"),
                         Response(Answer.ACCEPTED, 201)],
        f"{file_id}:3": [Response(Answer.RATE_LIMITED, 429, retry_after=0.0), Response(Answer.ACCEPTED, 201)],
        f"{file_id}:4": [Response(Answer.REJECTED, 422, "bad_value: b")],
        f"{file_id}:5": [Response(Answer.ALREADY_ACCEPTED, 200)],
    })  # fmt: skip
    caller, rows = make(data, api)
    assert run_all(caller, data) == [{"accepted": 8, "already_accepted": 1, "rejected": 1}]
    assert api.calls[f"{file_id}:2"] == 3
    assert api.calls[f"{file_id}:4"] == 1
    (reject,) = rows.rejects(file_id)
    assert (reject.row, reject.reason, reject.status, reject.raw) == (4, "api_rejected", 422, "4,x")
    assert caller.stats.retried == 2
    assert caller.stats.rate_limited == 1


def test_the_outcome_metrics_count_each_row_once_over_a_failed_and_a_retried_invocation() -> None:
    data = b"a\n" + b"".join(f"{n}\n".encode() for n in range(1, 9))
    file_id = ref(data).file_id
    api = ScriptedApi(
        script={f"{file_id}:5": [Response(Answer.TRANSIENT, 500)] * 6 + [Response(Answer.ACCEPTED, 201)]}
    )
    caller, _rows = make(data, api)
    with pytest.raises(ChunkFailed):
        run_all(caller, data)
    first = dict(caller.stats.outcomes)
    caller.stats = type(caller.stats)()  # as the handler does per invocation
    run_all(caller, data)
    assert first == {"accepted": 7}
    assert dict(caller.stats.outcomes) == {"accepted": 1}  # the result's counts say 8: the chunk's total
    caller.stats = type(caller.stats)()
    run_all(caller, data)  # a redriven, already complete chunk: nothing new to count
    assert dict(caller.stats.outcomes) == {}


def test_a_row_that_keeps_failing_fails_the_chunk_after_recording_the_others() -> None:
    data = b"a\n" + b"".join(f"{n}\n".encode() for n in range(1, 9))
    file_id = ref(data).file_id
    api = ScriptedApi(script={f"{file_id}:5": [Response(Answer.TRANSIENT, 500)]})
    caller, rows = make(data, api)
    with pytest.raises(ChunkFailed, match="transient failures"):
        run_all(caller, data)
    assert len(rows.rows[file_id]) == 7
    api.script.clear()
    assert run_all(caller, data) == [{"accepted": 8, "already_accepted": 0, "rejected": 0}]
    assert api.calls[f"{file_id}:1"] == 1


def test_a_401_reads_the_token_again_once_then_fails() -> None:
    data = b"a\n1\n"
    file_id = ref(data).file_id
    refreshed = []
    api = ScriptedApi(
        script={f"{file_id}:1": [Response(Answer.UNAUTHORIZED, 401), Response(Answer.ACCEPTED, 201)]}
    )
    caller, _ = make(data, api, refresh_token=lambda: refreshed.append(1))
    assert run_all(caller, data)[0]["accepted"] == 1
    assert refreshed == [1]
    api2 = ScriptedApi(script={f"{file_id}:1": [Response(Answer.UNAUTHORIZED, 401)]})
    caller2, _ = make(data, api2)
    with pytest.raises(ChunkFailed, match="freshly read token"):
        run_all(caller2, data)


def test_an_invocation_near_its_deadline_stops_and_the_next_resumes_where_it_stopped() -> None:
    data, _ = random_csv(random.Random(5), rows=100)
    api = ScriptedApi()
    caller, _ = make(data, api, config=CallerConfig(concurrency=2, window_rows=10, stop_margin_seconds=5))
    file = ref(data)
    plan = plan_file(blocks_of(data), file, Feed(name="t"), PlannerConfig(chunk_bytes=1 << 20))
    header = parse_header(b"col0,col1,col2,col3", Feed(name="t"))
    (chunk,) = plan.chunks
    ticks = iter([100.0, 100.0, 100.0, 0.0])
    deadline = Deadline(at=10.0, monotonic=lambda: 10.0 - next(ticks, 0.0))
    result = caller.process(file, header, chunk, None, deadline)
    assert not result.complete
    assert result.resume == Resume(result.resume.offset, 31)  # type: ignore[union-attr]
    assert len(api.accepted) == 30
    final = caller.process(file, header, chunk, result.resume, Deadline.never())
    assert final.complete
    assert final.counts == {"accepted": 100, "already_accepted": 0, "rejected": 0}
    assert max(api.calls.values()) == 1


def test_with_a_limiter_every_attempt_takes_a_send_time() -> None:
    data = b"a\n" + b"".join(f"{n}\n".encode() for n in range(1, 21))
    api = ScriptedApi()
    now = [0.0]
    limiter = RateLimiter(MemorySlotCounter(), 1000, clock=lambda: now[0], sleep=lambda s: None)
    caller = ChunkCaller(read_blocks=blocks_of(data), rows=MemoryRowStore(), files=MemoryFileStore(), api=api,
                         limiter=limiter, config=FAST, sleep=lambda _s: None)  # fmt: skip
    run_all(caller, data)
    counter = limiter._counter
    assert isinstance(counter, MemorySlotCounter)
    assert sum(counter.counters.values()) >= 20
