"""batch-status-updater takes the documented events and answers the documented result
(docs/ndjson_to_parquet/schemas/): each example event, run against the example manifest it names
(moto S3) and its files tracked as the builder leaves them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from batch_status_updater.updater import StatusUpdater
from moto import mock_aws

from contract_schemas import contract
from ndjson_to_parquet import contract as c
from ndjson_to_parquet import tracking as t
from pipelines_shared import aws
from pipelines_shared.tracking import TrackedItem
from pipelines_shared.tracking.memory import MemoryTrackingStore

MANIFEST = contract("ndjson_to_parquet", "manifest")
EVENT = contract("ndjson_to_parquet", "status-update")
RESULT = contract("ndjson_to_parquet", "status-update-result")


class Outcomes:
    def __init__(self) -> None:
        self.recorded: list[tuple[str, str]] = []

    def record(self, manifest_id: str, outcome: str) -> bool:
        self.recorded.append((manifest_id, outcome))
        return True


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        aws.reset_clients()
        yield aws.client("s3")
    aws.reset_clients()


@pytest.mark.parametrize("event", EVENT.examples, ids=lambda e: e["outcome"])
def test_each_example_event_moves_the_files_of_its_manifest_and_answers_a_documented_result(s3, event):
    manifest = next(m for m in MANIFEST.examples if m["manifest_id"] == event["manifest_id"])
    bucket, key = c.parse_s3_uri(event["manifest_path"])
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket=bucket, Key=key, Body=c.Manifest.from_json(manifest).to_json().encode())
    files = MemoryTrackingStore()
    for entry in manifest["files"]:
        attributes = {t.MANIFEST_ID: manifest["manifest_id"], t.MANIFEST_PATH: event["manifest_path"]}
        files.create(TrackedItem(manifest["date_prefix"], entry["file_key"], t.MANIFESTED, attributes))
    outcomes = Outcomes()

    result = StatusUpdater(s3=s3, files=files, breaker=outcomes).update(event)

    RESULT.assert_produced(result)
    assert (result["outcome"], result["updated"]) == (event["outcome"], manifest["file_count"])
    assert outcomes.recorded == [(event["manifest_id"], event["outcome"])]
    moved = {files.get(manifest["date_prefix"], f["file_key"]).status for f in manifest["files"]}
    assert moved == {event["outcome"]}
