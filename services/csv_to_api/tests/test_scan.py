"""Row boundaries found on bytes match what a CSV reader sees, wherever blocks and chunks are cut."""

from __future__ import annotations

import csv
import io
import random

import pytest
from csv_fakes import blocks_of, random_csv, ref
from csv_to_api.feeds import Feed
from csv_to_api.planner import PlannerConfig, plan_file
from csv_to_api.scan import RowCounter, records, row_ends


def test_row_ends_skip_line_breaks_inside_quotes() -> None:
    data = b'a,"b\nc"\nd,"e""\nf"\n'
    ends, in_quotes = row_ends(data, False)
    assert [data[: e + 1] for e in ends][-1] == data
    assert len(ends) == 2
    assert not in_quotes


def test_records_carry_offsets_and_strip_cr() -> None:
    data = b'x,y\r\n"1\r\n2",3\r\nlast,row'
    found = list(records(blocks_of(data, 3)(ref(data), 0, len(data)), 0))
    assert [r.data for r in found] == [b"x,y", b'"1\r\n2",3', b"last,row"]
    assert [r.offset for r in found] == [0, 5, 15]
    assert [r.terminated for r in found] == [True, True, False]


def test_an_unterminated_quote_makes_every_line_after_it_its_own_rejected_row() -> None:
    data = b'ok,1\nbad,"open\nnext,2\nlast,3\n'
    found = list(records(iter([data]), 0))
    assert [r.data for r in found] == [b"ok,1", b'bad,"open', b"next,2", b"last,3"]
    assert [r.unterminated_quote for r in found] == [False, True, True, True]
    counter = RowCounter()
    counter.feed(data, None, lambda *_: None)
    assert counter.rows + counter.tail_rows() == 4


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("crlf", [False, True])
def test_chunks_cut_at_true_row_boundaries_and_hold_every_row_once(seed: int, crlf: bool) -> None:
    rng = random.Random(seed)
    data, table = random_csv(rng, rows=rng.randrange(1, 120), crlf=crlf)
    if rng.random() < 0.5:
        data = data.rstrip(b"\r\n")  # a last row without a line break
    plan = plan_file(blocks_of(data, rng.randrange(1, 40)), ref(data), Feed(name="t"),
                     PlannerConfig(chunk_bytes=rng.randrange(1, 200), block_bytes=16))  # fmt: skip
    assert plan.outcome == "send"
    assert plan.rows == len(table)
    seen: list[list[str]] = []
    for chunk in plan.chunks:
        part = list(records(blocks_of(data, 5)(ref(data), chunk.start, chunk.end), chunk.start))
        assert len(part) == chunk.rows
        assert seen.__len__() + 1 == chunk.first_row
        for record in part:
            seen.extend(csv.reader(io.StringIO(record.data.decode(), newline=""), strict=True))
    assert seen == table
    assert plan.chunks[0].start == data.index(b"\n") + 1
    assert plan.chunks[-1].end == len(data)


def test_many_small_chunks_have_staggered_starts_for_the_first_wave_only() -> None:
    data, _ = random_csv(random.Random(1), rows=200)
    plan = plan_file(blocks_of(data, 64), ref(data), Feed(name="t"),
                     PlannerConfig(chunk_bytes=100, max_concurrency=3, stagger_seconds=2))  # fmt: skip
    assert [c.wait_seconds for c in plan.chunks[:5]] == [0, 2, 4, 0, 0]


def test_max_chunks_caps_the_map_by_growing_chunks() -> None:
    data, _ = random_csv(random.Random(2), rows=500)
    plan = plan_file(
        blocks_of(data, 256), ref(data), Feed(name="t"), PlannerConfig(chunk_bytes=10, max_chunks=7)
    )
    assert len(plan.chunks) <= 7
    assert sum(c.rows for c in plan.chunks) == 500


@pytest.mark.parametrize(
    ("data", "outcome", "reason"),
    [
        (b"", "empty", ""),
        (b"a,b\n", "empty", ""),
        (b"a,b", "empty", ""),
        (b"\xef\xbb\xbfa,b\n1,2\n", "send", ""),
        (b"a,a\n1,2\n", "rejected", "header_duplicate"),
        (b"a,,b\n1,2,3\n", "rejected", "header_empty_name"),
        (b"\n1,2\n", "rejected", "header_missing"),
    ],
)
def test_header_outcomes(data: bytes, outcome: str, reason: str) -> None:
    plan = plan_file(blocks_of(data), ref(data), Feed(name="t"))
    assert (plan.outcome, plan.reason) == (outcome, reason)
    if outcome == "send":
        assert plan.header == ["a", "b"]
