"""ALB target: settings and collaborators once per cold start; each request answered by ``request.answer``."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from alerts_to_sftp.staging import MySqlPayloadStore, PayloadStore, S3PayloadStore
from alerts_to_sftp.tracking import TABLE
from pipelines_shared import aws
from pipelines_shared.db import engine_from_secret
from pipelines_shared.http import JsonHttpClient
from pipelines_shared.log import configure_logging, inject_lambda_context
from pipelines_shared.settings import get_secret, load_settings
from pipelines_shared.tracking.sql import SqlTrackingStore

from .adapters import MySqlJobLock, SqsPointerQueue, api_pages
from .coordinator import Coordinator
from .request import answer

STAGING_KINDS = ("s3", "mysql")


@dataclass(frozen=True, kw_only=True)
class Settings:
    trigger_secret_arn: str
    mysql_secret_arn: str
    alerts_api_url: str
    alerts_api_token_secret_arn: str
    queue_url: str
    staging: str  # s3 | mysql
    staging_bucket: str
    log_level: str
    page_size: int = 500
    fetch_concurrency: int = 8
    api_connect_timeout: float = 3.0
    api_read_timeout: float = 20.0


@dataclass(frozen=True)
class Dependencies:
    settings: Settings
    coordinator: Coordinator


@functools.cache
def dependencies() -> Dependencies:
    settings = load_settings(Settings)
    configure_logging(level=settings.log_level)
    if settings.staging not in STAGING_KINDS:
        raise ValueError(f"STAGING must be one of {STAGING_KINDS}, not {settings.staging!r}")
    engine = engine_from_secret(settings.mysql_secret_arn, pool_size=settings.fetch_concurrency + 1)
    payloads: PayloadStore = (
        S3PayloadStore(settings.staging_bucket) if settings.staging == "s3" else MySqlPayloadStore(engine)
    )
    api = JsonHttpClient(
        settings.alerts_api_url,
        token_provider=lambda: get_secret(settings.alerts_api_token_secret_arn),
        connect_timeout=settings.api_connect_timeout,
        read_timeout=settings.api_read_timeout,
    )
    coordinator = Coordinator(
        store=SqlTrackingStore(engine, table_name=TABLE),
        payloads=payloads,
        queue=SqsPointerQueue(aws.client("sqs"), settings.queue_url),
        pages=api_pages(api, page_size=settings.page_size),
        lock=MySqlJobLock(engine),
        concurrency=settings.fetch_concurrency,
    )
    return Dependencies(settings, coordinator)


@inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deps = dependencies()
    # Read per request through the secrets cache (TTL), so a rotated trigger secret is picked up.
    return answer(event, deps.coordinator, get_secret(deps.settings.trigger_secret_arn))
