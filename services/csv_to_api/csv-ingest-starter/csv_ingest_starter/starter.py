"""From an EventBridge "Object Created" event to a started execution (or nothing, for a duplicate)."""

from __future__ import annotations

import json
from dataclasses import dataclass
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
class Starter:
    lifecycle: Lifecycle
    sfn: Any
    s3: Any
    state_machine_arn: str
    incoming_prefix: str

    def start(self, event: dict[str, Any]) -> str:
        """``started``, ``duplicate`` or ``ignored`` (a key the rule should not have sent)."""
        file, where = file_from_event(event)
        if file is None:  # no ETag in the event: the object's current version
            bucket, _, key = where.partition("/")
            head = self.s3.head_object(Bucket=bucket, Key=key)
            file = FileRef(bucket=bucket, key=key, etag=head["ETag"], size=int(head["ContentLength"]))
        if not file.key.startswith(self.incoming_prefix) or not file.key.lower().endswith(".csv"):
            logger.warning("event for a key outside incoming/*.csv ignored", key=file.key)
            return "ignored"
        new = self.lifecycle.receive(file, file.file_id)
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
        logger.info("execution started", file_id=file.file_id, key=file.key, first_event=new)
        return "started"
