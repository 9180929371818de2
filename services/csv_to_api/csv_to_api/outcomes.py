"""What happened to each row and each file: the rows table (one item per row outcome) and the files
table (the file's status and one summary per chunk). A retried chunk reads the rows table first and
skips every row that already has an outcome.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from botocore.exceptions import ClientError

from csv_to_api.contract import FileStatus
from pipelines_shared.retry import call_with_retry


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    ALREADY_ACCEPTED = "already_accepted"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class RowOutcome:
    row: int
    outcome: Outcome
    reason: str = ""
    detail: str = ""
    raw: str = ""
    status: int = 0
    """The API's HTTP status (0 when the row never reached it)."""


class TransitionRefused(Exception):
    """The file is not in a state that allows the change (another execution moved it already)."""


class RowStore(Protocol):
    def outcomes(self, file_id: str, first_row: int, last_row: int) -> dict[int, Outcome]: ...
    def record(self, file_id: str, outcomes: Iterable[RowOutcome]) -> None: ...
    def rejects(self, file_id: str) -> Iterator[RowOutcome]: ...


class FileStore(Protocol):
    def create(self, file_id: str, attributes: Mapping[str, Any]) -> bool: ...
    def get(self, file_id: str) -> dict[str, Any] | None: ...
    def transition(
        self, file_id: str, to: FileStatus, allowed: Iterable[FileStatus], attributes: Mapping[str, Any]
    ) -> None: ...
    def put_chunk(self, file_id: str, index: int, counts: Mapping[str, int]) -> None: ...
    def chunks(self, file_id: str) -> dict[int, dict[str, int]]: ...


# ------------------------------------------------------------------------------------------ DynamoDB


def _outcome_item(file_id: str, outcome: RowOutcome, expires_at: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "file_id": {"S": file_id},
        "row": {"N": str(outcome.row)},
        "outcome": {"S": outcome.outcome.value},
        "expires_at": {"N": str(expires_at)},
    }
    if outcome.status:
        item["http_status"] = {"N": str(outcome.status)}
    if outcome.outcome is Outcome.REJECTED:
        # The sparse index `rejects` holds rejected rows only: the report reads them without the others.
        item["rejected_in"] = {"S": file_id}
        item["reason"] = {"S": outcome.reason}
        item["detail"] = {"S": outcome.detail[:1024] or "-"}
        item["raw"] = {"S": outcome.raw or ""}
    return item


@dataclass
class DynamoDbRowStore:
    client: Any
    table_name: str
    retention_seconds: int = 35 * 86400

    def outcomes(self, file_id: str, first_row: int, last_row: int) -> dict[int, Outcome]:
        found: dict[int, Outcome] = {}
        pages = self.client.get_paginator("query").paginate(
            TableName=self.table_name,
            KeyConditionExpression="file_id = :f AND #row BETWEEN :a AND :b",
            ExpressionAttributeNames={"#row": "row"},
            ExpressionAttributeValues={
                ":f": {"S": file_id},
                ":a": {"N": str(first_row)},
                ":b": {"N": str(last_row)},
            },
            ProjectionExpression="#row, outcome",
            ConsistentRead=True,
        )
        for page in pages:
            for item in page["Items"]:
                found[int(item["row"]["N"])] = Outcome(item["outcome"]["S"])
        return found

    def record(self, file_id: str, outcomes: Iterable[RowOutcome]) -> None:
        expires_at = int(time.time()) + self.retention_seconds
        requests = [{"PutRequest": {"Item": _outcome_item(file_id, o, expires_at)}} for o in outcomes]
        for start in range(0, len(requests), 25):
            pending = requests[start : start + 25]
            for attempt in range(8):
                response = call_with_retry(
                    self.client.batch_write_item, RequestItems={self.table_name: pending}
                )
                pending = response.get("UnprocessedItems", {}).get(self.table_name, [])
                if not pending:
                    break
                time.sleep(min(2.0, 0.05 * 2**attempt))  # throttled: back off, then the rest again
            else:
                raise RuntimeError(f"{len(pending)} row outcomes stayed unprocessed after 8 attempts")

    def rejects(self, file_id: str) -> Iterator[RowOutcome]:
        pages = self.client.get_paginator("query").paginate(
            TableName=self.table_name,
            IndexName="rejects",
            KeyConditionExpression="rejected_in = :f",
            ExpressionAttributeValues={":f": {"S": file_id}},
        )
        for page in pages:
            for item in page["Items"]:
                yield RowOutcome(
                    row=int(item["row"]["N"]),
                    outcome=Outcome.REJECTED,
                    reason=item["reason"]["S"],
                    detail=item.get("detail", {}).get("S", ""),
                    raw=item.get("raw", {}).get("S", ""),
                    status=int(item.get("http_status", {}).get("N", "0")),
                )


