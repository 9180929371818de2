"""DynamoDB tracking store: conditional writes for idempotence and compare-and-set.

Table shape (Terraform owns it; tests create it the same way):

* hash key ``partition_key`` (default ``pk``) = namespace, range key ``sort_key`` (default ``sk``) = key,
  both strings;
* a GSI ``status_index`` (default ``status-index``) with hash key ``status`` and range key
  ``partition_key``, projecting ALL attributes (``list_by_status`` reads items from it);
* optionally TTL enabled on ``ttl_attribute``.

Item attributes are stored as top-level DynamoDB attributes next to the system ones, so they can be
read and filtered in the console; floats are stored as Decimal.

Status sharding: a namespace with many items in one status (say 100 000 "pending" files) puts them all
under one GSI hash key, a hot partition. With ``status_shards=N`` the stored status is
``"<status>#<crc32(key) % N>"``; ``list_by_status`` queries the N shards and the API only ever speaks
plain statuses.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from pipelines_shared import aws
from pipelines_shared.clock import Clock, utc_now
from pipelines_shared.retry import DEFAULT_POLICY, RetryPolicy, TransientError
from pipelines_shared.tracking.base import TrackingStore, unique_items
from pipelines_shared.tracking.exceptions import InvalidItemError
from pipelines_shared.tracking.types import TrackedItem

STATUS = "status"
VERSION = "version"
CREATED_AT = "created_at"
UPDATED_AT = "updated_at"

_BATCH_GET_LIMIT = 100  # DynamoDB's per-request maximum


def status_shard(key: str, shards: int) -> int:
    """The GSI shard of an item's status: ``crc32(key) % shards``, stable across processes."""
    return zlib.crc32(key.encode()) % shards


