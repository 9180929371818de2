"""Fakes and helpers for tests of the NDJSON pipeline (shared library, its services, integration).

Importable as ``ndjson_fakes`` (``shared/tests`` is on the pytest path), also by processes spawned
from tests: :func:`claim_loop_process` is the body of the integration test's racing builders.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from ndjson_to_parquet import tracking as t
from ndjson_to_parquet.contract import s3_uri
from ndjson_to_parquet.manifests import ManifestCore
from ndjson_to_parquet.policy import ManifestPolicy
from pipelines_shared.clock import ManualClock, utc_now
from pipelines_shared.tracking import TrackedItem, TrackingStore

START = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
DAY = "2026-02-01"
INPUT_BUCKET = "ndjson-parquet-input-test-123456789012"
MANIFEST_BUCKET = "ndjson-parquet-manifest-test-123456789012"
OUTPUT_BUCKET = "ndjson-parquet-output-test-123456789012"
QUARANTINE_BUCKET = "ndjson-parquet-quarantine-test-123456789012"
STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:ndjson-parquet-processor-test"
GLUE_JOB = "ndjson-parquet-batch-job-test"
SPARK_JOB = "ndjson-parquet-spark-job-test"
BUS = "ndjson-parquet-etl-test"


class FakeClock(ManualClock):
    """The shared settable clock, starting at START; shared by the core and the stores so ages are exact."""

    def __init__(self, now: datetime = START) -> None:
        super().__init__(now)


class OneCallAtATime:
    """Serialise calls to a boto3 client: moto checks a ConditionExpression and writes without a
    lock, so racing threads could both pass a condition that DynamoDB lets only one pass."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attribute(*args, **kwargs)

        return call


def client_error(code: str, operation: str = "Operation", status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation
    )


class FakeSfn:
    """StartExecution as Step Functions answers it: a name is taken once, forever."""

    def __init__(self, fail_with: str | None = None) -> None:
        self.fail_with = fail_with
        self.started: list[dict[str, Any]] = []
        self.attempts = 0
        self._lock = threading.Lock()

    def start_execution(self, *, stateMachineArn: str, name: str, input: str) -> dict[str, Any]:
        with self._lock:
            self.attempts += 1
            if self.fail_with:
                raise client_error(
                    self.fail_with, "StartExecution", 500 if "Service" in self.fail_with else 400
                )
            if any(started["name"] == name for started in self.started):
                raise client_error("ExecutionAlreadyExists", "StartExecution")
            self.started.append({"stateMachineArn": stateMachineArn, "name": name, "input": input})
            arn = stateMachineArn.replace(":stateMachine:", ":execution:")
            return {"executionArn": f"{arn}:{name}", "startDate": START}

    @property
    def names(self) -> list[str]:
        return [started["name"] for started in self.started]


