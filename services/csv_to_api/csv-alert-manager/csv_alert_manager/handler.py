"""SNS target of the pipeline's alarm topic: each alarm state change becomes one e-mail over SMTP.

Event: an SNS event; each record's message is a CloudWatch alarm state change (JSON) or, mailed as a
labelled notice, anything else published to the topic. A record that cannot be mailed raises, so the
invocation fails, is retried, and the function's errors alarm fires; what was mailed is not mailed
again (manager.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from pipelines_shared import aws
from pipelines_shared.log import bind_correlation_id, configure_logging, inject_lambda_context
from pipelines_shared.settings import get_secret_json, load_settings

from .mailer import SmtpConfig
from .manager import DEFAULT_EXPIRY_SECONDS, AlertManager
from .notification import sns_records


@dataclass(frozen=True, kw_only=True)
class Settings:
    smtp_secret_arn: str  # JSON: {"host", "port", "username", "password", "from", "to": [...], "ca_cert"?}
    idempotency_table: str  # Powertools' layout: partition key "id" (S), TTL on "expiration"
    environment: str
    runbook_url: str  # the pipeline's runbook page; each e-mail links <runbook_url>#<alarm anchor>
    log_level: str
    smtp_timeout_seconds: float = 10.0  # the connection and each SMTP reply
    idempotency_expiry_seconds: int = DEFAULT_EXPIRY_SECONDS


@dataclass(frozen=True)
class Dependencies:
    settings: Settings
    manager: AlertManager


@functools.cache
def dependencies() -> Dependencies:
    settings = load_settings(Settings)
    configure_logging(level=settings.log_level)
    persistence = DynamoDBPersistenceLayer(
        table_name=settings.idempotency_table, boto3_client=aws.client("dynamodb")
    )
    manager = AlertManager(
        persistence=persistence,
        smtp_config=functools.partial(smtp_config, settings),
        environment=settings.environment,
        runbook_url=settings.runbook_url,
        expiry_seconds=settings.idempotency_expiry_seconds,
    )
    return Dependencies(settings, manager)


def smtp_config(settings: Settings) -> SmtpConfig:
    # Read per invocation through the secrets cache (TTL), so a rotated password is picked up.
    return SmtpConfig.from_secret(
        get_secret_json(settings.smtp_secret_arn), timeout=settings.smtp_timeout_seconds
    )


@inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deps = dependencies()
    outcomes = []
    # SNS invokes with one record; should there be more, a failure stops here and the retry skips
    # those already mailed.
    for record in sns_records(event):
        bind_correlation_id(str(record["Sns"].get("MessageId") or "-"))
        outcomes.append(deps.manager.process(record, context).as_dict())
    return {"mailed": outcomes}
