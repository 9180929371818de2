"""The function on moto, through lambda_handler: SQS batches, the schedule, modes and the breaker."""

from __future__ import annotations

import json
from typing import Any

import pytest
from manifest_builder.builder import ManifestBuilder, UnrecognisedEvent
from manifest_builder.intake import FileIntake
from manifest_builder.validation import Inspector, Limits

from ndjson_fakes import (
    DAY,
    INPUT_BUCKET,
    METRICS_TABLE,
    QUARANTINE_BUCKET,
    TRACKING_TABLE,
    FakeSfn,
    LambdaContext,
    client_error,
    make_core,
    s3_event,
    sqs_record,
)
from ndjson_to_parquet import contract as c
from ndjson_to_parquet import tracking as t
from ndjson_to_parquet.breaker import OutcomeLog
from ndjson_to_parquet.contract import ContractError
from pipelines_shared import aws


def land(count: int, day: str = DAY, prefix: str = "data") -> list[str]:
    s3 = aws.client("s3")
    keys = [f"landing/ndjson/{day}/{prefix}-{i:03d}.ndjson" for i in range(count)]
    for key in keys:
        s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=b'{"id": 1, "v": "x"}\n')
    return keys


def batch(bodies: list[str]) -> dict[str, Any]:
    return {"Records": [sqs_record(f"m{i}", body) for i, body in enumerate(bodies)]}


def executions(stack: dict[str, str]) -> list[dict[str, Any]]:
    sfn = aws.client("stepfunctions")
    listed = sfn.list_executions(stateMachineArn=stack["STATE_MACHINE_ARN"])["executions"]
    return [sfn.describe_execution(executionArn=e["executionArn"]) for e in listed]


def manifest_records(day: str = DAY) -> list[Any]:
    return t.manifest_store(TRACKING_TABLE).list_by_status(day, t.MANIFEST_PENDING, limit=None)


