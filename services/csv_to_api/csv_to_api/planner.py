"""Plan a file: read its header, count its rows and cut it into chunks at true row boundaries, in one
streaming pass (bounded memory whatever the size)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from csv_to_api.contract import Chunk, FileRef
from csv_to_api.feeds import Feed
from csv_to_api.rows import HeaderError, parse_header
from csv_to_api.scan import RowCounter, row_ends

MAX_HEADER_BYTES = 1 << 20


@dataclass(frozen=True)
class PlannerConfig:
    chunk_bytes: int = 1 << 20
    max_chunks: int = 1000
    """Caps the Map's items (and the state's payload); larger files get larger chunks."""
    block_bytes: int = 4 << 20
    max_concurrency: int = 4
    stagger_seconds: int = 1


@dataclass
class Plan:
    file: FileRef
    feed: str
    outcome: str
    """``send`` (chunks to send), ``empty`` (no data rows), ``rejected`` (the header is wrong) or ``done``
    (the file finished before: a redriven execution has nothing to send)."""
    header: list[str] = field(default_factory=list)
    rows: int = 0
    chunks: list[Chunk] = field(default_factory=list)
    reason: str = ""
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file.to_json(),
            "feed": self.feed,
            "outcome": self.outcome,
            "header": self.header,
            "rows": self.rows,
            "chunks": [chunk.to_json() for chunk in self.chunks],
            "reason": self.reason,
            "message": self.message,
        }


def plan_file(
    read_blocks: Callable[[FileRef, int, int], Iterator[bytes]],
    file: FileRef,
    feed: Feed,
    config: PlannerConfig = PlannerConfig(),
) -> Plan:
    plan = Plan(file=file, feed=feed.name, outcome="empty")
    if file.size == 0:
        plan.message = "the file is empty"
        return plan
    blocks = read_blocks(file, 0, file.size)
    head = b""
    header_end = -1
    for block in blocks:
        head += block
        ends, _ = row_ends(head, False)
        if ends:
            header_end = ends[0] + 1
            break
        if len(head) > MAX_HEADER_BYTES:
            break
    header_bytes = head[:header_end] if header_end > 0 else head
    if header_end < 0 and len(head) > MAX_HEADER_BYTES:
        plan.outcome, plan.reason = "rejected", "header_invalid"
        plan.message = f"no header row end within the first {MAX_HEADER_BYTES} bytes"
        return plan
    try:
        header = parse_header(_strip_line_end(header_bytes), feed)
    except HeaderError as error:
        plan.outcome, plan.reason, plan.message = "rejected", error.reason.value, str(error)
        return plan
    plan.header = list(header.names)
    if header_end < 0 or header_end >= file.size:
        plan.message = "the file holds a header and no data rows"
        return plan

    data_bytes = file.size - header_end
    chunk_bytes = max(config.chunk_bytes, math.ceil(data_bytes / config.max_chunks))
    boundaries: list[tuple[int, int]] = [(header_end, 0)]

    def found(position: int, rows_before: int) -> int | None:
        if position < file.size:
            boundaries.append((position, rows_before))
            return position + chunk_bytes
        return None

    counter = RowCounter(offset=header_end, last_row_end=header_end)
    want: int | None = header_end + chunk_bytes
    want = counter.feed(head[header_end:], want, found)
    for block in blocks:
        want = counter.feed(block, want, found)
    total = counter.rows + counter.tail_rows()
    plan.rows = total
    if total == 0:
        plan.message = "the file holds a header and no data rows"
        return plan
    plan.outcome = "send"
    edges = [*boundaries, (file.size, total)]
    for index, ((start, before), (end, after)) in enumerate(itertools.pairwise(edges)):
        wait = index * config.stagger_seconds if index < config.max_concurrency else 0
        plan.chunks.append(Chunk(index, start, end, before + 1, after - before, wait))
    return plan


def _strip_line_end(data: bytes) -> bytes:
    if data.endswith(b"\n"):
        data = data[:-1]
    return data[:-1] if data.endswith(b"\r") else data
