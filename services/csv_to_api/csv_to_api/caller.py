"""Send one chunk's rows to the API: stream the byte range, validate, send good rows under the shared
limit, record every row's outcome. Safe to run again: rows that have an outcome are skipped.

An invocation stops before its deadline and returns where the next one resumes; the state machine
invokes again. A row that keeps failing transiently (5xx, resets, timeouts beyond ``max_attempts``) or
an API that refuses the token twice fails the invocation (:class:`ChunkFailed`), after the outcomes of
the rows already done are recorded, so a retry continues where this one stopped.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from csv_to_api.api import Answer, Response
from csv_to_api.contract import Chunk, FileRef, Resume
from csv_to_api.limiter import RateLimiter
from csv_to_api.outcomes import FileStore, Outcome, RowOutcome, RowStore
from csv_to_api.rows import Header, Reason, Rejected, check_row, excerpt
from csv_to_api.scan import Record, records
from pipelines_shared.deadline import Deadline
from pipelines_shared.log import get_logger

logger = get_logger(__name__)


class Api(Protocol):
    def post(
        self, idempotency_key: str, body: bytes, *, before_send: Callable[[], object] | None = None
    ) -> Response: ...


class ChunkFailed(Exception):
    """The chunk cannot finish now (the API keeps failing, or refuses the token); retry it later."""


@dataclass(frozen=True)
class CallerConfig:
    concurrency: int = 16
    """Requests in flight at once (threads sharing the kept-alive connections)."""
    max_attempts: int = 6
    """Transient failures (5xx, resets, timeouts) of one row before the chunk fails."""
    max_rate_limited: int = 30
    """429 answers for one row before the chunk fails: the limit is shared, so some are expected."""
    window_rows: int = 0
    """Rows validated, sent and recorded per round (0: 8 x concurrency). Small on purpose: under a shared
    limit a chunk may get a few rows per second, and a round must end (its outcomes recorded) well
    before the invocation's deadline, or a timeout makes its rows go out again (answered 200, wasted)."""
    block_bytes: int = 1 << 20
    backoff_initial: float = 0.2
    backoff_max: float = 5.0
    max_retry_after: float = 30.0
    stop_margin_seconds: float = 15.0
    """Stop starting rounds this long before the deadline (a round must fit in it)."""


@dataclass
class Stats:
    sent: int = 0
    retried: int = 0
    rate_limited: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    limiter_waited: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    """Outcomes this invocation recorded (not those found from earlier ones): summed over every
    invocation, each row counts once however often its chunk was resumed, retried or redriven."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, response: Response, limiter_waited: float) -> None:
        with self.lock:
            self.sent += 1
            self.latencies_ms.append(response.latency_ms)
            self.limiter_waited += limiter_waited
            if response.answer is Answer.RATE_LIMITED:
                self.rate_limited += 1
            elif response.answer in (Answer.TRANSIENT, Answer.UNAUTHORIZED):
                self.retried += 1


@dataclass(frozen=True)
class ChunkResult:
    index: int
    complete: bool
    resume: Resume | None
    counts: dict[str, int]
    """Outcomes of every row of the chunk so far: accepted, already_accepted, rejected."""

    def to_json(self) -> dict[str, Any]:
        resume = None if self.resume is None else {"offset": self.resume.offset, "row": self.resume.row}
        return {"index": self.index, "complete": self.complete, "resume": resume, "counts": self.counts}


def s3_blocks(s3: Any, file: FileRef, start: int, end: int, block_bytes: int) -> Iterator[bytes]:
    """Bytes ``[start, end)`` of exactly this object version, one ranged GET per block."""
    position = start
    while position < end:
        last = min(end, position + block_bytes) - 1
        body = s3.get_object(
            Bucket=file.bucket, Key=file.key, Range=f"bytes={position}-{last}", IfMatch=f'"{file.etag}"'
        )["Body"]
        data = body.read()
        if len(data) != last - position + 1:
            raise ChunkFailed(f"short read at {position}: {len(data)} of {last - position + 1} bytes")
        yield data
        position = last + 1


class _Unstarted:
    """The rows of a round that no thread has started yet. A claim of send times asks for this one's
    and theirs, at most ``concurrency``: the times this process holds when its round ends go unused
    (nobody else may take them), so near a round's end it claims only what it still needs."""

    def __init__(self, rows: int) -> None:
        self._rows = rows
        self._lock = threading.Lock()

    def start_one(self) -> None:
        with self._lock:
            self._rows -= 1

    def batch(self, most: int) -> int:
        with self._lock:
            return max(1, min(most, self._rows + 1))


