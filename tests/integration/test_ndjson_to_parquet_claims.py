"""Six manifest builders in six processes race over 300 pending files on the local stack's DynamoDB
(over HTTP, the real table shape: sharded statuses, ``status-index``, MANIFEST records beside the
files): every file ends up in exactly one manifest, none is lost, and the table agrees with S3.

Step Functions and EventBridge are replaced by recorders inside each process; manifests are written
to a real bucket. The racing loop is ``ndjson_fakes.claim_loop_process`` (importable by a spawned
process, unlike a test module).
"""

from __future__ import annotations

import multiprocessing
import queue
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from ndjson_fakes import DAY, claim_loop_process, track_pending
from ndjson_to_parquet import contract as c
from ndjson_to_parquet import tracking as t
from pipelines_shared import aws
from pipelines_shared.tracking.dynamodb import create_table, delete_table

pytestmark = pytest.mark.integration

BUILDERS = 6
FILES = 300
MAX_FILES = 7


@pytest.fixture
def table_and_bucket(aws_endpoint_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    monkeypatch.setenv("LOG_LEVEL", "WARNING")  # inherited by the builders: their logs stay short
    aws.reset_clients()
    name = f"ndjson-claims-{uuid.uuid4().hex[:10]}"
    store = t.file_store(name)
    assert store.client.meta.endpoint_url == aws_endpoint_url
    create_table(store)
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=name)
    try:
        yield name, name
    finally:
        delete_table(store)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for obj in page.get("Contents", []):
                s3.delete_object(Bucket=name, Key=obj["Key"])
        s3.delete_bucket(Bucket=name)
        aws.reset_clients()


def _run_builders(table: str, bucket: str) -> list[dict[str, Any]]:
    context = multiprocessing.get_context("spawn")
    go, results = context.Event(), context.Queue()
    processes = [
        context.Process(target=claim_loop_process, args=(table, bucket, DAY, MAX_FILES, go, results))
        for _ in range(BUILDERS)
    ]
    for process in processes:
        process.start()
    go.set()  # each waits for it after importing, so they start claiming together
    reports = []
    try:
        for _ in processes:
            reports.append(results.get(timeout=300))
    except queue.Empty:
        pytest.fail(f"only {len(reports)} of {BUILDERS} builders reported within 300 s")
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    return reports


def test_six_builder_processes_put_each_of_300_files_in_exactly_one_manifest(table_and_bucket):
    table, bucket = table_and_bucket
    files = t.file_store(table)
    keys = track_pending(files, DAY, FILES, size=1000)

    reports = _run_builders(table, bucket)

    assert [report["error"] for report in reports] == [""] * BUILDERS
    created = [manifest_id for report in reports for manifest_id in report["created"]]
    started = [name for report in reports for name in report["started"]]
    assert len(set(created)) == len(created)
    assert sorted(started) == sorted(created)  # each manifest started once, by its builder
    assert sum(1 for report in reports if report["created"]) > 1  # they really raced

    s3 = aws.client("s3")
    manifests: dict[str, c.Manifest] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"manifests/{DAY}/"):
        for obj in page.get("Contents", []):
            manifest = c.Manifest.from_json(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
            assert obj["Key"] == c.manifest_object_key(DAY, manifest.manifest_id)
            manifests[manifest.manifest_id] = manifest
    assert sorted(manifests) == sorted(created)

    placed = Counter(f.file_key for manifest in manifests.values() for f in manifest.files)
    assert set(placed) == set(keys)  # no file lost
    assert set(placed.values()) == {1}  # no file in two manifests

    records = {
        record.key.removeprefix(c.MANIFEST_KEY_PREFIX): record
        for record in t.manifest_store(table).list_by_status(DAY, t.MANIFEST_PENDING, limit=None)
    }
    assert sorted(records) == sorted(manifests)
    for manifest_id, manifest in manifests.items():
        attributes = records[manifest_id].attributes
        assert attributes[t.FILE_COUNT] == manifest.file_count
        assert attributes[t.TOTAL_BYTES] == manifest.total_bytes == 1000 * manifest.file_count
        assert attributes[t.MANIFEST_PATH] == f"s3://{bucket}/{c.manifest_object_key(DAY, manifest_id)}"

    owner = {f.file_key: manifest_id for manifest_id, m in manifests.items() for f in m.files}
    raw_items = []
    for page in files.client.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="date_prefix = :day",
        ExpressionAttributeValues={":day": {"S": DAY}},
        ConsistentRead=True,
    ):
        raw_items += page["Items"]
    file_items = [item for item in raw_items if not item["file_key"]["S"].startswith(c.MANIFEST_KEY_PREFIX)]
    assert len(file_items) == FILES
    for item in file_items:
        key = item["file_key"]["S"]
        assert item["status"]["S"] == f"manifested#{t.shard_id(key)}"
        assert item["shard_id"]["N"] == str(t.shard_id(key))
        assert item["manifest_id"]["S"] == owner[key]
        assert item["manifest_path"]["S"] == f"s3://{bucket}/{c.manifest_object_key(DAY, owner[key])}"
