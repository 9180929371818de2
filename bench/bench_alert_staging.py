"""Coordinator staging rows into the MySQL tracker: our batched path vs one commit per row.

    .venv/bin/python bench/bench_alert_staging.py [--rows 20000]

Both write the same 20,000 alert tracking rows (the alerts pipeline's table, made by its migrations)
into a throwaway database on the local stack's MariaDB:

* ours: ``SqlTrackingStore.create_many`` — multi-row ``INSERT ... ON DUPLICATE KEY UPDATE`` in chunks
  of 500, the path alert-coordinator takes for every page of alerts;
* row-per-commit: one ``INSERT`` and one ``COMMIT`` per alert, as a naive loop does.

Also times staging 200 KB alert payloads in MySQL (the alternative to S3 the seed weighs). Ends with
``alert_staging rows_per_s=<ours> ratio_vs_row_commit=<x>``.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tools"), str(REPO / "shared"), str(REPO / "services" / "alerts_to_sftp")]

import sqlalchemy as sa  # noqa: E402

from alerts_to_sftp.staging import MySqlPayloadStore  # noqa: E402
from alerts_to_sftp.tracking import STAGED, TABLE, job_namespace  # noqa: E402
from devstack import stack  # noqa: E402
from pipelines_shared.migrations import migrate  # noqa: E402
from pipelines_shared.tracking import TrackedItem  # noqa: E402
from pipelines_shared.tracking.sql import SqlTrackingStore, build_table  # noqa: E402


def items(job: str, count: int) -> list[TrackedItem]:
    return [
        TrackedItem(
            job_namespace(job),
            f"ALR-{i // 1000 % 20 + 1:02d}-{i:06d}",
            STAGED,
            {
                "api_status": i % 20 + 1,
                "location": f"s3://bucket/staged/{job}/{i:064d}.json",
                "sha256": "f" * 64,
                "size": 2048,
            },
        )
        for i in range(count)
    ]


def row_per_commit(engine: sa.Engine, rows: list[TrackedItem]) -> None:
    table = build_table(sa.MetaData(), TABLE)
    now = sa.func.now(6)
    with engine.connect() as connection:
        for item in rows:
            connection.execute(
                table.insert().values(
                    namespace=item.namespace, key=item.key, status=item.status, attributes=item.attributes,
                    version=1, created_at=now, updated_at=now,
                )
            )  # fmt: skip
            connection.commit()


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--payloads", type=int, default=300, help="200 KB payloads staged in MySQL")
    args = parser.parse_args()

    started = stack.start_all()
    server = sa.make_url(stack.stack_env()["MYSQL_URL"])
    name = f"lp_test_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server)
    with admin.begin() as connection:
        connection.execute(sa.text(f"CREATE DATABASE `{name}`"))
    engine = sa.create_engine(server.set(database=name))
    try:
        migrate(engine, "alerts_to_sftp.migrations")
        store = SqlTrackingStore(engine, table_name=TABLE)
        ours = timed(lambda: store.create_many(items("bench-ours", args.rows)))
        again = timed(lambda: store.create_many(items("bench-ours", args.rows)))  # a re-triggered job
        naive = timed(lambda: row_per_commit(engine, items("bench-naive", args.rows)))
        body = b'{"alert_id": "x", "events": "' + b"e" * 200_000 + b'"}'
        payloads = MySqlPayloadStore(engine)
        mysql_payloads = timed(
            lambda: payloads.stage_many("bench", ((f"ALR-{i}", body) for i in range(args.payloads)))
        )
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(sa.text(f"DROP DATABASE `{name}`"))
        admin.dispose()
        stack.stop(started)

    ours_rate, naive_rate = args.rows / ours, args.rows / naive
    print(f"{'method':42} {'rows':>7} {'seconds':>8} {'rows/s':>9} {'ratio':>7}")
    ratio = ours_rate / naive_rate
    print(
        f"{'ours: create_many (upserts of 500)':42} {args.rows:7d} {ours:8.2f} {ours_rate:9.0f} {ratio:6.1f}x"
    )
    print(f"{'ours again (re-trigger, all exist)':42} {args.rows:7d} {again:8.2f} {args.rows / again:9.0f}")
    print(f"{'row-per-commit INSERT loop':42} {args.rows:7d} {naive:8.2f} {naive_rate:9.0f} {1.0:6.1f}x")
    payload_rate = args.payloads / mysql_payloads
    print(
        f"{'200 KB payloads staged in MySQL':42} {args.payloads:7d} {mysql_payloads:8.2f} {payload_rate:9.0f}"
    )
    print(f"alert_staging rows_per_s={ours_rate:.0f} ratio_vs_row_commit={ours_rate / naive_rate:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
