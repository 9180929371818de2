"""The work: record each message's item exactly once in the tracking store."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from pipelines_shared.log import get_logger
from pipelines_shared.tracking import TrackedItem, TrackingStore

from .contract import WorkItem

NAMESPACE = "example"
STATUS_PROCESSED = "processed"

logger = get_logger(__name__)


@dataclass(frozen=True)
class Outcome:
    item_id: str
    created: bool  # False: an earlier delivery already processed it (at-least-once delivery)


class Worker:
    """Processes one message at a time; safe to see the same message twice."""

    def __init__(self, store: TrackingStore) -> None:
        self._store = store

    def process(self, body: str, message_id: str) -> Outcome:
        item = WorkItem.from_body(body)
        digest = hashlib.sha256(json.dumps(item.payload, sort_keys=True).encode()).hexdigest()
        created = self._store.create(
            TrackedItem(
                namespace=NAMESPACE,
                key=item.id,
                status=STATUS_PROCESSED,
                attributes={"message_id": message_id, "payload_sha256": digest},
            )
        )
        if created:
            logger.info("item processed", item_id=item.id)
        else:
            logger.info("item already processed, skipped", item_id=item.id)
        return Outcome(item_id=item.id, created=created)