_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class DynamoDBTrackingStore(TrackingStore):
    """Tracking store on one DynamoDB table (see the module docstring for the table's shape)."""

    def __init__(
        self,
        table_name: str,
        *,
        partition_key: str = "pk",
        sort_key: str = "sk",
        status_index: str = "status-index",
        status_shards: int = 0,
        ttl_attribute: str | None = None,
        ttl_seconds: int | None = None,
        max_workers: int = 8,
        client: Any = None,
        retry_policy: RetryPolicy = DEFAULT_POLICY,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(clock=clock)
        if status_shards < 0:
            raise ValueError("status_shards must be >= 0")
        if (ttl_attribute is None) != (ttl_seconds is None):
            raise ValueError("ttl_attribute and ttl_seconds go together")
        if ttl_seconds is not None and ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self.table_name = table_name
        self.partition_key = partition_key
        self.sort_key = sort_key
        self.status_index = status_index
        self.status_shards = status_shards
        self.ttl_attribute = ttl_attribute
        self.ttl_seconds = ttl_seconds
        self.max_workers = max_workers
        self.retry_policy = retry_policy
        self._client = client
        system = {partition_key, sort_key, STATUS, VERSION, CREATED_AT, UPDATED_AT}
        if ttl_attribute:
            system.add(ttl_attribute)
        self._system_attributes = frozenset(system)
        self.reserved_attributes = self.reserved_attributes | self._system_attributes

    @property
    def client(self) -> Any:
        """The DynamoDB client; the shared ``aws.client`` unless one was injected."""
        if self._client is None:
            self._client = aws.client("dynamodb")
        return self._client

    # -- status sharding ---------------------------------------------------------------------------

    def stored_status(self, status: str, key: str) -> str:
        """The status value as written to the table for ``key`` (with its shard suffix if sharded)."""
        if not self.status_shards:
            return status
        return f"{status}#{status_shard(key, self.status_shards)}"

    def _public_status(self, stored: str) -> str:
        return stored.rsplit("#", 1)[0] if self.status_shards else stored

    # -- operations --------------------------------------------------------------------------------

    def create(self, item: TrackedItem) -> bool:
        """Conditional put (``attribute_not_exists``); True if the item was created."""
        self._check_item(item)
        return self._put_if_absent(item)

    def create_many(self, items: Iterable[TrackedItem]) -> set[str]:
        """Conditional puts, ``max_workers`` at a time (BatchWriteItem cannot take conditions)."""
        batch = unique_items(items)
        for item in batch:
            self._check_item(item)
        if self.max_workers <= 1 or len(batch) <= 1:
            created = [self._put_if_absent(item) for item in batch]
        else:
            with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
                created = list(pool.map(self._put_if_absent, batch))
        return {item.key for item, was_created in zip(batch, created, strict=True) if was_created}

    def _put_if_absent(self, item: TrackedItem) -> bool:
        now = self._now()
        record: dict[str, Any] = {
            **item.attributes,
            self.partition_key: item.namespace,
            self.sort_key: item.key,
            STATUS: self.stored_status(item.status, item.key),
            VERSION: 1,
            CREATED_AT: now.isoformat(),
            UPDATED_AT: now.isoformat(),
        }
        if self.ttl_attribute and self.ttl_seconds:
            record[self.ttl_attribute] = _expires_at(now, self.ttl_seconds)
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=_serialise(record),
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": self.partition_key},
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True

    def get(self, namespace: str, key: str) -> TrackedItem | None:
        """Strongly consistent GetItem."""
        response = self.client.get_item(
            TableName=self.table_name, Key=self._key(namespace, key), ConsistentRead=True
        )
        found = response.get("Item")
        return self._to_item(found) if found else None

    def get_many(self, namespace: str, keys: Iterable[str]) -> dict[str, TrackedItem]:
        """BatchGetItem in requests of 100 keys, retrying unprocessed keys under the retry policy."""
        unique = list(dict.fromkeys(keys))
        found: dict[str, TrackedItem] = {}
        for start in range(0, len(unique), _BATCH_GET_LIMIT):
            chunk = unique[start : start + _BATCH_GET_LIMIT]
            for raw in self._batch_get([self._key(namespace, key) for key in chunk]):
                item = self._to_item(raw)
                found[item.key] = item
        return found

    def _batch_get(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        pending = keys

        def fetch() -> None:
            nonlocal pending
            response = self.client.batch_get_item(
                RequestItems={self.table_name: {"Keys": pending, "ConsistentRead": True}}
            )
            found.extend(response.get("Responses", {}).get(self.table_name, []))
            pending = response.get("UnprocessedKeys", {}).get(self.table_name, {}).get("Keys", [])
            if pending:
                # DynamoDB hands back what it could not read under load; back off as for a throttle.
                raise TransientError(f"{len(pending)} keys unprocessed by BatchGetItem")

        self.retry_policy.call(fetch)
        return found

    def transition(
        self,
        namespace: str,
        key: str,
        *,
        from_statuses: Iterable[str] | str,
        to_status: str,
        attributes: Mapping[str, Any] | None = None,
    ) -> bool:
        """UpdateItem with ``ConditionExpression status IN (...)``; False if the condition fails."""
        statuses = self._check_transition(namespace, key, from_statuses, to_status, attributes)
        now = self._now()
        names = {"#pk": self.partition_key, "#status": STATUS, "#version": VERSION, "#updated": UPDATED_AT}
        values: dict[str, Any] = {
            ":to": self.stored_status(to_status, key),
            ":now": now.isoformat(),
            ":one": 1,
        }
        assignments = ["#status = :to", "#updated = :now"]
        for index, (name, value) in enumerate((attributes or {}).items()):
            names[f"#a{index}"] = name
            values[f":a{index}"] = value
            assignments.append(f"#a{index} = :a{index}")
        if self.ttl_attribute and self.ttl_seconds:
            # Refreshed on every change, so an item in flight never expires under a worker.
            names["#ttl"] = self.ttl_attribute
            values[":ttl"] = _expires_at(now, self.ttl_seconds)
            assignments.append("#ttl = :ttl")
        placeholders = []
        for index, status in enumerate(statuses):
            values[f":from{index}"] = self.stored_status(status, key)
            placeholders.append(f":from{index}")
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=self._key(namespace, key),
                UpdateExpression=f"SET {', '.join(assignments)} ADD #version :one",
                ConditionExpression=f"attribute_exists(#pk) AND #status IN ({', '.join(placeholders)})",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=_serialise(values),
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True

    def list_by_status(self, namespace: str, status: str, *, limit: int | None = 100) -> list[TrackedItem]:
        """Query the status GSI (every shard when sharded) for the namespace's items in ``status``."""
        shards = range(self.status_shards) if self.status_shards else [None]
        found: list[TrackedItem] = []
        for shard in shards:
            stored = status if shard is None else f"{status}#{shard}"
            remaining = None if limit is None else limit - len(found)
            found.extend(self._to_item(raw) for raw in self._query_status(namespace, stored, remaining))
            if limit is not None and len(found) >= limit:
                break
        return found

    def _query_status(
        self, namespace: str, stored_status: str, limit: int | None
    ) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": self.status_index,
            "KeyConditionExpression": "#status = :status AND #pk = :ns",
            "ExpressionAttributeNames": {"#status": STATUS, "#pk": self.partition_key},
            "ExpressionAttributeValues": _serialise({":status": stored_status, ":ns": namespace}),
        }
        yielded = 0
        for page in self._pages(request, limit):
            for raw in page:
                if limit is not None and yielded >= limit:
                    return
                yielded += 1
                yield raw

    def count_by_status(self, namespace: str) -> dict[str, int]:
        """Count by reading the status of every item in the namespace's partition (cost grows with it)."""
        request = {
            "TableName": self.table_name,
            "KeyConditionExpression": "#pk = :ns",
            "ProjectionExpression": "#status",
            "ExpressionAttributeNames": {"#pk": self.partition_key, "#status": STATUS},
            "ExpressionAttributeValues": _serialise({":ns": namespace}),
            "ConsistentRead": True,
        }
        counts: Counter[str] = Counter()
        for page in self._pages(request, None):
            counts.update(self._public_status(raw[STATUS]["S"]) for raw in page)
        return dict(counts)

    def _pages(self, request: dict[str, Any], limit: int | None) -> Iterator[list[dict[str, Any]]]:
        while True:
            if limit is not None:
                request["Limit"] = limit
            response = self.client.query(**request)
            yield response.get("Items", [])
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            request["ExclusiveStartKey"] = last

    # -- conversion --------------------------------------------------------------------------------

    def _key(self, namespace: str, key: str) -> dict[str, Any]:
        return {self.partition_key: {"S": namespace}, self.sort_key: {"S": key}}

    def _to_item(self, raw: Mapping[str, Any]) -> TrackedItem:
        plain = {name: _from_dynamodb(_deserializer.deserialize(value)) for name, value in raw.items()}
        return TrackedItem(
            namespace=plain[self.partition_key],
            key=plain[self.sort_key],
            status=self._public_status(plain[STATUS]),
            attributes={name: value for name, value in plain.items() if name not in self._system_attributes},
            version=int(plain[VERSION]),
            created_at=datetime.fromisoformat(plain[CREATED_AT]),
            updated_at=datetime.fromisoformat(plain[UPDATED_AT]),
        )


def _is_condition_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _expires_at(now: datetime, ttl_seconds: int) -> int:
    return int(now.timestamp()) + int(ttl_seconds)


def _to_dynamodb(value: Any) -> Any:
    """Make a JSON-able value storable: boto3's serializer refuses floats, so they become Decimal."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        # str() gives the shortest repr; Decimal(0.1) would store 0.1000000000000000055511151231257827...
        return Decimal(str(value))
    if isinstance(value, Mapping):
        return {name: _to_dynamodb(inner) for name, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamodb(inner) for inner in value]
    return value


def _from_dynamodb(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {name: _from_dynamodb(inner) for name, inner in value.items()}
    if isinstance(value, list):
        return [_from_dynamodb(inner) for inner in value]
    return value


def _serialise(values: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return {name: _serializer.serialize(_to_dynamodb(value)) for name, value in values.items()}
    except TypeError as exc:
        raise InvalidItemError(f"value cannot be stored in DynamoDB: {exc}") from None


def create_table(store: DynamoDBTrackingStore) -> None:
    """Create the store's table (on-demand, with the status GSI and TTL) and wait until it is active.

    For tests and local experiments: Terraform owns the real tables.
    """
    pk, sk = store.partition_key, store.sort_key
    store.client.create_table(
        TableName=store.table_name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": pk, "AttributeType": "S"},
            {"AttributeName": sk, "AttributeType": "S"},
            {"AttributeName": STATUS, "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": pk, "KeyType": "HASH"}, {"AttributeName": sk, "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": store.status_index,
                "KeySchema": [
                    {"AttributeName": STATUS, "KeyType": "HASH"},
                    {"AttributeName": pk, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    store.client.get_waiter("table_exists").wait(
        TableName=store.table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    if store.ttl_attribute:
        store.client.update_time_to_live(
            TableName=store.table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": store.ttl_attribute},
        )


def delete_table(store: DynamoDBTrackingStore) -> None:
    """Delete the store's table if it exists (tests)."""
    try:
        store.client.delete_table(TableName=store.table_name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
