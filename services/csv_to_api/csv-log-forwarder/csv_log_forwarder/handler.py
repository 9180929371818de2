"""CloudWatch Logs subscription target (invoked asynchronously): one delivery's log events to Splunk HEC.

Anything not delivered raises, so Lambda retries the invocation and then hands it to the function's
on-failure destination (see :func:`forwarder.forward` on duplicates). This function's own log group must
not be subscribed to it: every invocation logs a line, which would invoke it again.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

from pipelines_shared.log import configure_logging, get_logger, inject_lambda_context
from pipelines_shared.settings import SettingsError, load_settings

from .forwarder import HecOptions, decode_subscription_event, forward
from .hec import SecretHecClient

logger = get_logger(__name__)

# Room for the longest log group and stream names (512 characters each) in every event's envelope.
MIN_BATCH_BYTES = 16 * 1024


@dataclass(frozen=True, kw_only=True)
class Settings:
    hec_secret_arn: str
    """JSON: {"url": "https://host:8088", "token", "index"?, "ca_cert"? (PEM)}."""
    sourcetype: str
    max_batch_bytes: int
    """Most bytes in one POST; HEC refuses bodies over its max_content_length (1 MB on older Splunks)."""
    log_level: str
    connect_timeout: float = 3.0
    read_timeout: float = 10.0


@dataclass(frozen=True)
class Dependencies:
    settings: Settings
    hec: SecretHecClient


@functools.cache
def dependencies() -> Dependencies:
    settings = load_settings(Settings)
    if settings.max_batch_bytes < MIN_BATCH_BYTES:
        raise SettingsError(f"MAX_BATCH_BYTES={settings.max_batch_bytes} is below {MIN_BATCH_BYTES}")
    configure_logging(level=settings.log_level)
    hec = SecretHecClient(
        settings.hec_secret_arn, connect_timeout=settings.connect_timeout, read_timeout=settings.read_timeout
    )
    return Dependencies(settings, hec)


@inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deps = dependencies()
    batch = decode_subscription_event(event)
    if batch.is_control:
        logger.info("control message acknowledged")
        return {"message_type": batch.message_type}
    # Through the secrets cache once per invocation, so a rotated secret is picked up within its TTL.
    config = deps.hec.refresh()
    options = HecOptions(deps.settings.sourcetype, config.index, deps.settings.max_batch_bytes)
    result = forward(batch, deps.hec, options)
    summary = {"message_type": batch.message_type, "log_group": batch.log_group, **dataclasses.asdict(result)}
    logger.info("log events forwarded", **summary)
    return summary
