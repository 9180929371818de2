"""Lambda entry point, and the template every handler of this repo follows:

1. ``Settings``: a frozen dataclass the one loader (``pipelines_shared.settings.load_settings``) fills
   from environment variables. A value Terraform sets has no default here: it is required, so the
   deployed value and the code never disagree (``tests/e2e/test_settings.py`` compares them).
2. ``Dependencies``: the collaborators of one cold start, built once by ``dependencies()`` (cached),
   on first use rather than at import, so importing the module makes no network call.
3. ``lambda_handler``: hands the event to the one function that does the work.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from pipelines_shared.batch import BatchResponse, process_sqs_batch
from pipelines_shared.log import configure_logging, inject_lambda_context
from pipelines_shared.settings import load_settings
from pipelines_shared.tracking.dynamodb import DynamoDBTrackingStore

from .worker import Worker


@dataclass(frozen=True, kw_only=True)
class Settings:
    tracking_table: str
    log_level: str


@dataclass(frozen=True)
class Dependencies:
    worker: Worker


@functools.cache
def dependencies() -> Dependencies:
    settings = load_settings(Settings)
    configure_logging(level=settings.log_level)
    return Dependencies(worker=Worker(DynamoDBTrackingStore(table_name=settings.tracking_table)))


@inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> BatchResponse:
    worker = dependencies().worker
    return process_sqs_batch(event, context, lambda record: worker.process(record.body, record.message_id))
