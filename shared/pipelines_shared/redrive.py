"""Redrive a dead-letter queue: receive, deliver to where the message failed, delete only after the
delivery succeeded. A failure between the two leaves the message in both places; every consumer of
ours is idempotent, so the worst case is a duplicate the consumer absorbs, never a lost message.

Two kinds of DLQ, two deliveries:

- a queue's DLQ (SQS redrive policy): the message goes back to its source queue (:func:`to_queue`);
- a function's on-failure destination (Lambda async invocations): the record's ``requestPayload`` is
  invoked again, asynchronously, so a failure lands in the same destination (:func:`to_function`).

Used by ``lp dlq`` and by each pipeline's DLQ processor function.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# How long a received message stays hidden from other consumers of the DLQ while we redrive it.
REDRIVE_VISIBILITY_SECONDS = 60

Deliver = Callable[[Mapping[str, Any]], None]


@dataclass
class Moved:
    message_id: str
    body: str
    receive_count: int
    action: str  # "would redrive" | "redriven" | "send failed: ..." | "delete failed: ..." | "not found"

    def as_dict(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "receive_count": self.receive_count,
            "action": self.action,
            "body": self.body,
        }


def receive_all(sqs: Any, url: str, *, visibility: int, limit: int) -> Iterator[dict[str, Any]]:
    """Receive until the queue answers empty or ``limit`` messages came; each is hidden for
    ``visibility`` seconds, so none is seen twice in one pass."""
    seen = 0
    while seen < limit:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(10, limit - seen),
            VisibilityTimeout=visibility,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return
        for message in batch:
            seen += 1
            yield message


def peek(sqs: Any, url: str, *, limit: int = 10) -> list[dict[str, Any]]:
    """Up to ``limit`` messages of the DLQ, left in it (made visible again at once)."""
    received = list(receive_all(sqs, url, visibility=REDRIVE_VISIBILITY_SECONDS, limit=limit))
    # Released only after the pass: released at once, they would be received again within it.
    for message in received:
        release(sqs, url, message)
    return [describe(message) for message in received]


def redrive(
    sqs: Any,
    url: str,
    deliver: Deliver,
    *,
    message_ids: set[str] | None = None,
    dry_run: bool = True,
    limit: int = 10_000,
) -> list[Moved]:
    """Deliver messages (all, or those in ``message_ids``) of the DLQ at ``url`` and delete them."""
    outcome: list[Moved] = []
    kept: list[dict[str, Any]] = []  # left in the DLQ: made visible again after the pass
    for message in receive_all(sqs, url, visibility=REDRIVE_VISIBILITY_SECONDS, limit=limit):
        if message_ids is not None and message["MessageId"] not in message_ids:
            kept.append(message)
            continue
        moved = Moved(
            message["MessageId"], message["Body"], describe(message)["receive_count"], "would redrive"
        )
        outcome.append(moved)
        if dry_run:
            kept.append(message)
            continue
        try:
            deliver(message)
        except Exception as error:
            moved.action = f"send failed: {error}"
            kept.append(message)
            continue
        try:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        except Exception as error:
            # Delivered but still in the DLQ: it will be seen again; the consumer's idempotency absorbs it.
            moved.action = f"delete failed: {error}"
            continue
        moved.action = "redriven"
    for message in kept:
        release(sqs, url, message)
    if message_ids is not None:
        missing = message_ids - {m.message_id for m in outcome}
        outcome.extend(Moved(message_id, "", 0, "not found") for message_id in sorted(missing))
    return outcome


def to_queue(sqs: Any, source_url: str) -> Deliver:
    """Deliver by sending the message, with its attributes, to ``source_url``."""

    def deliver(message: Mapping[str, Any]) -> None:
        sqs.send_message(QueueUrl=source_url, **send_arguments(message))

    return deliver


class NotADestinationRecord(ValueError):
    """The message is not a Lambda destination record (no ``requestPayload``)."""


def request_payload(body: str) -> Any:
    """The original event inside a Lambda on-failure destination record."""
    try:
        record = json.loads(body)
    except ValueError as error:
        raise NotADestinationRecord(f"not JSON: {error}") from error
    if not isinstance(record, dict) or "requestPayload" not in record:
        raise NotADestinationRecord("no requestPayload: not a Lambda destination record")
    return record["requestPayload"]


def to_function(
    lambda_client: Any, function_name: str, amend: Callable[[Any], Any] = lambda payload: payload
) -> Deliver:
    """Deliver by invoking ``function_name`` asynchronously with the record's ``requestPayload``
    (changed by ``amend``); a failure then lands in the function's on-failure destination again."""

    def deliver(message: Mapping[str, Any]) -> None:
        payload = amend(request_payload(message["Body"]))
        response = lambda_client.invoke(
            FunctionName=function_name, InvocationType="Event", Payload=json.dumps(payload).encode()
        )
        if int(response.get("StatusCode", 0)) != 202:
            raise RuntimeError(f"async invoke of {function_name} answered {response.get('StatusCode')}")

    return deliver


def send_arguments(message: Mapping[str, Any]) -> dict[str, Any]:
    arguments: dict[str, Any] = {"MessageBody": message["Body"]}
    if message.get("MessageAttributes"):
        arguments["MessageAttributes"] = {
            name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
            for name, value in message["MessageAttributes"].items()
        }
    system = message.get("Attributes") or {}
    if "MessageGroupId" in system:  # a FIFO queue: keep the group, and a fresh dedup id per redrive
        arguments["MessageGroupId"] = system["MessageGroupId"]
        arguments["MessageDeduplicationId"] = f"redrive-{message['MessageId']}"
    return arguments


def release(sqs: Any, url: str, message: Mapping[str, Any]) -> None:
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)


def describe(message: Mapping[str, Any]) -> dict[str, Any]:
    system = message.get("Attributes") or {}
    return {
        "message_id": message["MessageId"],
        "receive_count": int(system.get("ApproximateReceiveCount", 0)),
        "sent_at": system.get("SentTimestamp"),
        "attributes": {
            name: value.get("StringValue") for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "body": message["Body"],
    }
