"""The work item as docs/example/schemas/work-item.schema.json says: what WorkItem writes validates,
the worker takes every example, and it refuses exactly what the schema refuses."""

from __future__ import annotations

import json

import pytest
from example_worker.contract import InvalidMessage, WorkItem
from example_worker.worker import NAMESPACE, Worker

from contract_schemas import REMOVE, contract, variant
from pipelines_shared.tracking.memory import MemoryTrackingStore

WORK_ITEM = contract("example", "work-item")
EXAMPLE = WORK_ITEM.examples[0]


@pytest.mark.parametrize("payload", [{"amount": "12.50"}, [1, "two", None], "text", 0, None])
def test_what_a_producer_writes_validates(payload: object):
    WORK_ITEM.assert_produced(json.loads(WorkItem(id="order-1", payload=payload).to_body()))


@pytest.mark.parametrize("example", WORK_ITEM.examples)
def test_the_worker_records_every_example(example: dict):
    store = MemoryTrackingStore()
    outcome = Worker(store).process(json.dumps(example), message_id="m-1")
    assert (outcome.item_id, outcome.created) == (example["id"], True)
    assert store.get(NAMESPACE, example["id"]) is not None


INVALID = {
    "version 2": variant(EXAMPLE, {"version": 2}),
    "version as text": variant(EXAMPLE, {"version": "1"}),
    "version true": variant(EXAMPLE, {"version": True}),
    "no version": variant(EXAMPLE, {"version": REMOVE}),
    "no id": variant(EXAMPLE, {"id": REMOVE}),
    "empty id": variant(EXAMPLE, {"id": ""}),
    "id of 257 characters": variant(EXAMPLE, {"id": "x" * 257}),
    "numeric id": variant(EXAMPLE, {"id": 7}),
    "no payload": variant(EXAMPLE, {"payload": REMOVE}),
    "an array": [EXAMPLE],
}


@pytest.mark.parametrize(("case", "document"), INVALID.items(), ids=list(INVALID))
def test_the_schema_and_the_worker_refuse_the_same_bodies(case: str, document: object):
    assert not WORK_ITEM.is_valid(document), f"the schema accepts {case}"
    with pytest.raises(InvalidMessage):
        WorkItem.from_body(json.dumps(document))
