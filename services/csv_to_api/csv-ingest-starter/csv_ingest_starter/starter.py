"""From an EventBridge "Object Created" event to a started execution (or nothing, for a duplicate)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from csv_to_api.contract import FileRef
from csv_to_api.lifecycle import Lifecycle

from pipelines_shared.log import get_logger

logger = get_logger(__name__)


class NotAnObjectEvent(ValueError):
    """The message is not an S3 Object Created event: it goes to the DLQ after its retries."""


def file_from_event(event: dict[str, Any]) -> tuple[FileRef | None, str]:
    """The object version an EventBridge S3 event names (ETag None-able: some emitters omit it)."""
    if event.get("source") != "aws.s3" or event.get("detail-type") != "Object Created":
        got = f"{event.get('source')!r} / {event.get('detail-type')!r}"
        raise NotAnObjectEvent(f"expected an aws.s3 Object Created event, got {got}")
    detail = event.get("detail") or {}
    try:
        bucket = detail["bucket"]["name"]
        obj = detail["object"]
        key, size = obj["key"], int(obj.get("size", 0))
    except (KeyError, TypeError, ValueError) as error:
        raise NotAnObjectEvent(f"event detail lacks bucket.name / object.key: {error!r}") from error
    etag = obj.get("etag") or ""
    if not etag:
        return None, f"{bucket}/{key}"
    return FileRef(bucket=bucket, key=key, etag=etag, size=size), ""


@dataclass
class FilesInFlight:
    """At most ``limit`` files' executions running at once; a file over the limit waits in the ingest
    queue (sent back with ``delay_seconds``, a new message, so its receive count does not grow toward
    the DLQ). With ``limit`` x the Map's MaxConcurrency <= the caller's reserved concurrency, no chunk
    invocation is ever throttled, and the backlog shows as queue depth and age."""

    sqs: Any
    queue_url: str
    limit: int
    delay_seconds: int = 10
    count_seconds: float = 1.0
    """How long a count of the running executions is used (plus the files this process started since):
    one ``ListExecutions`` per batch of messages, not one per message. Executions that ended meanwhile
    are still counted, so a stale count defers a file; it never starts one too many."""
    clock: Callable[[], float] = time.monotonic
    _running: int = field(default=0, init=False)
    _counted_at: float | None = field(default=None, init=False)

    def full(self, sfn: Any, state_machine_arn: str) -> bool:
        now = self.clock()
        if self._counted_at is None or now - self._counted_at > self.count_seconds:
            self._running = self._count(sfn, state_machine_arn)
            self._counted_at = now
        return self._running >= self.limit

    def started(self) -> None:
        """This process started a file's execution: count it until the next listing."""
        self._running += 1

    def _count(self, sfn: Any, state_machine_arn: str) -> int:
        running = 0
        pages = sfn.get_paginator("list_executions").paginate(
            stateMachineArn=state_machine_arn, statusFilter="RUNNING", PaginationConfig={"PageSize": 100}
        )
        for page in pages:
            running += len(page["executions"])
            if running >= self.limit:
                break
        return running

    def defer(self, event: dict[str, Any]) -> None:
        self.sqs.send_message(
            QueueUrl=self.queue_url, MessageBody=json.dumps(event), DelaySeconds=self.delay_seconds
        )


@dataclass
class Starter:
    lifecycle: Lifecycle
    sfn: Any
    s3: Any
    state_machine_arn: str
    incoming_prefix: str
    in_flight: FilesInFlight | None = None
    """None: every file starts at once (the Map retries throttled chunk invocations)."""

    def start(self, event: dict[str, Any]) -> str:
        """``started``, ``duplicate``, ``deferred`` (too many files in flight: back to the queue, later)
        or ``ignored`` (a key the rule should not have sent)."""
        file, where = file_from_event(event)
        if file is None:  # no ETag in the event: the object's current version
            bucket, _, key = where.partition("/")
            head = self.s3.head_object(Bucket=bucket, Key=key)
            file = FileRef(bucket=bucket, key=key, etag=head["ETag"], size=int(head["ContentLength"]))
        if not file.key.startswith(self.incoming_prefix) or not file.key.lower().endswith(".csv"):
            logger.warning("event for a key outside incoming/*.csv ignored", key=file.key)
            return "ignored"
        new = self.lifecycle.receive(file, file.file_id)
        if self.in_flight is not None and self.in_flight.full(self.sfn, self.state_machine_arn):
            self.in_flight.defer(event)
            logger.info("files in flight at the limit: the file waits in the queue", file_id=file.file_id,
                        limit=self.in_flight.limit, delay_seconds=self.in_flight.delay_seconds)  # fmt: skip
            return "deferred"
        try:
            self.sfn.start_execution(
                stateMachineArn=self.state_machine_arn,
                name=file.file_id,
                input=json.dumps({"file": file.to_json()}),
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                raise
            logger.info("duplicate event: the file's execution exists", file_id=file.file_id, key=file.key)
            return "duplicate"
        if self.in_flight is not None:
            self.in_flight.started()
        logger.info("execution started", file_id=file.file_id, key=file.key, first_event=new)
        return "started"