def test_a_mixed_batch_tracks_quarantines_builds_and_fails_only_the_foreign_message(
    handler, stack, monkeypatch
):
    monkeypatch.setenv("MAX_FILES_PER_MANIFEST", "10")
    keys = land(12)
    aws.client("s3").put_object(Bucket=INPUT_BUCKET, Key=f"landing/ndjson/{DAY}/notes.txt", Body=b"hi")
    bodies = [s3_event(key) for key in keys]
    bodies.insert(3, s3_event(f"landing/ndjson/{DAY}/notes.txt"))
    bodies.insert(5, json.dumps({"not": "an s3 event"}))
    bodies.insert(7, json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"}))

    response = handler(batch(bodies), LambdaContext())

    assert response == {"batchItemFailures": [{"itemIdentifier": "m5"}]}
    files = t.file_store(TRACKING_TABLE)
    assert len(files.list_by_status(DAY, t.MANIFESTED, limit=None)) == 10
    assert len(files.list_by_status(DAY, t.PENDING, limit=None)) == 2  # waiting for a full batch
    assert files.get(DAY, "notes.txt").attributes[t.REASON] == c.BAD_EXTENSION
    (record,) = manifest_records()
    (execution,) = executions(stack)
    manifest_id = record.key.removeprefix("MANIFEST#")
    assert execution["name"] == manifest_id
    started = c.ExecutionInput.from_json(execution["input"])
    assert (started.manifest_id, started.file_count, started.glue_job_name) == (
        manifest_id,
        10,
        "ndjson-parquet-batch-job-test",
    )

    again = handler(batch(bodies), LambdaContext())  # the whole batch redelivered
    assert again == {"batchItemFailures": [{"itemIdentifier": "m5"}]}
    assert len(manifest_records()) == 1
    assert len(executions(stack)) == 1


def test_the_schedule_flushes_orphans_over_recent_days(handler, stack, monkeypatch):
    monkeypatch.setenv("ORPHAN_AGE_SECONDS", "0")
    monkeypatch.setenv("MANIFEST_MODE", "stream")  # tracking only: leave the files for the flush
    handler(batch([s3_event(key) for key in land(3)]), LambdaContext())
    assert manifest_records() == []

    result = handler({"action": "flush", "date_prefixes": [DAY]}, LambdaContext())

    (report,) = result["flushed"]
    assert report["date_prefix"] == DAY
    assert len(report["created"]) == 1
    manifest = c.Manifest.from_json(
        aws.client("s3")
        .get_object(Bucket=stack["MANIFEST_BUCKET"], Key=f"manifests/{DAY}/{report['created'][0]}.json")[
            "Body"
        ]
        .read()
    )
    assert (manifest.reason, manifest.file_count) == (c.REASON_ORPHAN_FLUSH, 3)


def test_a_scheduler_event_without_days_covers_today_and_the_lookback(handler, stack, monkeypatch):
    monkeypatch.setenv("FLUSH_LOOKBACK_DAYS", "3")
    result = handler(
        {"source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}}, LambdaContext()
    )
    days = [report["date_prefix"] for report in result["flushed"]]
    assert len(days) == 4
    assert days == sorted(days, reverse=True)


def test_a_flush_naming_a_bad_day_is_refused(handler, stack):
    with pytest.raises(ContractError, match="date_prefixes"):
        handler({"action": "flush", "date_prefixes": ["last tuesday"]}, LambdaContext())


def test_an_unknown_event_is_refused(handler, stack):
    with pytest.raises(UnrecognisedEvent):
        handler({"hello": "world"}, LambdaContext())


def test_eventbridge_mode_puts_manifest_ready_on_the_bus(handler, stack, monkeypatch):
    monkeypatch.setenv("START_MODE", "eventbridge")
    monkeypatch.setenv("MAX_FILES_PER_MANIFEST", "5")
    sqs, events = aws.client("sqs"), aws.client("events")
    queue = sqs.create_queue(QueueName="manifest-ready-probe")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="probe",
        EventBusName=stack["EVENT_BUS_NAME"],
        EventPattern=json.dumps(
            {"source": ["lambda-pipelines.ndjson-parquet"], "detail-type": ["ManifestReady"]}
        ),
    )
    events.put_targets(
        Rule="probe", EventBusName=stack["EVENT_BUS_NAME"], Targets=[{"Id": "q", "Arn": queue_arn}]
    )

    handler(batch([s3_event(key) for key in land(5)]), LambdaContext())

    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    (event,) = [json.loads(m["Body"]) for m in messages]
    assert event["detail-type"] == "ManifestReady"
    detail = c.ExecutionInput.from_json(event["detail"])
    assert detail.file_count == 5
    assert executions(stack) == []


def test_breaker_open_holds_manifests_and_the_flush_starts_them_after_a_reset(handler, stack, monkeypatch):
    monkeypatch.setenv("MAX_FILES_PER_MANIFEST", "5")
    monkeypatch.setenv("START_RETRY_AFTER_SECONDS", "0")
    breaker = OutcomeLog(METRICS_TABLE)
    for n in range(3):
        breaker.record(f"batch-20260201-110000-{n:08x}", "failed")

    handler(batch([s3_event(key) for key in land(10)]), LambdaContext())

    assert len(manifest_records()) == 2
    assert executions(stack) == []
    handler({"action": "flush", "date_prefixes": [DAY]}, LambdaContext())
    assert executions(stack) == []  # still open

    breaker.reset()
    handler({"action": "flush", "date_prefixes": [DAY]}, LambdaContext())
    assert sorted(e["name"] for e in executions(stack)) == sorted(
        r.key.removeprefix("MANIFEST#") for r in manifest_records()
    )


class ThrottledFor:
    """S3 (moto) that throttles reads of one key."""

    def __init__(self, key: str) -> None:
        self.real = aws.client("s3")
        self.key = key

    def __getattr__(self, name: str) -> Any:
        def call(**kwargs: Any) -> Any:
            if kwargs.get("Key") == self.key and name == "head_object":
                raise client_error("SlowDown", name, 503)
            return getattr(self.real, name)(**kwargs)

        return call


@pytest.mark.usefixtures("stack")
def test_a_transient_error_fails_only_its_record_and_manifests_are_still_built():
    keys = land(6)
    s3 = ThrottledFor(keys[2])
    files = t.file_store(TRACKING_TABLE)
    sfn = FakeSfn()
    builder = ManifestBuilder(
        intake=FileIntake(
            s3=s3, files=files, inspector=Inspector(s3, Limits(10**9)), quarantine_bucket=QUARANTINE_BUCKET
        ),
        core=make_core(files, t.manifest_store(TRACKING_TABLE), aws.client("s3"), sfn=sfn, max_files=5),
    )
    response = builder.handle(batch([s3_event(key) for key in keys]), LambdaContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert len(sfn.started) == 1
    assert files.get(DAY, "data-002.ndjson") is None  # SQS redelivers it


@pytest.mark.usefixtures("stack")
def test_a_failing_manifest_pass_does_not_fail_the_tracked_records():
    keys = land(5)
    s3 = aws.client("s3")
    files = t.file_store(TRACKING_TABLE)

    class NoManifestBucket:
        def put_object(self, **kwargs):
            raise client_error("NoSuchBucket", "PutObject", 404)

    builder = ManifestBuilder(
        intake=FileIntake(s3=s3, files=files, inspector=Inspector(s3, Limits(10**9)), quarantine_bucket="q"),
        core=make_core(files, t.manifest_store(TRACKING_TABLE), NoManifestBucket(), max_files=5),
    )
    assert builder.handle(batch([s3_event(key) for key in keys]), LambdaContext()) == {
        "batchItemFailures": []
    }
    assert len(files.list_by_status(DAY, t.MANIFESTED, limit=None)) == 5  # claimed: recovery completes it
