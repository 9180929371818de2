"""SQS target (S3 Object Created events routed by EventBridge): one Step Functions execution per object
version, named after it, so a duplicate event starts nothing new."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from csv_to_api.lifecycle import Lifecycle
from csv_to_api.outcomes import DynamoDbFileStore, DynamoDbRowStore

from pipelines_shared import aws
from pipelines_shared.batch import BatchResponse, process_sqs_batch
from pipelines_shared.log import configure_logging, get_logger, inject_lambda_context
from pipelines_shared.settings import load_settings

from .starter import FilesInFlight, Starter

logger = get_logger(__name__)


@dataclass(frozen=True, kw_only=True)
class Settings:
    file_table: str
    rows_table: str
    results_bucket: str
    state_machine_arn: str
    incoming_prefix: str
    ingest_queue_name: str
    max_files_in_flight: int
    """0: no bound (every queued file starts at once)."""
    defer_seconds: int
    log_level: str


@dataclass(frozen=True)
class Dependencies:
    settings: Settings
    starter: Starter


@functools.cache
def dependencies() -> Dependencies:
    settings = load_settings(Settings)
    configure_logging(level=settings.log_level)
    s3 = aws.client("s3")
    lifecycle = Lifecycle(
        files=DynamoDbFileStore(aws.client("dynamodb"), settings.file_table),
        rows=DynamoDbRowStore(aws.client("dynamodb"), settings.rows_table),
        s3=s3,
        results_bucket=settings.results_bucket,
        read_blocks=lambda *_: iter(()),
    )
    starter = Starter(
        lifecycle=lifecycle,
        sfn=aws.client("stepfunctions"),
        s3=s3,
        state_machine_arn=settings.state_machine_arn,
        incoming_prefix=settings.incoming_prefix,
        in_flight=_in_flight(settings),
    )
    return Dependencies(settings, starter)


def _in_flight(settings: Settings) -> FilesInFlight | None:
    if settings.max_files_in_flight <= 0:
        return None
    # By name: the queue is the function's own event source, made by the same module (no cycle).
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=settings.ingest_queue_name)["QueueUrl"]
    return FilesInFlight(sqs, url, settings.max_files_in_flight, settings.defer_seconds)


def _handle(record: SQSRecord) -> None:
    event: dict[str, Any] = json.loads(record.body)
    dependencies().starter.start(event)


@inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> BatchResponse:
    return process_sqs_batch(event, context, _handle)