class ChunkCaller:
    def __init__(
        self,
        *,
        read_blocks: Callable[[FileRef, int, int], Iterator[bytes]],
        rows: RowStore,
        files: FileStore,
        api: Api,
        limiter: RateLimiter | None,
        config: CallerConfig = CallerConfig(),
        refresh_token: Callable[[], None] = lambda: None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._read_blocks = read_blocks
        self._rows = rows
        self._files = files
        self._api = api
        self._limiter = limiter
        if not config.window_rows:
            config = dataclasses.replace(config, window_rows=8 * config.concurrency)
        self._config = config
        self._refresh_token = refresh_token
        self._token_lock = threading.Lock()
        self._sleep = sleep
        self.stats = Stats()

    def process(
        self, file: FileRef, header: Header, chunk: Chunk, resume: Resume | None, deadline: Deadline
    ) -> ChunkResult:
        last_row = chunk.first_row + chunk.rows - 1
        known = self._rows.outcomes(file.file_id, chunk.first_row, last_row)
        counts: Counter[str] = Counter(outcome.value for outcome in known.values())
        start = resume or Resume(chunk.start, chunk.first_row)
        stream = records(self._read_blocks(file, start.offset, chunk.end), start.offset)
        row = start.row
        window: list[tuple[int, Record]] = []
        with ThreadPoolExecutor(self._config.concurrency, thread_name_prefix="send") as pool:
            for record in stream:
                if row not in known:
                    window.append((row, record))
                row += 1
                if len(window) >= self._config.window_rows:
                    if deadline.remaining() < self._config.stop_margin_seconds:
                        return self._stop(chunk, window[0], counts)
                    counts.update(self._round(pool, file, header, window, deadline))
                    window = []
            if window:
                if deadline.remaining() < self._config.stop_margin_seconds:
                    return self._stop(chunk, window[0], counts)
                counts.update(self._round(pool, file, header, window, deadline))
        if row - 1 != last_row:
            raise ChunkFailed(
                f"chunk {chunk.index} holds {row - chunk.first_row} rows, the plan said {chunk.rows}"
            )
        summary = {name.value: counts.get(name.value, 0) for name in Outcome}
        self._files.put_chunk(file.file_id, chunk.index, summary)
        return ChunkResult(chunk.index, True, None, summary)

    def _stop(self, chunk: Chunk, first: tuple[int, Record], counts: Counter[str]) -> ChunkResult:
        row, record = first
        logger.info("stopping before the deadline", chunk=chunk.index, resume_row=row)
        return ChunkResult(chunk.index, False, Resume(record.offset, row), dict(counts))

    def _round(
        self,
        pool: ThreadPoolExecutor,
        file: FileRef,
        header: Header,
        window: list[tuple[int, Record]],
        deadline: Deadline,
    ) -> Counter[str]:
        outcomes: list[RowOutcome] = []
        sends: list[tuple[int, str, bytes]] = []
        for row, record in window:
            checked = check_row(header, record)
            if isinstance(checked, Rejected):
                outcomes.append(
                    RowOutcome(
                        row, Outcome.REJECTED, checked.reason.value, checked.detail, excerpt(record.data)
                    )
                )
            else:
                sends.append((row, excerpt(record.data), checked))
        unstarted = _Unstarted(len(sends))
        futures = [
            pool.submit(self._deliver, f"{file.file_id}:{row}", row, raw, body, unstarted)
            for row, raw, body in sends
        ]
        failure: BaseException | None = None
        for future in futures:
            try:
                outcomes.append(future.result())
            except Exception as error:  # recorded below after the rows that did finish
                failure = failure or error
        # Record what finished even when a row failed: the retry then skips those rows.
        self._rows.record(file.file_id, outcomes)
        done = Counter(outcome.outcome.value for outcome in outcomes)
        self.stats.outcomes.update(done)
        if failure is not None:
            raise ChunkFailed(str(failure)) from failure
        return done

    def _deliver(self, key: str, row: int, raw: str, body: bytes, unstarted: _Unstarted) -> RowOutcome:
        config = self._config
        transient = rate_limited = 0
        refreshed = False
        limiter = self._limiter
        waited = [0.0]

        unstarted.start_one()

        def take_turn() -> None:
            if limiter is not None:
                waited[0] = limiter.wait_turn(batch=unstarted.batch(config.concurrency))

        while True:
            response = self._api.post(key, body, before_send=take_turn)
            self.stats.add(response, waited[0])
            match response.answer:
                case Answer.ACCEPTED:
                    return RowOutcome(row, Outcome.ACCEPTED, status=response.status)
                case Answer.ALREADY_ACCEPTED:
                    return RowOutcome(row, Outcome.ALREADY_ACCEPTED, status=response.status)
                case Answer.REJECTED:
                    detail = f"HTTP {response.status} {response.detail}".strip()
                    return RowOutcome(
                        row, Outcome.REJECTED, Reason.API_REJECTED.value, detail, raw, response.status
                    )
                case Answer.RATE_LIMITED:
                    rate_limited += 1
                    if rate_limited > config.max_rate_limited:
                        raise ChunkFailed(f"{key}: still rate limited after {rate_limited} answers of 429")
                    wait = (
                        response.retry_after
                        if response.retry_after is not None
                        else self._backoff(rate_limited)
                    )
                    self._sleep(min(wait, config.max_retry_after))
                case Answer.UNAUTHORIZED:
                    if refreshed:
                        raise ChunkFailed(f"{key}: HTTP {response.status} with a freshly read token")
                    with self._token_lock:
                        self._refresh_token()  # a rotated secret: read it again, once
                    refreshed = True
                case Answer.TRANSIENT:
                    transient += 1
                    if transient >= config.max_attempts:
                        raise ChunkFailed(f"{key}: {transient} transient failures, last {response.detail}")
                    wait = self._backoff(transient)
                    if response.retry_after is not None:
                        wait = max(wait, min(response.retry_after, config.max_retry_after))
                    self._sleep(wait)

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self._config.backoff_max, self._config.backoff_initial * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311  # nosec B311  # jitter, not security
