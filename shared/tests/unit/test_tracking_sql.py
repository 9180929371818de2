"""The SQL adapter's statements and schema: what MySQL/MariaDB will be sent, checked offline, plus
SQLite behaviour the contract does not cover (chunking, clock precision)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.schema import CreateTable

from pipelines_shared.tracking import TrackedItem
from pipelines_shared.tracking.sql import (
    DEFAULT_TABLE_NAME,
    SqlTrackingStore,
    build_table,
    create_schema,
    drop_schema,
    tracked_items,
)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'tracking.db'}")
    yield engine
    engine.dispose()


ROWS = [
    {
        "namespace": "ns",
        "key": "k",
        "status": "pending",
        "attributes": {},
        "version": 1,
        "created_at": datetime(2024, 1, 2),
        "updated_at": datetime(2024, 1, 2),
        "insert_token": "t",
    }
]


def compiled(statement: sa.Executable, dialect: sa.Dialect) -> str:
    return str(statement.compile(dialect=dialect))


def test_mysql_insert_skips_duplicates_without_insert_ignore(engine: sa.Engine) -> None:
    sql = compiled(SqlTrackingStore(engine).insert_ignoring_duplicates("mysql"), mysql.dialect())
    assert sql.endswith("ON DUPLICATE KEY UPDATE namespace = tracked_items.namespace")
    assert "IGNORE" not in sql.upper()


def test_sqlite_insert_skips_duplicates_on_the_primary_key(engine: sa.Engine) -> None:
    sql = compiled(SqlTrackingStore(engine).insert_ignoring_duplicates("sqlite"), sqlite.dialect())
    assert sql.endswith('ON CONFLICT (namespace, "key") DO NOTHING')


def test_mysql_schema_compares_keys_exactly_and_keeps_microseconds() -> None:
    ddl = str(CreateTable(tracked_items).compile(dialect=mysql.dialect()))
    assert "`key` VARCHAR(512) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin" in ddl
    assert "created_at DATETIME(6) NOT NULL" in ddl
    assert "PRIMARY KEY (namespace, `key`)" in ddl
    assert "ENGINE=InnoDB" in ddl


def test_status_index_serves_list_and_count_by_namespace() -> None:
    table = build_table(sa.MetaData(), "jobs")
    [index] = table.indexes
    assert [column.name for column in index.columns] == ["namespace", "status"]


def test_create_many_is_correct_across_chunk_boundaries(engine: sa.Engine) -> None:
    create_schema(engine)
    store = SqlTrackingStore(engine, chunk_size=3)
    store.create_many([TrackedItem("ns", key, "done") for key in ("k2", "k5", "k6")])

    created = store.create_many([TrackedItem("ns", f"k{i}", "pending") for i in range(10)])

    assert created == {f"k{i}" for i in range(10)} - {"k2", "k5", "k6"}
    assert store.count_by_status("ns") == {"pending": 7, "done": 3}


def test_create_many_handles_several_namespaces_in_one_batch(engine: sa.Engine) -> None:
    create_schema(engine)
    store = SqlTrackingStore(engine)
    store.create(TrackedItem("day-1", "a", "done"))
    created = store.create_many([TrackedItem("day-1", "a", "pending"), TrackedItem("day-2", "a", "pending")])
    assert created == {"a"}  # the one in day-2
    assert store.get("day-2", "a").status == "pending"
    assert store.get("day-1", "a").status == "done"


def test_timestamps_come_from_the_clock_with_microseconds(engine: sa.Engine) -> None:
    create_schema(engine)
    moments = iter(
        [datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC), datetime(2024, 1, 2, 3, 4, 5, 7, tzinfo=UTC)]
    )
    store = SqlTrackingStore(engine, clock=lambda: next(moments))
    store.create(TrackedItem("ns", "k", "pending"))
    store.transition("ns", "k", from_statuses="pending", to_status="done")
    item = store.get("ns", "k")
    assert item.created_at == datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert item.updated_at - item.created_at == timedelta(microseconds=1)


def test_schema_helpers_are_idempotent_and_honour_the_table_name(engine: sa.Engine) -> None:
    table = create_schema(engine, table_name="nightly_files")
    create_schema(engine, table_name="nightly_files")
    assert table.name == "nightly_files"
    assert sa.inspect(engine).get_table_names() == ["nightly_files"]
    SqlTrackingStore(engine, table_name="nightly_files").create(TrackedItem("ns", "k", "pending"))

    drop_schema(engine, table_name="nightly_files")
    drop_schema(engine, table_name="nightly_files")
    assert sa.inspect(engine).get_table_names() == []
    assert DEFAULT_TABLE_NAME == "tracked_items"
