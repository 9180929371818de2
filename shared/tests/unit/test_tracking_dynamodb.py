"""What the DynamoDB adapter writes to the table: shards, key names, TTL, numbers (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto import mock_aws

from pipelines_shared import aws
from pipelines_shared.retry import RetryPolicy
from pipelines_shared.tracking import InvalidItemError, TrackedItem
from pipelines_shared.tracking.dynamodb import DynamoDBTrackingStore, create_table


class FixedClock:
    def __init__(self) -> None:
        self.now = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        aws.reset_clients()
        yield aws.client("dynamodb")
    aws.reset_clients()


def make_store(**options: Any) -> DynamoDBTrackingStore:
    store = DynamoDBTrackingStore(options.pop("table_name", "tracking"), **options)
    create_table(store)
    return store


def raw_item(store: DynamoDBTrackingStore, namespace: str, key: str) -> dict[str, Any]:
    return store.client.get_item(TableName=store.table_name, Key=store._key(namespace, key))["Item"]


@pytest.mark.usefixtures("dynamodb")
def test_sharded_status_is_stored_with_a_stable_shard_but_read_back_plain() -> None:
    store = make_store(status_shards=4)
    keys = [f"2024/01/02/file-{i}.ndjson" for i in range(40)]
    store.create_many([TrackedItem("2024/01/02", key, "pending") for key in keys])

    stored = {raw_item(store, "2024/01/02", key)["status"]["S"] for key in keys}
    assert stored == {"pending#0", "pending#1", "pending#2", "pending#3"}  # spread over every shard
    # crc32, not hash(): the same key lands on the same shard in every Lambda process.
    assert store.stored_status("pending", "2024/01/02/file-0.ndjson") == "pending#1"

    assert {item.status for item in store.list_by_status("2024/01/02", "pending", limit=None)} == {"pending"}
    assert len(store.list_by_status("2024/01/02", "pending", limit=None)) == 40
    assert len(store.list_by_status("2024/01/02", "pending", limit=15)) == 15
    assert store.count_by_status("2024/01/02") == {"pending": 40}


@pytest.mark.usefixtures("dynamodb")
def test_transition_keeps_the_item_on_its_shard() -> None:
    store = make_store(status_shards=8)
    store.create(TrackedItem("job-1", "alert-5", "pending"))
    assert store.transition("job-1", "alert-5", from_statuses="pending", to_status="claimed") is True
    shard = store.stored_status("pending", "alert-5").rsplit("#", 1)[1]
    assert raw_item(store, "job-1", "alert-5")["status"]["S"] == f"claimed#{shard}"


@pytest.mark.usefixtures("dynamodb")
def test_custom_key_attribute_names_are_used_and_reserved() -> None:
    store = make_store(partition_key="date_prefix", sort_key="file_key")
    store.create(TrackedItem("2024/01/02", "a.ndjson", "pending", {"pk": "just an attribute"}))

    raw = raw_item(store, "2024/01/02", "a.ndjson")
    assert raw["date_prefix"] == {"S": "2024/01/02"}
    assert raw["file_key"] == {"S": "a.ndjson"}
    assert store.get("2024/01/02", "a.ndjson").attributes == {"pk": "just an attribute"}
    with pytest.raises(InvalidItemError, match="file_key"):
        store.create(TrackedItem("2024/01/02", "b.ndjson", "pending", {"file_key": "clash"}))


@pytest.mark.usefixtures("dynamodb")
def test_attributes_are_top_level_and_floats_are_exact_numbers() -> None:
    store = make_store()
    store.create(TrackedItem("ns", "k", "pending", {"ratio": 0.1, "rows": 12}))
    raw = raw_item(store, "ns", "k")
    assert raw["ratio"] == {"N": "0.1"}
    assert raw["rows"] == {"N": "12"}
    assert raw["version"] == {"N": "1"}


@pytest.mark.usefixtures("dynamodb")
def test_ttl_is_set_on_create_and_pushed_back_on_every_change() -> None:
    clock = FixedClock()
    store = make_store(ttl_attribute="expires_at", ttl_seconds=3600, clock=clock)
    store.create(TrackedItem("ns", "k", "pending"))
    created = int(clock.now.timestamp())
    assert raw_item(store, "ns", "k")["expires_at"] == {"N": str(created + 3600)}

    clock.now += timedelta(minutes=50)
    store.transition("ns", "k", from_statuses="pending", to_status="running")
    assert raw_item(store, "ns", "k")["expires_at"] == {"N": str(created + 3000 + 3600)}
    assert "expires_at" not in store.get("ns", "k").attributes


def test_ttl_needs_both_attribute_and_duration() -> None:
    with pytest.raises(ValueError, match="go together"):
        DynamoDBTrackingStore("t", ttl_attribute="expires_at")


@pytest.mark.usefixtures("dynamodb")
def test_get_many_retries_keys_dynamodb_left_unprocessed() -> None:
    store = make_store()
    store.create_many([TrackedItem("ns", f"k{i}", "pending") for i in range(5)])
    real_client = store.client
    sleeps: list[float] = []

    class ThrottledOnce:
        """Answers the first BatchGetItem with only one item and the rest as UnprocessedKeys."""

        calls = 0

        def __getattr__(self, name: str) -> Any:
            return getattr(real_client, name)

        def batch_get_item(self, RequestItems: dict) -> dict:
            self.calls += 1
            response = real_client.batch_get_item(RequestItems=RequestItems)
            if self.calls == 1:
                request = RequestItems[store.table_name]
                response["Responses"][store.table_name] = response["Responses"][store.table_name][:1]
                returned = response["Responses"][store.table_name][0]
                left = [key for key in request["Keys"] if key["sk"] != returned["sk"]]
                response["UnprocessedKeys"] = {store.table_name: {**request, "Keys": left}}
            return response

    throttled = ThrottledOnce()
    store = DynamoDBTrackingStore(
        "tracking", client=throttled, retry_policy=RetryPolicy(sleep=sleeps.append, jitter=lambda a, b: b)
    )
    found = store.get_many("ns", [f"k{i}" for i in range(5)])

    assert set(found) == {f"k{i}" for i in range(5)}
    assert throttled.calls == 2
    assert len(sleeps) == 1  # backed off before asking for the rest
