"""The alerts schema on real MariaDB: migrations apply once (also when racing), match the tracking
store's table, refuse edited history; MySQL payload staging round-trips."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from alerts_to_sftp.staging import MySqlPayloadStore, StagedPayloadMissing
from alerts_to_sftp.tracking import TABLE
from pipelines_shared.migrations import MigrationError, migrate, migration_files
from pipelines_shared.tracking.sql import SqlTrackingStore, build_table
from pipelines_shared.tracking.types import TrackedItem

pytestmark = pytest.mark.integration
PACKAGE = "alerts_to_sftp.migrations"


@pytest.fixture
def engine(fresh_mysql_url):
    engine = sa.create_engine(fresh_mysql_url, pool_size=8)
    yield engine
    engine.dispose()


def test_migrations_apply_once(engine):
    names = [name for name, _ in migration_files(PACKAGE)]
    assert names == sorted(names)
    assert len(names) >= 2
    assert migrate(engine, PACKAGE) == names
    assert migrate(engine, PACKAGE) == []
    tables = set(sa.inspect(engine).get_table_names())
    assert {"alert_tracking", "alert_payloads", "schema_migrations"} <= tables


def test_racing_runners_apply_every_migration_once(engine):
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: migrate(engine, PACKAGE), range(4)))
    applied = [name for result in results for name in result]
    assert sorted(applied) == [name for name, _ in migration_files(PACKAGE)]
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT COUNT(*) FROM schema_migrations")).scalar() == len(applied)


def test_migrated_table_is_the_tracking_stores_table(engine):
    migrate(engine, PACKAGE)
    reflected = sa.Table(TABLE, sa.MetaData(), autoload_with=engine)
    expected = build_table(sa.MetaData(), TABLE)

    def shape(table: sa.Table) -> dict:
        return {
            column.name: (column.type.compile(dialect=engine.dialect).split(" COLLATE")[0], column.nullable)
            for column in table.columns
        }

    def normalise(columns: dict) -> dict:
        # MariaDB reports JSON columns as LONGTEXT, INTEGER as INTEGER(11) and charsets inline.
        aliases = {"JSON": "LONGTEXT", "INTEGER": "INTEGER(11)"}
        return {
            name: (aliases.get(kind.split(" CHARACTER SET")[0], kind.split(" CHARACTER SET")[0]), null)
            for name, (kind, null) in columns.items()
        }

    assert normalise(shape(reflected)) == normalise(shape(expected))
    assert [c.name for c in reflected.primary_key] == [c.name for c in expected.primary_key]
    assert {tuple(c["column_names"]) for c in sa.inspect(engine).get_indexes(TABLE)} >= {
        ("namespace", "status")
    }
    with engine.connect() as connection:
        collations = dict(
            connection.execute(
                sa.text(
                    "SELECT column_name, collation_name FROM information_schema.columns"
                    " WHERE table_schema = DATABASE() AND table_name = :t"
                    " AND column_name IN ('namespace', 'key', 'status')"
                ),
                {"t": TABLE},
            ).all()
        )
    assert collations == dict.fromkeys(
        ("namespace", "key", "status"), "utf8mb4_bin"
    )  # exact, case-sensitive keys
    # And the store works on it.
    store = SqlTrackingStore(engine, table_name=TABLE)
    assert store.create(
        TrackedItem(namespace="job:j1", key="a/../b\n", status="staged", attributes={"size": 3})
    )
    assert store.transition("job:j1", "a/../b\n", from_statuses="staged", to_status="queued")
    assert store.count_by_status("job:j1") == {"queued": 1}


def test_an_applied_migration_that_was_edited_is_refused(engine):
    migrate(engine, PACKAGE)
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE schema_migrations SET sha256 = REPEAT('0', 64) WHERE name LIKE '0001%'")
        )
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(engine, PACKAGE)


def test_mysql_payload_staging_round_trips_and_is_idempotent(engine):
    migrate(engine, PACKAGE)
    store = MySqlPayloadStore(engine, batch_rows=3)
    payloads = [(f"ALR-{i}", (b'{"n": %d, "pad": "' % i) + b"x" * 200_000 + b'"}') for i in range(7)]
    staged = store.stage_many("job-1", payloads)
    again = store.stage_many("job-1", payloads)
    assert again == staged
    for (_, body), item in zip(payloads, staged, strict=True):
        assert store.fetch(item.location) == body
        assert item.sha256 == hashlib.sha256(body).hexdigest()
        assert item.size == len(body)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT COUNT(*) FROM alert_payloads")).scalar() == 7
    with pytest.raises(StagedPayloadMissing):
        store.fetch("mysql://alert_payloads/job-1/" + "0" * 64)


def test_named_lock_admits_one_holder_and_is_released_on_exit(engine):
    from pipelines_shared.db import named_lock

    with engine.connect() as first, engine.connect() as second:
        with named_lock(first, "lp-test-lock") as taken:
            assert taken
            with named_lock(second, "lp-test-lock") as also:
                assert not also  # held elsewhere: refused at once, not waited for
        with named_lock(second, "lp-test-lock") as after:
            assert after  # released when the first holder left