class FakeEvents:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def put_events(self, *, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        with self._lock:
            self.entries.extend(Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": f"e-{len(self.entries)}"}]}


class FakeBreaker:
    def __init__(self, open: bool = False) -> None:
        self.open = open

    def is_open(self) -> bool:
        return self.open


def policy(**overrides: Any) -> ManifestPolicy:
    values: dict[str, Any] = {
        "manifest_bucket": MANIFEST_BUCKET,
        "output_bucket": OUTPUT_BUCKET,
        "glue_job_name": GLUE_JOB,
        "state_machine_arn": STATE_MACHINE_ARN,
        "spark_glue_job_name": "",
        "spark_threshold_bytes": 0,
        "start_mode": "stepfunctions",
        "event_bus_name": "",
        "max_manifests_per_run": 50,
        "claim_workers": 8,
        "max_files": 10,
        "max_bytes": 10_000,
        "orphan_age": timedelta(minutes=10),
        "start_retry_after": timedelta(minutes=2),
        "claim_recovery_after": timedelta(minutes=15),
    }
    values.update(overrides)
    return ManifestPolicy(**values)


def pending_item(day: str, file_key: str, size: int = 100) -> TrackedItem:
    return TrackedItem(
        day,
        file_key,
        t.PENDING,
        {
            t.FILE_PATH: s3_uri(INPUT_BUCKET, f"landing/ndjson/{day}/{file_key}"),
            t.SIZE: size,
            t.ETAG: f"etag-{file_key}",
            t.SHARD_ID: t.shard_id(file_key),
        },
    )


def track_pending(
    store: TrackingStore, day: str, count: int, size: int = 100, prefix: str = "data"
) -> list[str]:
    keys = [f"{prefix}-{i:04d}.ndjson" for i in range(count)]
    store.create_many(pending_item(day, key, size) for key in keys)
    return keys


def make_core(
    files: TrackingStore,
    manifests: TrackingStore,
    s3: Any,
    *,
    sfn: Any = None,
    events: Any = None,
    breaker: Any = None,
    clock: Callable[[], datetime] | None = None,
    **policy_overrides: Any,
) -> ManifestCore:
    chosen = policy(**policy_overrides)
    return ManifestCore(
        files=files,
        manifests=manifests,
        s3=s3,
        policy=chosen,
        sfn=sfn if sfn is not None else FakeSfn(),
        events=events,
        breaker=breaker,
        clock=clock or utc_now,
    )


def claim_loop_process(table: str, bucket: str, day: str, max_files: int, go: Any, results: Any) -> None:
    """One racing builder in its own process (integration test): loop the core until nothing is
    pending, on the real table and bucket, with recorders for Step Functions and EventBridge."""
    from pipelines_shared import aws

    dynamodb = aws.client("dynamodb")
    sfn = FakeSfn()
    core = ManifestCore(
        files=t.file_store(table, client=dynamodb),
        manifests=t.manifest_store(table, client=dynamodb),
        s3=aws.client("s3"),
        policy=policy(
            manifest_bucket=bucket,
            max_files=max_files,
            max_bytes=10**12,
            orphan_age=timedelta(0),
            max_manifests_per_run=3,
        ),
        sfn=sfn,
    )
    go.wait(60)
    created: list[str] = []
    contended = 0
    error = ""
    try:
        for _ in range(1000):
            report = core.build(day)
            created += report.created
            contended += report.contended + report.released
            if not (report.created or report.contended or report.released or report.waiting):
                break
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    results.put({"created": created, "started": sfn.names, "contended": contended, "error": error})


TRACKING_TABLE = "ndjson-parquet-sqs-file-tracking-test"
METRICS_TABLE = "ndjson-parquet-sqs-metrics-test"


def create_moto_stack() -> dict[str, str]:
    """Inside ``mock_aws``: the pipeline's buckets, tables, state machine and bus, as Terraform makes
    them; returns the environment the functions read."""
    import json as _json

    from ndjson_to_parquet import breaker
    from pipelines_shared import aws
    from pipelines_shared.tracking.dynamodb import create_table

    aws.reset_clients()
    s3 = aws.client("s3")
    for bucket in (INPUT_BUCKET, MANIFEST_BUCKET, OUTPUT_BUCKET, QUARANTINE_BUCKET):
        s3.create_bucket(Bucket=bucket)
    create_table(t.file_store(TRACKING_TABLE))
    breaker.create_table(METRICS_TABLE)
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    machine = aws.client("stepfunctions").create_state_machine(
        name="ndjson-parquet-processor-test",
        definition=_json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/ndjson-parquet-sfn-test",
    )
    aws.client("events").create_event_bus(Name=BUS)
    return {
        "FILE_TRACKING_TABLE": TRACKING_TABLE,
        "METRICS_TABLE": METRICS_TABLE,
        "MANIFEST_BUCKET": MANIFEST_BUCKET,
        "OUTPUT_BUCKET": OUTPUT_BUCKET,
        "QUARANTINE_BUCKET": QUARANTINE_BUCKET,
        "GLUE_JOB_NAME": GLUE_JOB,
        "STATE_MACHINE_ARN": machine["stateMachineArn"],
        "EVENT_BUS_NAME": BUS,
        # What Terraform sets on the functions (modules/ndjson_to_parquet/functions.tf); the settings
        # carry no defaults for them. Values of the tests' own, small enough to see several manifests.
        "SPARK_GLUE_JOB_NAME": SPARK_JOB,
        "SPARK_THRESHOLD_BYTES": "0",
        "START_MODE": "stepfunctions",
        "MANIFEST_MODE": "builder",
        "MAX_FILES_PER_MANIFEST": "100",
        "MAX_BYTES_PER_MANIFEST": str(512 * 1024 * 1024),
        "ORPHAN_AGE_SECONDS": "600",
        "MAX_FILE_BYTES": str(5 * 1024**3),
        "BREAKER_FAILURE_THRESHOLD": "3",
        "BREAKER_WINDOW_SECONDS": "3600",
        "LOG_LEVEL": "INFO",
    }


@contextlib.contextmanager
def moto_stack(environ: Any) -> Iterator[dict[str, str]]:
    """``mock_aws`` with :func:`create_moto_stack`, its variables set through ``environ.setenv``
    (a pytest MonkeyPatch), and boto3 clients forgotten afterwards."""
    from moto import mock_aws

    from pipelines_shared import aws

    with mock_aws():
        env = create_moto_stack()
        for name, value in env.items():
            environ.setenv(name, value)
        yield env
    aws.reset_clients()


def s3_event(key: str, bucket: str = INPUT_BUCKET, event_name: str = "ObjectCreated:Put") -> str:
    """An SQS message body as S3 sends it (the key URL-encoded)."""
    import json as _json
    from urllib.parse import quote_plus

    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-02-01T12:00:00.000Z",
        "eventName": event_name,
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": quote_plus(key, safe="/"), "size": 1, "eTag": "x", "sequencer": "0A"},
        },
    }
    return _json.dumps({"Records": [record]})


def sqs_record(message_id: str, body: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ndjson-parquet-file-events-test",
        "awsRegion": "us-east-1",
    }


class LambdaContext:
    aws_request_id = "req-1"
    function_name = "ndjson-parquet-test"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ndjson-parquet-test"

    def __init__(self, remaining_ms: int = 300_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms
