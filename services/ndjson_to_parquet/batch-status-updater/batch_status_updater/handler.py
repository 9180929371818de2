"""Lambda entry point, invoked by the state machine with the status-updater event (contract v1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ndjson_to_parquet import tracking
from ndjson_to_parquet.breaker import CircuitBreaker
from pipelines_shared import aws
from pipelines_shared.log import configure_logging, inject_lambda_context
from pipelines_shared.settings import load_settings

from .updater import StatusUpdater


@dataclass(frozen=True)
class Settings:
    file_tracking_table: str
    metrics_table: str
    update_workers: int = 16
    log_level: str = "INFO"


_updater: StatusUpdater | None = None


def _get_updater() -> StatusUpdater:
    # Built on first use, not at import: importing the module makes no network call.
    global _updater
    if _updater is None:
        settings = load_settings(Settings)
        configure_logging(level=settings.log_level)
        dynamodb = aws.client("dynamodb")
        _updater = StatusUpdater(
            s3=aws.client("s3"),
            files=tracking.file_store(settings.file_tracking_table, client=dynamodb),
            breaker=CircuitBreaker(settings.metrics_table, client=dynamodb),
            workers=settings.update_workers,
        )
    return _updater


@inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _get_updater().update(event)
