"""Every dead-letter queue of every pipeline: list, peek, redrive (pipelines_shared.redrive does the work).

A pipeline declares its dead-letter queues in its Terraform outputs, either as a pair ``dlq_url`` /
``queue_url`` (the DLQ of the queue its worker reads) or, for a pipeline with several, as
``dead_letter_queues = {<name> = {dlq_url, source_url}}``, or ``{dlq_url, function_name}`` for a
function's on-failure destination (its records are unwrapped and invoked again, asynchronously).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lp.deployment import LpError
from pipelines_shared import redrive as shared
from pipelines_shared.redrive import REDRIVE_VISIBILITY_SECONDS, Moved

__all__ = ["REDRIVE_VISIBILITY_SECONDS", "DeadLetterQueue", "Moved", "Redrive", "discover", "peek", "redrive"]


@dataclass(frozen=True)
class DeadLetterQueue:
    pipeline: str
    name: str
    dlq_url: str
    source_url: str = ""
    function_name: str = ""
    """Set for a function's on-failure destination: redriven by invoking it again."""

    @property
    def id(self) -> str:
        """How the operator names it: ``<pipeline>`` or ``<pipeline>/<name>``."""
        return self.pipeline if self.name == "main" else f"{self.pipeline}/{self.name}"

    @property
    def target(self) -> str:
        return f"function {self.function_name}" if self.function_name else self.source_url


def discover(outputs: Mapping[str, Any]) -> list[DeadLetterQueue]:
    """The dead-letter queues every deployed pipeline declares in its outputs."""
    found: list[DeadLetterQueue] = []
    for pipeline, value in sorted(outputs.items()):
        if not isinstance(value, dict):
            continue
        if value.get("dlq_url") and value.get("queue_url"):
            found.append(DeadLetterQueue(pipeline, "main", value["dlq_url"], value["queue_url"]))
        for name, pair in sorted((value.get("dead_letter_queues") or {}).items()):
            if pair is None:  # a queue of a part this deployment leaves out (e.g. no Splunk forwarder)
                continue
            found.append(
                DeadLetterQueue(
                    pipeline,
                    name,
                    pair["dlq_url"],
                    pair.get("source_url") or "",
                    pair.get("function_name") or "",
                )
            )
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


def peek(sqs: Any, queue: DeadLetterQueue, *, limit: int = 10) -> list[dict[str, Any]]:
    """Up to ``limit`` messages of the DLQ, left in it (made visible again at once)."""
    return shared.peek(sqs, queue.dlq_url, limit=limit)


def redrive(
    sqs: Any,
    queue: DeadLetterQueue,
    *,
    message_ids: set[str] | None = None,
    dry_run: bool = True,
    limit: int = 10_000,
    lambda_client: Any = None,
) -> Redrive:
    """Move messages (all, or those in ``message_ids``) from the DLQ back to where they failed."""
    if queue.function_name:
        if lambda_client is None:
            raise LpError(f"{queue.id} redrives by invoking {queue.function_name}: a Lambda client is needed")
        deliver = shared.to_function(lambda_client, queue.function_name)
    else:
        deliver = shared.to_queue(sqs, queue.source_url)
    moved = shared.redrive(sqs, queue.dlq_url, deliver, message_ids=message_ids, dry_run=dry_run, limit=limit)
    return Redrive(queue, dry_run, moved)
