"""The DLQ processor: list, show and redrive the pipeline's dead letters, all or by id, dry run by default.

Event: ``{"action": "list" | "redrive", "source": "ingest" | "caller" | "executions",
"ids": [...], "dry_run": true, "limit": 100}`` (docs/csv_to_api/schemas/dlq-request.schema.json).

- ``ingest``: the ingest queue's DLQ; redriven to the ingest queue (the starter dedupes by file id).
- ``caller``: the caller's on-failure destination; each record's ``requestPayload`` is invoked again,
  asynchronously (row outcomes make a chunk sent twice send nothing twice).
- ``executions``: executions of the state machine that failed, timed out or were aborted and have no newer
  attempt; redriven by starting the same input under a new name ``<name>-r<n>`` (the file's steps are
  idempotent; pipelines_shared.executions).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from pipelines_shared import aws, redrive
from pipelines_shared.executions import failed_executions, redrive_executions
from pipelines_shared.log import configure_logging, get_logger, inject_lambda_context
from pipelines_shared.settings import load_settings

logger = get_logger(__name__)


@dataclass(frozen=True, kw_only=True)
class Settings:
    ingest_queue_url: str
    ingest_dlq_url: str
    caller_dlq_url: str
    caller_function_name: str
    state_machine_arn: str
    log_level: str


@dataclass(frozen=True)
class Dependencies:
    settings: Settings
    sqs: Any
    sfn: Any
    lambda_client: Any


@functools.cache
def dependencies() -> Dependencies:
    settings = load_settings(Settings)
    configure_logging(level=settings.log_level)
    return Dependencies(settings, aws.client("sqs"), aws.client("stepfunctions"), aws.client("lambda"))


@inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deps = dependencies()
    config = deps.settings
    action = event.get("action", "list")
    source = event.get("source", "ingest")
    dry_run = bool(event.get("dry_run", True))
    limit = int(event.get("limit", 100))
    ids = set(event["ids"]) if event.get("ids") else None
    sqs, sfn = deps.sqs, deps.sfn
    if source == "executions":
        if action == "list":
            found = failed_executions(sfn, config.state_machine_arn, limit, unresolved_only=True)
            return {"source": source, "executions": found}
        if action == "redrive":
            done = redrive_executions(sfn, config.state_machine_arn, names=ids, dry_run=dry_run, limit=limit)
            logger.info("executions redriven", dry_run=dry_run, count=len(done))
            return {"source": source, "dry_run": dry_run, "executions": done}
    elif source in ("ingest", "caller"):
        url = config.ingest_dlq_url if source == "ingest" else config.caller_dlq_url
        if action == "list":
            return {"source": source, "messages": redrive.peek(sqs, url, limit=limit)}
        if action == "redrive":
            deliver = (
                redrive.to_queue(sqs, config.ingest_queue_url)
                if source == "ingest"
                else redrive.to_function(deps.lambda_client, config.caller_function_name)
            )
            moved = redrive.redrive(sqs, url, deliver, message_ids=ids, dry_run=dry_run, limit=limit)
            logger.info("dead letters redriven", source=source, dry_run=dry_run, moved=len(moved))
            return {"source": source, "dry_run": dry_run, "messages": [m.as_dict() for m in moved]}
    raise ValueError(f"unknown action {action!r} or source {source!r}")
