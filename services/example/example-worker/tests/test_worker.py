"""The worker's contract: each item recorded once, bad messages rejected as permanent."""

from __future__ import annotations

import json

import pytest
from example_worker.contract import InvalidMessage, WorkItem
from example_worker.worker import NAMESPACE, Worker

from pipelines_shared.retry import PermanentError
from pipelines_shared.tracking.memory import MemoryTrackingStore


def body(item_id: str = "a-1", payload: object = None, **extra) -> str:
    return json.dumps({"version": 1, "id": item_id, "payload": payload or {"n": 1}, **extra})


def test_a_new_item_is_recorded_with_its_message_id():
    store = MemoryTrackingStore()
    outcome = Worker(store).process(body("a-1"), message_id="m-1")
    assert outcome.created
    item = store.get(NAMESPACE, "a-1")
    assert item is not None
    assert item.status == "processed"
    assert item.attributes["message_id"] == "m-1"


def test_a_redelivered_item_is_skipped_not_duplicated():
    store = MemoryTrackingStore()
    worker = Worker(store)
    worker.process(body("a-1"), message_id="m-1")
    again = worker.process(body("a-1"), message_id="m-2")
    assert not again.created
    assert store.get(NAMESPACE, "a-1").attributes["message_id"] == "m-1"
    assert store.count_by_status(NAMESPACE) == {"processed": 1}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        (json.dumps({"version": 2, "id": "x", "payload": 1}), "unsupported version"),
        (json.dumps({"version": 1, "payload": 1}), "id must be"),
        (json.dumps({"version": 1, "id": "", "payload": 1}), "id must be"),
        (json.dumps({"version": 1, "id": "x" * 257, "payload": 1}), "id must be"),
        (json.dumps({"version": 1, "id": "x"}), "payload is missing"),
    ],
)
def test_invalid_messages_are_permanent_errors_with_a_reason(raw: str, reason: str):
    store = MemoryTrackingStore()
    with pytest.raises(InvalidMessage, match=reason) as raised:
        Worker(store).process(raw, message_id="m")
    assert isinstance(raised.value, PermanentError)
    assert store.count_by_status(NAMESPACE) == {}


def test_contract_round_trips():
    item = WorkItem(id="a", payload={"nested": [1, "two"]})
    assert WorkItem.from_body(item.to_body()) == item
