"""The shapes an SQS message from the landing bucket can take, reduced to the objects it names.

* an S3 event notification (``{"Records": [{"eventSource": "aws:s3", ...}]}``), object keys
  URL-encoded (``+`` for a space);
* the ``s3:TestEvent`` S3 sends when a notification is configured: nothing to do;
* the same wrapped by SNS (``{"Type": "Notification", "Message": "<json>"}``);
* an EventBridge S3 event (``{"source": "aws.s3", "detail-type": "Object Created", ...}``), keys
  not encoded.

Anything else is a :class:`NotAnS3Event`, a permanent error: its record fails until SQS moves it
to the DLQ.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from pipelines_shared.log import get_logger
from pipelines_shared.retry import PermanentError

logger = get_logger(__name__)


class NotAnS3Event(PermanentError):
    """The message is not an S3 object-created notification in any shape we know."""


@dataclass(frozen=True)
class ObjectRef:
    bucket: str
    key: str
    size: int | None = None
    etag: str | None = None


def objects_in_message(body: str) -> list[ObjectRef]:
    """The objects created according to one SQS message body (empty for test and other events)."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, TypeError) as exc:
        raise NotAnS3Event(f"message body is not JSON: {exc}") from None
    return _objects_in(data, unwrapped=False)


def _objects_in(data: Any, *, unwrapped: bool) -> list[ObjectRef]:
    if not isinstance(data, dict):
        raise NotAnS3Event(f"message is a JSON {type(data).__name__}, not an S3 event")
    if data.get("Event") == "s3:TestEvent":
        logger.info("s3:TestEvent ignored", bucket=data.get("Bucket"))
        return []
    if data.get("Type") == "Notification" and isinstance(data.get("Message"), str) and not unwrapped:
        try:
            inner = json.loads(data["Message"])
        except json.JSONDecodeError as exc:
            raise NotAnS3Event(f"SNS message is not JSON: {exc}") from None
        return _objects_in(inner, unwrapped=True)
    try:
        if data.get("source") == "aws.s3" and isinstance(data.get("detail"), dict):
            return _from_eventbridge(data)
        if isinstance(data.get("Records"), list):
            return [ref for record in data["Records"] if (ref := _from_record(record)) is not None]
    except (KeyError, TypeError, AttributeError) as exc:
        raise NotAnS3Event(f"malformed S3 event: missing or bad {exc}") from None
    raise NotAnS3Event(f"not an S3 event notification (keys: {', '.join(sorted(map(str, data))[:8])})")


def _from_record(record: dict[str, Any]) -> ObjectRef | None:
    if record.get("eventSource") != "aws:s3":
        raise NotAnS3Event(f"record from {record.get('eventSource')!r}, not aws:s3")
    event_name = str(record.get("eventName", ""))
    if not event_name.startswith("ObjectCreated:"):
        logger.info("S3 event ignored", event_name=event_name)
        return None
    obj = record["s3"]["object"]
    return ObjectRef(
        bucket=record["s3"]["bucket"]["name"],
        key=unquote_plus(obj["key"]),
        size=_int_or_none(obj.get("size")),
        etag=obj.get("eTag"),
    )


def _from_eventbridge(event: dict[str, Any]) -> list[ObjectRef]:
    if event.get("detail-type") != "Object Created":
        logger.info("S3 event ignored", detail_type=event.get("detail-type"))
        return []
    detail = event["detail"]
    obj = detail["object"]
    return [
        ObjectRef(
            bucket=detail["bucket"]["name"],
            key=obj["key"],
            size=_int_or_none(obj.get("size")),
            etag=obj.get("etag"),
        )
    ]


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
