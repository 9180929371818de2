"""Shared library of the lambda-pipelines services: settings, AWS clients, logging, SQS batches,
retries and tracking stores. Each module does one job; see shared/README.md.
"""

from pipelines_shared.aws import client, reset_clients
from pipelines_shared.batch import process_sqs_batch
from pipelines_shared.log import (
    bind_correlation_id,
    configure_logging,
    correlation_id_from_record,
    correlation_message_attributes,
    get_correlation_id,
    get_logger,
    inject_lambda_context,
    new_correlation_id,
)
from pipelines_shared.retry import (
    PermanentError,
    RetryPolicy,
    TransientError,
    call_with_retry,
    is_transient,
    retry_transient,
)
from pipelines_shared.settings import (
    SettingsError,
    get_parameter,
    get_secret,
    get_secret_json,
    load_settings,
)
from pipelines_shared.tracking import (
    DynamoDBTrackingStore,
    MemoryTrackingStore,
    TrackedItem,
    TrackingStore,
)

__all__ = [
    "DynamoDBTrackingStore",
    "MemoryTrackingStore",
    "PermanentError",
    "RetryPolicy",
    "SettingsError",
    "TrackedItem",
    "TrackingStore",
    "TransientError",
    "bind_correlation_id",
    "call_with_retry",
    "client",
    "configure_logging",
    "correlation_id_from_record",
    "correlation_message_attributes",
    "get_correlation_id",
    "get_logger",
    "get_parameter",
    "get_secret",
    "get_secret_json",
    "inject_lambda_context",
    "is_transient",
    "load_settings",
    "new_correlation_id",
    "process_sqs_batch",
    "reset_clients",
    "retry_transient",
]
