"""The tracking-store contract on the three offline adapters: memory, DynamoDB on moto, SQLite."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from moto import mock_aws

from pipelines_shared import aws
from pipelines_shared.tracking import TrackingStore
from pipelines_shared.tracking.dynamodb import DynamoDBTrackingStore, create_table
from pipelines_shared.tracking.memory import MemoryTrackingStore
from pipelines_shared.tracking.sql import SqlTrackingStore, create_schema
from tracking_contract import TrackingStoreContract

TABLE = "tracking-unit"


class _OneCallAtATime:
    """Serialise calls to a client: moto checks a ConditionExpression and writes without a lock, so
    racing threads can both pass a condition that real DynamoDB would let only one pass. With calls in
    some order, the race test still proves our conditions let exactly one claim win; the functional
    suite races against a real server."""

    def __init__(self, client: object) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> object:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(*args: object, **kwargs: object) -> object:
            with self._lock:
                return attribute(*args, **kwargs)

        return call


@pytest.fixture(scope="module")
def moto_dynamodb() -> Iterator[_OneCallAtATime]:
    """One moto DynamoDB table for the module: the contract gives every test its own namespace."""
    with pytest.MonkeyPatch.context() as env, mock_aws():
        # Module scope runs before the per-test environment fixture; never let this client reach a
        # real endpoint from the developer's shell.
        env.delenv("AWS_ENDPOINT_URL", raising=False)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        aws.reset_clients()
        client = _OneCallAtATime(aws.client("dynamodb", region_name="us-east-1"))
        create_table(DynamoDBTrackingStore(TABLE, client=client))
        yield client
    aws.reset_clients()


@pytest.fixture(params=["memory", "dynamodb", "dynamodb-sharded", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TrackingStore]:
    if request.param == "memory":
        yield MemoryTrackingStore()
    elif request.param.startswith("dynamodb"):
        shards = 4 if request.param == "dynamodb-sharded" else 0
        client = request.getfixturevalue("moto_dynamodb")
        yield DynamoDBTrackingStore(TABLE, status_shards=shards, client=client)
    else:
        # A file, not :memory:, so the racing threads each get their own connection to one database.
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'tracking.db'}")
        create_schema(engine)
        yield SqlTrackingStore(engine)
        engine.dispose()


class TestTrackingStoreContract(TrackingStoreContract):
    pass
