"""stream-manifest-creator: pending inserts in the table's stream run the manifest core for their day."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from stream_manifest_creator.creator import NotAStreamEvent, StreamManifestCreator, pending_days

from ndjson_fakes import (
    DAY,
    MANIFEST_BUCKET,
    TRACKING_TABLE,
    FakeSfn,
    LambdaContext,
    make_core,
    moto_stack,
    track_pending,
)
from ndjson_to_parquet import contract as c
from ndjson_to_parquet import tracking as t
from pipelines_shared import aws

OTHER_DAY = "2026-01-31"


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    with moto_stack(monkeypatch) as env:
        yield env


def change(event_name: str, day: str, key: str, status: str | None, sequence: int) -> dict[str, Any]:
    image = {"date_prefix": {"S": day}, "file_key": {"S": key}}
    if status is not None:
        image["status"] = {"S": status}
    record: dict[str, Any] = {
        "eventID": f"e{sequence}",
        "eventName": event_name,
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "Keys": {"date_prefix": {"S": day}, "file_key": {"S": key}},
            "SequenceNumber": str(sequence),
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }
    if event_name != "REMOVE":
        record["dynamodb"]["NewImage"] = image
    return record


def inserts(day: str, keys: list[str], start: int = 100) -> list[dict[str, Any]]:
    return [change("INSERT", day, key, f"pending#{t.shard_id(key)}", start + i) for i, key in enumerate(keys)]


def test_only_records_that_make_a_file_pending_count():
    records = [
        *inserts(DAY, ["a.ndjson", "b.ndjson"]),
        change("MODIFY", OTHER_DAY, "c.ndjson", "pending#3", 7),
        change("MODIFY", "2026-01-30", "d.ndjson", "manifested#1", 8),
        change("INSERT", "2026-01-29", "MANIFEST#batch-20260129-000000-00000000", "pending", 9),
        change("INSERT", "2026-01-28", "q.txt", "failed#2", 10),
        change("REMOVE", "2026-01-27", "gone.ndjson", None, 11),
    ]
    assert pending_days(records) == {DAY: ["100", "101"], OTHER_DAY: ["7"]}


def test_the_handler_builds_manifests_for_the_days_in_the_batch(stack, monkeypatch):
    from stream_manifest_creator import handler as module

    monkeypatch.setenv("MAX_FILES_PER_MANIFEST", "4")
    module.dependencies.cache_clear()  # a fresh cold start
    files = t.file_store(TRACKING_TABLE)
    keys = track_pending(files, DAY, 9)
    other = track_pending(files, OTHER_DAY, 4)
    event = {"Records": inserts(DAY, keys) + inserts(OTHER_DAY, other, start=500)}

    assert module.lambda_handler(event, LambdaContext()) == {"batchItemFailures": []}
    assert module.lambda_handler(event, LambdaContext()) == {"batchItemFailures": []}  # idempotent

    manifests = t.manifest_store(TRACKING_TABLE)
    assert len(manifests.list_by_status(DAY, t.MANIFEST_PENDING, limit=None)) == 2
    assert len(manifests.list_by_status(OTHER_DAY, t.MANIFEST_PENDING, limit=None)) == 1
    assert len(files.list_by_status(DAY, t.PENDING, limit=None)) == 1  # waits for a full batch
    listed = aws.client("s3").list_objects_v2(Bucket=MANIFEST_BUCKET, Prefix=f"manifests/{DAY}/")["Contents"]
    reasons = {
        c.Manifest.from_json(
            aws.client("s3").get_object(Bucket=MANIFEST_BUCKET, Key=o["Key"])["Body"].read()
        ).reason
        for o in listed
    }
    assert reasons == {c.REASON_STREAM}
    executions = aws.client("stepfunctions").list_executions(stateMachineArn=stack["STATE_MACHINE_ARN"])
    assert len(executions["executions"]) == 3


@pytest.mark.usefixtures("stack")
def test_a_day_whose_pass_fails_reports_its_records():
    files = t.file_store(TRACKING_TABLE)
    good, bad = track_pending(files, DAY, 4), track_pending(files, OTHER_DAY, 4)
    core = make_core(files, t.manifest_store(TRACKING_TABLE), aws.client("s3"), sfn=FakeSfn(), max_files=4)

    class FailsOn:
        def build(self, day, **kwargs):
            if day == OTHER_DAY:
                raise RuntimeError("table unavailable")
            return core.build(day, **kwargs)

    event = {"Records": inserts(DAY, good) + inserts(OTHER_DAY, bad, start=500)}
    response = StreamManifestCreator(FailsOn()).handle(event)
    assert response == {"batchItemFailures": [{"itemIdentifier": str(n)} for n in range(500, 504)]}
    assert len(files.list_by_status(DAY, t.MANIFESTED, limit=None)) == 4


def test_an_event_without_records_is_refused():
    with pytest.raises(NotAStreamEvent):
        StreamManifestCreator(core=None).handle({"action": "flush"})
