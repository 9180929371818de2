"""SQS target (batches of up to 100): one SFTP connection per invocation, records reported one by one."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from alerts_to_sftp.staging import MySqlPayloadStore, PayloadStore, S3PayloadStore
from alerts_to_sftp.tracking import TABLE
from pipelines_shared import aws
from pipelines_shared.batch import BatchResponse, process_sqs_batch
from pipelines_shared.db import engine_from_secret
from pipelines_shared.deadline import Deadline
from pipelines_shared.log import configure_logging, inject_lambda_context
from pipelines_shared.settings import get_parameter, get_secret_json, load_settings
from pipelines_shared.sftp import SftpConfig
from pipelines_shared.tracking.sql import SqlTrackingStore

from .worker import Worker, payload_router

if TYPE_CHECKING:
    from pipelines_shared.sftp.session import SftpSession


@dataclass(frozen=True, kw_only=True)
class Settings:
    mysql_secret_arn: str
    sftp_secret_arn: str  # JSON: {"host", "port", "username", "private_key"}
    sftp_known_hosts_parameter: str  # SSM parameter holding the server's known_hosts line(s)
    remote_dir: str
    # Stop starting uploads this long before the function times out. An upload still running at the
    # deadline is cut off (its temporary file never becomes the target); records not done are
    # reported failed and SQS redelivers them.
    deadline_margin_seconds: float
    log_level: str
    connect_timeout: float = 5.0
    operation_timeout: float = 15.0


@dataclass(frozen=True)
class Dependencies:
    settings: Settings
    store: SqlTrackingStore
    payloads: Callable[[str], PayloadStore]


@functools.cache
def dependencies() -> Dependencies:
    settings = load_settings(Settings)
    configure_logging(level=settings.log_level)
    engine = engine_from_secret(settings.mysql_secret_arn, pool_size=2)
    payloads = payload_router(
        {"s3": S3PayloadStore("", client=aws.client("s3")), "mysql": MySqlPayloadStore(engine)}
    )
    return Dependencies(settings, SqlTrackingStore(engine, table_name=TABLE), payloads)


def sftp_config(settings: Settings) -> SftpConfig:
    # Read per invocation through the secrets cache (TTL), so a rotated key or host key is picked up.
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


def open_session(settings: Settings, deadline: Deadline) -> SftpSession:
    """The batch's SFTP connection, opened by the worker when a record first needs it."""
    # Imported here: paramiko and cryptography cost ~120 ms of a cold start, and a batch of duplicates
    # or poison messages never opens a session.
    from pipelines_shared.sftp.session import SftpSession

    return SftpSession(sftp_config(settings), deadline=deadline.at)


@inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> BatchResponse:
    deps = dependencies()
    deadline = Deadline.from_context(context, deps.settings.deadline_margin_seconds)
    with Worker(
        store=deps.store,
        payloads=deps.payloads,
        open_session=lambda: open_session(deps.settings, deadline),
        remote_dir=deps.settings.remote_dir,
        deadline=deadline,
    ) as worker:
        return process_sqs_batch(event, context, lambda record: worker.process(record.body))
