"""The tracking-store contract against real services: DynamoDB over HTTP (the local AWS emulator) and
MariaDB/MySQL over TCP, reached through the root conftest's ``aws_endpoint_url`` and ``mysql_url``.

Every test gets its own table, deleted afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from pipelines_shared import aws
from pipelines_shared.tracking import TrackingStore
from pipelines_shared.tracking.dynamodb import DynamoDBTrackingStore, create_table, delete_table
from pipelines_shared.tracking.sql import SqlTrackingStore, create_schema, drop_schema
from tracking_contract import TrackingStoreContract

pytestmark = pytest.mark.integration


def _unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def _dynamodb_store(request: pytest.FixtureRequest, shards: int) -> Iterator[TrackingStore]:
    endpoint = request.getfixturevalue("aws_endpoint_url")
    with pytest.MonkeyPatch.context() as env:
        # The endpoint reaches boto3 as it does in a deployed stack: through AWS_ENDPOINT_URL.
        env.setenv("AWS_ENDPOINT_URL", endpoint)
        aws.reset_clients()
        store = DynamoDBTrackingStore(_unique("tracking-test-"), status_shards=shards)
        assert store.client.meta.endpoint_url == endpoint
        create_table(store)
        try:
            yield store
        finally:
            delete_table(store)
            aws.reset_clients()


def _mysql_store(request: pytest.FixtureRequest) -> Iterator[TrackingStore]:
    # Room for the race test's eight threads to hold a connection each.
    engine = sa.create_engine(request.getfixturevalue("mysql_url"), pool_size=10)
    table_name = _unique("tracked_items_")
    create_schema(engine, table_name=table_name)
    try:
        yield SqlTrackingStore(engine, table_name=table_name)
    finally:
        drop_schema(engine, table_name=table_name)
        engine.dispose()


@pytest.fixture(params=["dynamodb", "dynamodb-sharded", "mysql"])
def store(request: pytest.FixtureRequest) -> Iterator[TrackingStore]:
    if request.param == "mysql":
        yield from _mysql_store(request)
    else:
        yield from _dynamodb_store(request, shards=4 if request.param == "dynamodb-sharded" else 0)


class TestTrackingStoreContract(TrackingStoreContract):
    pass
