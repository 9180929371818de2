"""SQL tracking store on SQLAlchemy Core: MySQL/MariaDB (PyMySQL) in production, SQLite in tests.

SQLAlchemy is imported here only: services that use this adapter list SQLAlchemy and PyMySQL in their
own requirements, the others do not ship them.

The table is ``tracked_items`` by default (see :func:`build_table`); :data:`metadata` holds it for
migrations, and :func:`create_schema` creates it directly for tests.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Engine

from pipelines_shared.clock import Clock, utc_now
from pipelines_shared.tracking.base import TrackingStore, unique_items
from pipelines_shared.tracking.exceptions import TrackingError
from pipelines_shared.tracking.types import TrackedItem

DEFAULT_TABLE_NAME = "tracked_items"
CHUNK_SIZE = 500
"""Rows per multi-row INSERT and keys per IN (...): well under MySQL's packet and SQLite's variable limits."""

_MAX_CAS_ATTEMPTS = 20


def _text(length: int) -> sa.types.TypeEngine[str]:
    # MySQL's default collations are case-insensitive: "a.csv" and "A.csv" would be one key there but
    # two in DynamoDB and SQLite. A binary collation makes comparisons exact everywhere.
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )


def _timestamp() -> sa.types.TypeEngine[datetime]:
    # MySQL DATETIME drops fractions of a second unless asked; stored as naive UTC everywhere.
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def build_table(metadata: sa.MetaData, name: str = DEFAULT_TABLE_NAME) -> sa.Table:
    """Define the tracking table in ``metadata``.

    The PK is (namespace, key); 255 + 512 utf8mb4 characters stays inside InnoDB's 3072-byte index limit.
    """
    return sa.Table(
        name,
        metadata,
        sa.Column("namespace", _text(255), primary_key=True),
        sa.Column("key", _text(512), primary_key=True),
        sa.Column("status", _text(64), nullable=False),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        # Written on insert only: lets create_many tell rows it created from rows that already existed,
        # since "insert, ignore duplicates" reports no per-row outcome on any dialect.
        sa.Column("insert_token", sa.String(32), nullable=True),
        sa.Index(f"ix_{name}_namespace_status", "namespace", "status"),
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
    )


metadata = sa.MetaData()
tracked_items = build_table(metadata)
"""The default table, for migrations to target."""


def _table(name: str) -> sa.Table:
    # Other names get their own MetaData, so stores on several tables (tests) do not collide.
    return tracked_items if name == DEFAULT_TABLE_NAME else build_table(sa.MetaData(), name)


def create_schema(engine: Engine, *, table_name: str = DEFAULT_TABLE_NAME) -> sa.Table:
    """Create the tracking table if it does not exist (tests and local stacks; migrations do it for real)."""
    table = _table(table_name)
    table.create(engine, checkfirst=True)
    return table


def drop_schema(engine: Engine, *, table_name: str = DEFAULT_TABLE_NAME) -> None:
    """Drop the tracking table if it exists (tests)."""
    _table(table_name).drop(engine, checkfirst=True)


class SqlTrackingStore(TrackingStore):
    """Tracking store on one SQL table (MySQL/MariaDB, SQLite; PostgreSQL-compatible statements)."""

    def __init__(
        self,
        engine: Engine,
        *,
        table_name: str = DEFAULT_TABLE_NAME,
        chunk_size: int = CHUNK_SIZE,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(clock=clock)
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        self.engine = engine
        self.chunk_size = chunk_size
        self.table = _table(table_name)

    def create(self, item: TrackedItem) -> bool:
        """Insert ``item`` unless (namespace, key) exists; True if it was created."""
        return item.key in self.create_many([item])

    def create_many(self, items: Iterable[TrackedItem]) -> set[str]:
        """One multi-row "insert, ignore duplicates" per chunk, each in its own transaction."""
        batch = unique_items(items)
        for item in batch:
            self._check_item(item)
        created: set[str] = set()
        for start in range(0, len(batch), self.chunk_size):
            created |= self._insert_chunk(batch[start : start + self.chunk_size])
        return created

    def _insert_chunk(self, chunk: list[TrackedItem]) -> set[str]:
        now = self._db_now()
        token = uuid.uuid4().hex
        rows = [
            {
                "namespace": item.namespace,
                "key": item.key,
                "status": item.status,
                "attributes": dict(item.attributes),
                "version": 1,
                "created_at": now,
                "updated_at": now,
                "insert_token": token,
            }
            for item in chunk
        ]
        t = self.table
        with self.engine.begin() as conn:
            # executemany: one cached statement, the rows batched into multi-row INSERTs by the
            # driver. (Building .values(rows) compiled a fresh 4,000-parameter statement per chunk:
            # 5x slower on MariaDB.)
            conn.execute(self.insert_ignoring_duplicates(conn.dialect.name), rows)
            by_namespace: dict[str, list[str]] = defaultdict(list)
            for item in chunk:
                by_namespace[item.namespace].append(item.key)
            created: set[str] = set()
            for namespace, keys in by_namespace.items():
                query = sa.select(t.c.key).where(
                    t.c.namespace == namespace, t.c.key.in_(keys), t.c.insert_token == token
                )
                created.update(conn.scalars(query))
        return created

    def insert_ignoring_duplicates(self, dialect: str) -> sa.Executable:
        """The INSERT that skips rows whose primary key exists, for ``dialect`` (run with many rows)."""
        t = self.table
        if dialect in ("mysql", "mariadb"):
            # A no-op ON DUPLICATE KEY UPDATE rather than INSERT IGNORE, which would also turn other
            # errors (bad values, truncation) into warnings. Setting the column to itself, not to
            # VALUES(...), which MySQL 8 deprecates.
            return mysql.insert(t).on_duplicate_key_update(namespace=t.c.namespace)
        primary_key = ["namespace", "key"]
        # Imported here: Lambda only speaks MySQL, and each dialect costs ~35 ms of every cold start.
        if dialect == "sqlite":
            from sqlalchemy.dialects import sqlite

            return sqlite.insert(t).on_conflict_do_nothing(index_elements=primary_key)
        if dialect == "postgresql":
            from sqlalchemy.dialects import postgresql

            return postgresql.insert(t).on_conflict_do_nothing(index_elements=primary_key)
        raise TrackingError(f"SqlTrackingStore does not support the {dialect!r} dialect")

    def get(self, namespace: str, key: str) -> TrackedItem | None:
        """Return the item, or None."""
        t = self.table
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.namespace == namespace, t.c.key == key)).first()
        return _to_item(row) if row else None

    def get_many(self, namespace: str, keys: Iterable[str]) -> dict[str, TrackedItem]:
        """SELECT ... WHERE key IN (...) per chunk of keys."""
        unique = list(dict.fromkeys(keys))
        t = self.table
        found: dict[str, TrackedItem] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(unique), self.chunk_size):
                chunk = unique[start : start + self.chunk_size]
                for row in conn.execute(sa.select(t).where(t.c.namespace == namespace, t.c.key.in_(chunk))):
                    found[row.key] = _to_item(row)
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
        """``UPDATE ... WHERE status IN (...)``, True if it changed the row.

        Merging attributes needs the current ones, so then the row is read first and the UPDATE is also
        guarded by the version read; if another writer got in between, it starts over.
        """
        statuses = self._check_transition(namespace, key, from_statuses, to_status, attributes)
        t = self.table
        guard = [t.c.namespace == namespace, t.c.key == key, t.c.status.in_(statuses)]
        if not attributes:
            update = (
                sa.update(t)
                .where(*guard)
                .values(status=to_status, version=t.c.version + 1, updated_at=self._db_now())
            )
            with self.engine.begin() as conn:
                return conn.execute(update).rowcount == 1
        for _ in range(_MAX_CAS_ATTEMPTS):
            # A fresh transaction per attempt: under REPEATABLE READ a retry in the same one would keep
            # reading the stale snapshot.
            with self.engine.begin() as conn:
                current = conn.execute(sa.select(t.c.attributes, t.c.version).where(*guard)).first()
                if current is None:
                    return False
                update = (
                    sa.update(t)
                    .where(*guard, t.c.version == current.version)
                    .values(
                        status=to_status,
                        attributes={**current.attributes, **attributes},
                        version=current.version + 1,
                        updated_at=self._db_now(),
                    )
                )
                if conn.execute(update).rowcount == 1:
                    return True
        raise TrackingError(f"transition of {namespace}/{key} lost {_MAX_CAS_ATTEMPTS} races in a row")

    def list_by_status(self, namespace: str, status: str, *, limit: int | None = 100) -> list[TrackedItem]:
        """Use the (namespace, status) index; ordered by key for stable output."""
        t = self.table
        query = sa.select(t).where(t.c.namespace == namespace, t.c.status == status).order_by(t.c.key)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [_to_item(row) for row in conn.execute(query)]

    def count_by_status(self, namespace: str) -> dict[str, int]:
        """``SELECT status, COUNT(*) ... GROUP BY status`` on the (namespace, status) index."""
        t = self.table
        query = (
            # Not labelled "count": to a type checker row.count is the tuple method Row inherits.
            sa.select(t.c.status, sa.func.count().label("total"))
            .where(t.c.namespace == namespace)
            .group_by(t.c.status)
        )
        with self.engine.connect() as conn:
            return {row.status: row.total for row in conn.execute(query)}

    def _db_now(self) -> datetime:
        return self._now().replace(tzinfo=None)


def _to_item(row: sa.Row[Any]) -> TrackedItem:
    return TrackedItem(
        namespace=row.namespace,
        key=row.key,
        status=row.status,
        attributes=dict(row.attributes or {}),
        version=row.version,
        created_at=row.created_at.replace(tzinfo=UTC),
        updated_at=row.updated_at.replace(tzinfo=UTC),
    )
