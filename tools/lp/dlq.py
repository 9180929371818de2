"""Every dead-letter queue of every pipeline: list, peek, redrive.

A pipeline declares its dead-letter queues in its Terraform outputs, either as a pair ``dlq_url`` /
``queue_url`` (the DLQ of the queue its worker reads) or, for a pipeline with several, as
``dead_letter_queues = {<name> = {dlq_url, source_url}}``. A redrive receives from the DLQ, sends each
message to its source queue and deletes it from the DLQ only after the send succeeded: a failure
between the two leaves the message in both, and every consumer of ours is idempotent, so the worst
case is a duplicate delivery that the consumer absorbs, never a lost message.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from lp.deployment import LpError

# How long a received message stays hidden from other consumers of the DLQ while we redrive it.
REDRIVE_VISIBILITY_SECONDS = 60


@dataclass(frozen=True)
class DeadLetterQueue:
    pipeline: str
    name: str
    dlq_url: str
    source_url: str

    @property
    def id(self) -> str:
        """How the operator names it: ``<pipeline>`` or ``<pipeline>/<name>``."""
        return self.pipeline if self.name == "main" else f"{self.pipeline}/{self.name}"


def discover(outputs: Mapping[str, Any]) -> list[DeadLetterQueue]:
    """The dead-letter queues every deployed pipeline declares in its outputs."""
    found: list[DeadLetterQueue] = []
    for pipeline, value in sorted(outputs.items()):
        if not isinstance(value, dict):
            continue
        if value.get("dlq_url") and value.get("queue_url"):
            found.append(DeadLetterQueue(pipeline, "main", value["dlq_url"], value["queue_url"]))
        for name, pair in sorted((value.get("dead_letter_queues") or {}).items()):
            found.append(DeadLetterQueue(pipeline, name, pair["dlq_url"], pair["source_url"]))
    return found


def select(queues: Iterable[DeadLetterQueue], wanted: str | None) -> list[DeadLetterQueue]:
    """All queues, or the one named ``<pipeline>`` / ``<pipeline>/<name>``; a wrong name is an error."""
    queues = list(queues)
    if wanted is None:
        return queues
    chosen = [q for q in queues if wanted in (q.id, q.pipeline)]
    if not chosen:
        known = ", ".join(q.id for q in queues) or "none deployed"
        raise LpError(f"no dead-letter queue {wanted!r} (known: {known})")
    return chosen


def depth(sqs: Any, url: str) -> tuple[int, int]:
    """(visible, in flight) messages."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


@dataclass
class Moved:
    message_id: str
    body: str
    receive_count: int
    action: str  # "would redrive" | "redriven" | "send failed: ..." | "delete failed: ..."

    def as_dict(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "receive_count": self.receive_count,
            "action": self.action,
            "body": self.body,
        }


@dataclass
class Redrive:
    """The outcome of one redrive (or dry run) of one DLQ."""

    queue: DeadLetterQueue
    dry_run: bool
    messages: list[Moved] = field(default_factory=list)

    @property
    def moved(self) -> int:
        return sum(1 for m in self.messages if m.action == "redriven")

    @property
    def failed(self) -> int:
        return sum(1 for m in self.messages if "failed" in m.action)


def _receive_all(sqs: Any, url: str, *, visibility: int, limit: int) -> Iterator[dict[str, Any]]:
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


def peek(sqs: Any, queue: DeadLetterQueue, *, limit: int = 10) -> list[dict[str, Any]]:
    """Up to ``limit`` messages of the DLQ, left in it (made visible again at once)."""
    received = list(_receive_all(sqs, queue.dlq_url, visibility=REDRIVE_VISIBILITY_SECONDS, limit=limit))
    # Released only after the pass: released at once, they would be received again within it.
    for message in received:
        _release(sqs, queue.dlq_url, message)
    return [_describe(message) for message in received]


def redrive(
    sqs: Any,
    queue: DeadLetterQueue,
    *,
    message_ids: set[str] | None = None,
    dry_run: bool = True,
    limit: int = 10_000,
) -> Redrive:
    """Move messages (all, or those in ``message_ids``) from the DLQ back to its source queue."""
    outcome = Redrive(queue, dry_run)
    kept: list[dict[str, Any]] = []  # left in the DLQ: made visible again after the pass
    for message in _receive_all(sqs, queue.dlq_url, visibility=REDRIVE_VISIBILITY_SECONDS, limit=limit):
        described = _describe(message)
        if message_ids is not None and message["MessageId"] not in message_ids:
            kept.append(message)
            continue
        moved = Moved(message["MessageId"], message["Body"], described["receive_count"], "would redrive")
        outcome.messages.append(moved)
        if dry_run:
            kept.append(message)
            continue
        try:
            sqs.send_message(QueueUrl=queue.source_url, **_send_arguments(message))
        except Exception as error:
            moved.action = f"send failed: {error}"
            kept.append(message)
            continue
        try:
            sqs.delete_message(QueueUrl=queue.dlq_url, ReceiptHandle=message["ReceiptHandle"])
        except Exception as error:
            # Sent but still in the DLQ: it will be seen again; the consumer's idempotency absorbs it.
            moved.action = f"delete failed: {error}"
            continue
        moved.action = "redriven"
    for message in kept:
        _release(sqs, queue.dlq_url, message)
    if message_ids is not None:
        missing = message_ids - {m.message_id for m in outcome.messages}
        for message_id in sorted(missing):
            outcome.messages.append(Moved(message_id, "", 0, "not found"))
    return outcome


def _send_arguments(message: Mapping[str, Any]) -> dict[str, Any]:
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


def _release(sqs: Any, url: str, message: Mapping[str, Any]) -> None:
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)


def _describe(message: Mapping[str, Any]) -> dict[str, Any]:
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
