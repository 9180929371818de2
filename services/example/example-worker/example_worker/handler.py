"""Lambda entry point: settings and collaborators once per cold start, then one record at a time."""

from __future__ import annotations

from dataclasses import dataclass

from pipelines_shared.batch import process_sqs_batch
from pipelines_shared.log import configure_logging, inject_lambda_context
from pipelines_shared.settings import load_settings
from pipelines_shared.tracking.dynamodb import DynamoDBTrackingStore

from .worker import Worker


@dataclass(frozen=True)
class Settings:
    tracking_table: str
    log_level: str = "INFO"


_worker: Worker | None = None


def _get_worker() -> Worker:
    # Built on first use, not at import: importing the module makes no network call.
    global _worker
    if _worker is None:
        settings = load_settings(Settings)
        configure_logging(level=settings.log_level)
        _worker = Worker(DynamoDBTrackingStore(table_name=settings.tracking_table))
    return _worker


@inject_lambda_context
def lambda_handler(event: dict, context: object) -> dict:
    worker = _get_worker()
    return process_sqs_batch(event, context, lambda record: worker.process(record.body, record.message_id))