def to_attribute(value: Any) -> dict[str, Any]:
    """A JSON-like value as a DynamoDB attribute value (low-level client shape)."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": str(value)}
    if isinstance(value, list):
        return {"L": [to_attribute(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {k: to_attribute(v) for k, v in value.items()}}
    if value is None:
        return {"NULL": True}
    return {"S": str(value)}


def from_attribute(value: dict[str, Any]) -> Any:
    """A DynamoDB attribute value as a plain value (whole numbers as int)."""
    ((kind, raw),) = value.items()
    if kind == "N":
        number = float(raw)
        return int(number) if number.is_integer() and "." not in raw else number
    if kind == "L":
        return [from_attribute(v) for v in raw]
    if kind == "M":
        return {k: from_attribute(v) for k, v in raw.items()}
    if kind == "NULL":
        return None
    return raw


@dataclass
class DynamoDbFileStore:
    client: Any
    table_name: str
    retention_seconds: int = 35 * 86400

    def _key(self, file_id: str, part: str) -> dict[str, Any]:
        return {"file_id": {"S": file_id}, "part": {"S": part}}

    def create(self, file_id: str, attributes: Mapping[str, Any]) -> bool:
        item = self._key(file_id, "file") | {k: to_attribute(v) for k, v in attributes.items()}
        item["status"] = {"S": FileStatus.RECEIVED.value}
        item["expires_at"] = {"N": str(int(time.time()) + self.retention_seconds)}
        try:
            self.client.put_item(
                TableName=self.table_name, Item=item, ConditionExpression="attribute_not_exists(file_id)"
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get(self, file_id: str) -> dict[str, Any] | None:
        item = self.client.get_item(
            TableName=self.table_name, Key=self._key(file_id, "file"), ConsistentRead=True
        ).get("Item")
        return {k: from_attribute(v) for k, v in item.items()} if item else None

    def transition(
        self, file_id: str, to: FileStatus, allowed: Iterable[FileStatus], attributes: Mapping[str, Any]
    ) -> None:
        allowed = list(allowed)
        names = {"#status": "status"} | {f"#a{i}": name for i, name in enumerate(attributes)}
        values = {":to": {"S": to.value}} | {
            f":v{i}": to_attribute(v) for i, v in enumerate(attributes.values())
        }
        values |= {f":s{i}": {"S": status.value} for i, status in enumerate(allowed)}
        sets = ["#status = :to"] + [f"#a{i} = :v{i}" for i in range(len(attributes))]
        condition = "#status IN (" + ", ".join(f":s{i}" for i in range(len(allowed))) + ")"
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=self._key(file_id, "file"),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=f"attribute_exists(file_id) AND {condition}",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                current = self.get(file_id)
                state = current.get("status") if current else "missing"
                raise TransitionRefused(f"{file_id}: {state} -> {to.value} is not allowed") from error
            raise

    def put_chunk(self, file_id: str, index: int, counts: Mapping[str, int]) -> None:
        item = self._key(file_id, f"chunk#{index:06d}") | {"counts": to_attribute(dict(counts))}
        item["expires_at"] = {"N": str(int(time.time()) + self.retention_seconds)}
        self.client.put_item(TableName=self.table_name, Item=item)

    def chunks(self, file_id: str) -> dict[int, dict[str, int]]:
        found: dict[int, dict[str, int]] = {}
        pages = self.client.get_paginator("query").paginate(
            TableName=self.table_name,
            KeyConditionExpression="file_id = :f AND begins_with(part, :c)",
            ExpressionAttributeValues={":f": {"S": file_id}, ":c": {"S": "chunk#"}},
            ConsistentRead=True,
        )
        for page in pages:
            for item in page["Items"]:
                found[int(item["part"]["S"].split("#")[1])] = from_attribute(item["counts"])
        return found


# -------------------------------------------------------------------------------------------- memory


@dataclass
class MemoryRowStore:
    rows: dict[str, dict[int, RowOutcome]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    writes: int = 0

    def outcomes(self, file_id: str, first_row: int, last_row: int) -> dict[int, Outcome]:
        with self.lock:
            stored = self.rows.get(file_id, {})
            return {row: o.outcome for row, o in stored.items() if first_row <= row <= last_row}

    def record(self, file_id: str, outcomes: Iterable[RowOutcome]) -> None:
        with self.lock:
            for outcome in outcomes:
                self.writes += 1
                self.rows.setdefault(file_id, {})[outcome.row] = outcome

    def rejects(self, file_id: str) -> Iterator[RowOutcome]:
        with self.lock:
            found = [o for o in self.rows.get(file_id, {}).values() if o.outcome is Outcome.REJECTED]
        yield from sorted(found, key=lambda o: o.row)


@dataclass
class MemoryFileStore:
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    chunk_counts: dict[str, dict[int, dict[str, int]]] = field(default_factory=dict)

    def create(self, file_id: str, attributes: Mapping[str, Any]) -> bool:
        if file_id in self.files:
            return False
        self.files[file_id] = dict(attributes) | {"status": FileStatus.RECEIVED.value}
        return True

    def get(self, file_id: str) -> dict[str, Any] | None:
        return dict(self.files[file_id]) if file_id in self.files else None

    def transition(
        self, file_id: str, to: FileStatus, allowed: Iterable[FileStatus], attributes: Mapping[str, Any]
    ) -> None:
        current = self.files.get(file_id)
        if current is None or current["status"] not in {s.value for s in allowed}:
            state = current["status"] if current else "missing"
            raise TransitionRefused(f"{file_id}: {state} -> {to.value} is not allowed")
        current.update(attributes, status=to.value)

    def put_chunk(self, file_id: str, index: int, counts: Mapping[str, int]) -> None:
        self.chunk_counts.setdefault(file_id, {})[index] = dict(counts)

    def chunks(self, file_id: str) -> dict[int, dict[str, int]]:
        return {i: dict(c) for i, c in self.chunk_counts.get(file_id, {}).items()}
