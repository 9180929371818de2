"""SQS target (batches of up to 100): one SFTP connection per invocation, records reported one by one."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from alerts_to_sftp.staging import MySqlPayloadStore, S3PayloadStore
from alerts_to_sftp.tracking import TABLE
from pipelines_shared import aws
from pipelines_shared.batch import process_sqs_batch
from pipelines_shared.db import engine_from_secret
from pipelines_shared.log import configure_logging, inject_lambda_context
from pipelines_shared.settings import get_parameter, get_secret_json, load_settings
from pipelines_shared.sftp import SftpConfig, SftpSession
from pipelines_shared.tracking.sql import SqlTrackingStore

from .worker import Worker, payload_router


@dataclass(frozen=True)
class Settings:
    mysql_secret_arn: str
    sftp_secret_arn: str  # JSON: {"host", "port", "username", "private_key"}
    sftp_known_hosts_parameter: str  # SSM parameter holding the server's known_hosts line(s)
    remote_dir: str = "/upload"
    # Stop starting uploads this long before the function times out. An upload still running at the
    # deadline is cut off (its temporary file never becomes the target); records not done are
    # reported failed and SQS redelivers them.
    deadline_margin_seconds: float = 10.0
    connect_timeout: float = 5.0
    operation_timeout: float = 15.0
    log_level: str = "INFO"


_state: dict[str, Any] = {}


def _parts() -> dict[str, Any]:
    if not _state:
        settings = load_settings(Settings)
        configure_logging(level=settings.log_level)
        engine = engine_from_secret(settings.mysql_secret_arn, pool_size=2)
        _state.update(
            settings=settings,
            store=SqlTrackingStore(engine, table_name=TABLE),
            payloads=payload_router(
                {"s3": S3PayloadStore("", client=aws.client("s3")), "mysql": MySqlPayloadStore(engine)}
            ),
        )
    return _state


def _sftp_config(settings: Settings) -> SftpConfig:
    # Read per invocation through the settings cache (TTL), so a rotated key or host key is picked up.
    secret = get_secret_json(settings.sftp_secret_arn)
    return SftpConfig(
        host=secret["host"],
        port=int(secret.get("port", 22)),
        username=secret["username"],
        private_key=secret["private_key"],
        known_hosts=get_parameter(settings.sftp_known_hosts_parameter),
        connect_timeout=settings.connect_timeout,
        banner_timeout=settings.connect_timeout,
        auth_timeout=settings.connect_timeout,
        operation_timeout=settings.operation_timeout,
    )


@inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    parts = _parts()
    settings: Settings = parts["settings"]
    remaining = context.get_remaining_time_in_millis() / 1000.0
    deadline = time.monotonic() + remaining - settings.deadline_margin_seconds
    with Worker(
        store=parts["store"],
        payloads=parts["payloads"],
        open_session=lambda: SftpSession(_sftp_config(settings), deadline=deadline),
        remote_dir=settings.remote_dir,
        deadline=deadline,
    ) as worker:
        return process_sqs_batch(event, context, lambda record: worker.process(record.body))
