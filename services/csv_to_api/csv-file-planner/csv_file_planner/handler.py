"""Step Functions task: ``plan`` a file (header, rows, chunks) and ``report`` it at the end (or ``fail``
it when the execution could not go on)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from csv_to_api.caller import s3_blocks
from csv_to_api.contract import FileRef
from csv_to_api.feeds import Feeds, feeds_from_text
from csv_to_api.lifecycle import Lifecycle
from csv_to_api.outcomes import DynamoDbFileStore, DynamoDbRowStore
from csv_to_api.planner import PlannerConfig

from pipelines_shared import aws
from pipelines_shared.log import configure_logging, get_logger, inject_lambda_context
from pipelines_shared.settings import get_parameter, load_settings

logger = get_logger(__name__)


@dataclass(frozen=True, kw_only=True)
class Settings:
    file_table: str
    rows_table: str
    results_bucket: str
    feeds_parameter: str
    chunk_bytes: int
    max_chunks: int
    max_concurrency: int
    stagger_seconds: int
    log_level: str


@dataclass(frozen=True)
class Dependencies:
    settings: Settings
    lifecycle: Lifecycle
    config: PlannerConfig


@functools.cache
def dependencies() -> Dependencies:
    settings = load_settings(Settings)
    configure_logging(level=settings.log_level)
    s3 = aws.client("s3")
    config = PlannerConfig(
        chunk_bytes=settings.chunk_bytes,
        max_chunks=settings.max_chunks,
        max_concurrency=settings.max_concurrency,
        stagger_seconds=settings.stagger_seconds,
    )
    lifecycle = Lifecycle(
        files=DynamoDbFileStore(aws.client("dynamodb"), settings.file_table),
        rows=DynamoDbRowStore(aws.client("dynamodb"), settings.rows_table),
        s3=s3,
        results_bucket=settings.results_bucket,
        read_blocks=lambda file, start, end: s3_blocks(s3, file, start, end, config.block_bytes),
    )
    return Dependencies(settings, lifecycle, config)


def feeds(parameter: str) -> Feeds:
    # Through the settings cache: a changed feeds document is picked up within its TTL.
    return feeds_from_text(get_parameter(parameter))


@inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deps = dependencies()
    action = event.get("action")
    file = FileRef.from_json(event["file"])
    if action == "plan":
        return deps.lifecycle.plan(file, feeds(deps.settings.feeds_parameter), deps.config).to_json()
    if action == "report":
        return deps.lifecycle.finish(file).to_json()
    if action == "fail":
        error = event.get("error") or {}
        message = f"{error.get('Error', 'error')}: {error.get('Cause', '')}"[:1000]
        return deps.lifecycle.finish(file, error=message).to_json()
    raise ValueError(f"unknown action {action!r}: expected plan, report or fail")
