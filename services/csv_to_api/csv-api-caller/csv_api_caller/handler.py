"""Step Functions task (and async redrive target): send one chunk's rows to the partner API.

Input: ``{"file", "feed", "header", "chunk", "resume", "report_after"}`` (docs/csv_to_api/schemas/
chunk-request.schema.json). Output: ``{"index", "complete", "resume", "counts"}``; when ``complete`` is
false the state machine invokes again with ``resume``. ``report_after`` marks a redriven chunk (invoked
asynchronously, outside the state machine): it invokes itself again with ``resume`` while rows are left,
and rewrites the file's report once the chunk is complete.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from csv_to_api.api import RecordsApi
from csv_to_api.caller import CallerConfig, ChunkCaller, ChunkFailed, ChunkResult, Stats, s3_blocks
from csv_to_api.contract import Chunk, FileRef, Resume
from csv_to_api.feeds import feeds_from_text
from csv_to_api.lifecycle import Lifecycle
from csv_to_api.limiter import DynamoDbSlotCounter, RateLimiter
from csv_to_api.outcomes import DynamoDbFileStore, DynamoDbRowStore
from csv_to_api.rows import Header
from structlog.contextvars import bound_contextvars

from pipelines_shared import aws
from pipelines_shared.deadline import Deadline
from pipelines_shared.log import configure_logging, get_logger, inject_lambda_context
from pipelines_shared.settings import get_parameter, get_secret, load_settings

logger = get_logger(__name__)
metrics = Metrics(namespace="lambda-pipelines/csv_to_api", service="csv-api-caller")


@dataclass(frozen=True, kw_only=True)
class Settings:
    file_table: str
    rows_table: str
    limiter_table: str
    results_bucket: str
    feeds_parameter: str
    api_url: str
    api_token_secret_arn: str
    rate_limit: float
    """Requests per second for every caller at once; 0 turns the limiter off."""
    rate_utilization: float
    concurrency: int
    max_attempts: int
    deadline_margin_seconds: float
    log_level: str


@dataclass(frozen=True)
class Dependencies:
    settings: Settings
    caller: ChunkCaller
    lifecycle: Lifecycle
    lambda_client: Any


@functools.cache
def dependencies() -> Dependencies:
    settings = load_settings(Settings)
    configure_logging(level=settings.log_level)
    s3 = aws.client("s3")
    dynamodb = aws.client("dynamodb")
    config = CallerConfig(
        concurrency=settings.concurrency,
        max_attempts=settings.max_attempts,
        stop_margin_seconds=settings.deadline_margin_seconds,
    )
    token_age: list[float | None] = [None]

    def token() -> str:
        return get_secret(settings.api_token_secret_arn, max_age=token_age[0])

    def refresh() -> None:
        get_secret(settings.api_token_secret_arn, max_age=0)

    limiter = None
    if settings.rate_limit > 0:
        counter = DynamoDbSlotCounter(dynamodb, settings.limiter_table, limiter="records-api")
        limiter = RateLimiter(counter, settings.rate_limit, utilization=settings.rate_utilization)
    read = functools.partial(_read, s3, config.block_bytes)
    files = DynamoDbFileStore(dynamodb, settings.file_table)
    rows = DynamoDbRowStore(dynamodb, settings.rows_table)
    caller = ChunkCaller(
        read_blocks=read,
        rows=rows,
        files=files,
        api=RecordsApi(settings.api_url, token_provider=token, connections=settings.concurrency),
        limiter=limiter,
        config=config,
        refresh_token=refresh,
    )
    lifecycle = Lifecycle(
        files=files, rows=rows, s3=s3, results_bucket=settings.results_bucket, read_blocks=read
    )
    return Dependencies(settings, caller, lifecycle, aws.client("lambda"))


def _read(s3: Any, block_bytes: int, file: FileRef, start: int, end: int) -> Any:
    return s3_blocks(s3, file, start, end, block_bytes)


@inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deps = dependencies()
    file = FileRef.from_json(event["file"])
    chunk = Chunk.from_json(event["chunk"])
    resume = (
        Resume(int(event["resume"]["offset"]), int(event["resume"]["row"])) if event.get("resume") else None
    )
    feed = feeds_from_text(get_parameter(deps.settings.feeds_parameter)).by_name(event["feed"])
    header = Header(names=tuple(event["header"]), feed=feed)
    deadline = Deadline.from_context(context, 0)
    last_row = chunk.first_row + chunk.rows - 1
    with bound_contextvars(file_id=file.file_id, chunk=chunk.index, rows=f"{chunk.first_row}-{last_row}"):
        deps.caller.stats = Stats()
        try:
            result = deps.caller.process(file, header, chunk, resume, deadline)
        finally:  # a failed invocation's recorded rows count too (the retry skips them)
            _publish(deps.caller.stats)
        logger.info("chunk invocation done", complete=result.complete, **result.counts)
        if event.get("report_after"):  # a redriven chunk: asynchronous, no state machine around it
            if result.complete:
                deps.lifecycle.finish(file)
            else:
                _resume_later(deps.lambda_client, context.invoked_function_arn, event, resume, result)
    return result.to_json()


def _resume_later(
    client: Any, function_arn: str, event: dict[str, Any], resume: Resume | None, result: ChunkResult
) -> None:
    """Invoke this function again, asynchronously, from where this invocation stopped (what the state
    machine's Resume loop does for a chunk it runs). An invocation that made no progress fails instead,
    so Lambda's retries and then the destination DLQ take the chunk, rather than a loop of invocations."""
    if result.resume is None:
        raise ChunkFailed(f"chunk {result.index}: incomplete without a resume point")
    if resume is not None and result.resume.row <= resume.row:
        raise ChunkFailed(f"chunk {result.index}: no row done since row {resume.row}; not resuming again")
    payload = {**event, "resume": {"offset": result.resume.offset, "row": result.resume.row}}
    client.invoke(FunctionName=function_arn, InvocationType="Event", Payload=json.dumps(payload).encode())
    logger.info("redriven chunk continues in a new invocation", resume_row=result.resume.row)


def _publish(stats: Stats) -> None:
    """Metrics as EMF log lines (CloudWatch turns them into metrics; the alarms and dashboard read them)."""
    metrics.add_metric("RequestsSent", MetricUnit.Count, stats.sent)
    metrics.add_metric("RequestsRetried", MetricUnit.Count, stats.retried)
    metrics.add_metric("RateLimited", MetricUnit.Count, stats.rate_limited)
    metrics.add_metric("LimiterWaitSeconds", MetricUnit.Seconds, round(stats.limiter_waited, 3))
    if stats.latencies_ms:
        ordered = sorted(stats.latencies_ms)
        metrics.add_metric("ApiLatencyP50", MetricUnit.Milliseconds, round(ordered[len(ordered) // 2], 2))
        metrics.add_metric(
            "ApiLatencyP99", MetricUnit.Milliseconds, round(ordered[int(len(ordered) * 0.99)], 2)
        )
    # Rows whose outcome this invocation recorded: each row once over all of its chunk's invocations.
    metrics.add_metric("RowsAccepted", MetricUnit.Count, stats.outcomes.get("accepted", 0))
    metrics.add_metric("RowsAlreadyAccepted", MetricUnit.Count, stats.outcomes.get("already_accepted", 0))
    metrics.add_metric("RowsRejected", MetricUnit.Count, stats.outcomes.get("rejected", 0))
    metrics.flush_metrics()
