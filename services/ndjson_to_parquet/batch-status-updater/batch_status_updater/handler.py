"""Lambda entry point, invoked by the state machine with the status-updater event (contract v1)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from ndjson_to_parquet import tracking
from ndjson_to_parquet.breaker import OutcomeLog
from pipelines_shared import aws
from pipelines_shared.log import configure_logging, inject_lambda_context
from pipelines_shared.settings import load_settings

from .updater import StatusUpdater


@dataclass(frozen=True, kw_only=True)
class Settings:
    file_tracking_table: str
    metrics_table: str
    log_level: str
    update_workers: int = 16


@dataclass(frozen=True)
class Dependencies:
    updater: StatusUpdater


@functools.cache
def dependencies() -> Dependencies:
    settings = load_settings(Settings)
    configure_logging(level=settings.log_level)
    dynamodb = aws.client("dynamodb")
    updater = StatusUpdater(
        s3=aws.client("s3"),
        files=tracking.file_store(settings.file_tracking_table, client=dynamodb),
        breaker=OutcomeLog(settings.metrics_table, client=dynamodb),
        workers=settings.update_workers,
    )
    return Dependencies(updater)


@inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dependencies().updater.update(event)
