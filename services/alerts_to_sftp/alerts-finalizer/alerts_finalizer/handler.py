"""EventBridge Scheduler target: one finalizer pass."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from alerts_to_sftp.tracking import TABLE
from pipelines_shared import aws
from pipelines_shared.db import engine_from_secret
from pipelines_shared.log import configure_logging, inject_lambda_context
from pipelines_shared.settings import load_settings
from pipelines_shared.tracking.sql import SqlTrackingStore

from .finalizer import AwsAnnouncer, Finalizer, SqsDeadLetters


@dataclass(frozen=True, kw_only=True)
class Settings:
    mysql_secret_arn: str
    dlq_url: str
    metric_namespace: str
    stuck_after_seconds: int
    log_level: str
    event_bus_name: str = "default"


@dataclass(frozen=True)
class Dependencies:
    finalizer: Finalizer


@functools.cache
def dependencies() -> Dependencies:
    settings = load_settings(Settings)
    configure_logging(level=settings.log_level)
    finalizer = Finalizer(
        store=SqlTrackingStore(engine_from_secret(settings.mysql_secret_arn, pool_size=2), table_name=TABLE),
        announcer=AwsAnnouncer(
            aws.client("events"),
            aws.client("cloudwatch"),
            bus=settings.event_bus_name,
            namespace=settings.metric_namespace,
        ),
        dead_letters=SqsDeadLetters(aws.client("sqs"), settings.dlq_url),
        stuck_after=timedelta(seconds=settings.stuck_after_seconds),
    )
    return Dependencies(finalizer)


@inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dependencies().finalizer.run().as_dict()
