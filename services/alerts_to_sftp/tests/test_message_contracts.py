"""Pipeline 000's messages against their schemas (docs/alerts_to_sftp/schemas/): one job through
coordinator, worker and finalizer with in-memory collaborators, every message on the way validated
where it is produced and taken by its consumer; the pointer's parser refuses what the schema refuses;
both staging stores write locations the pointer's contract allows."""

from __future__ import annotations

import contextlib
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alert_coordinator.coordinator import Coordinator
from alert_coordinator.request import JobRequest
from alerts_finalizer.finalizer import AwsAnnouncer, Finalizer
from sftp_worker.worker import Worker, payload_router

from alerts_to_sftp.contract import AlertPointer, InvalidPointer
from alerts_to_sftp.staging import MemoryPayloadStore, MySqlPayloadStore, S3PayloadStore
from contract_schemas import REMOVE, contract, variant
from pipelines_shared.clock import ManualClock
from pipelines_shared.deadline import Deadline
from pipelines_shared.tracking.memory import MemoryTrackingStore

POINTER = contract("alerts_to_sftp", "alert-pointer")
SUMMARY = contract("alerts_to_sftp", "job-summary")
STATUS = contract("alerts_to_sftp", "job-status")
FINALIZED = contract("alerts_to_sftp", "job-finalized-event")
NOW = datetime(2026, 2, 1, 2, 25, tzinfo=UTC)
BUS = "default"


class Queue:
    def __init__(self) -> None:
        self.bodies: list[str] = []

    def send(self, pointers: list[AlertPointer], correlation_id: str) -> None:
        self.bodies += [pointer.to_body() for pointer in pointers]


class Lock:
    @contextlib.contextmanager
    def hold(self, job_id: str):
        yield True


class Server:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    @contextlib.contextmanager
    def session(self):
        yield self

    def ensure_directory(self, path: str) -> None:
        pass

    def upload_atomic(self, remote_dir: str, name: str, data: bytes) -> str:
        self.files[f"{remote_dir}/{name}"] = data
        return f"{remote_dir}/{name}"


class Events:
    """EventBridge PutEvents; ``delivered`` is each entry as a rule's target receives it."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def put_events(self, *, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.entries += Entries
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"} for _ in Entries]}

    def delivered(self) -> list[dict[str, Any]]:
        return [
            {
                "version": "0",
                "id": f"event-{index}",
                "detail-type": entry["DetailType"],
                "source": entry["Source"],
                "account": "123456789012",
                "time": "2026-02-01T02:25:01Z",
                "region": "eu-west-1",
                "resources": [],
                "detail": json.loads(entry["Detail"]),
            }
            for index, entry in enumerate(self.entries)
        ]


class Metrics:
    def put_metric_data(self, **_: Any) -> None:
        pass


class NoDeadLetters:
    def peek(self) -> list[dict[str, Any]]:
        return []

    def depth(self) -> int:
        return 0


def pages(status: int):
    alerts = [{"alert_id": f"ALR-{status:02d}-{i:06d}", "status": status, "data": {"i": i}} for i in range(3)]
    if status == 7:
        alerts.append({"alert_id": "../../etc/passwd", "status": 7})
    yield alerts


def test_one_job_through_the_pipeline_speaks_the_documented_messages():
    clock = ManualClock(NOW)
    store, payloads, queue, server, events = (
        MemoryTrackingStore(clock=clock), MemoryPayloadStore(), Queue(), Server(), Events()
    )  # fmt: skip
    coordinator = Coordinator(store=store, payloads=payloads, queue=queue, pages=pages, lock=Lock())

    summary = coordinator.run(JobRequest("airflow-20260201", statuses=(1, 7, 20)), "airflow-20260201")
    SUMMARY.assert_produced(summary.as_dict())
    assert summary.as_dict()["state"] == "open"
    staged = coordinator.status("airflow-20260201")
    STATUS.assert_produced(staged)
    assert (staged["state"], staged["alerts"], staged["finalized_at"]) == ("open", {"queued": 10}, None)

    worker = Worker(
        store=store,
        payloads=payload_router({"s3": payloads}),
        open_session=server.session,
        remote_dir="/upload",
        deadline=Deadline.never(),
    )
    assert len(queue.bodies) == 10
    for body in queue.bodies:
        POINTER.assert_produced(json.loads(body))
        worker.process(body)  # the consumer takes what the producer sent
    assert len(server.files) == 10

    finalizer = Finalizer(
        store=store,
        announcer=AwsAnnouncer(events, Metrics(), bus=BUS, namespace="LambdaPipelines/Alerts"),
        dead_letters=NoDeadLetters(),
        stuck_after=timedelta(hours=1),
        clock=clock,
    )
    assert finalizer.run().finalized == ["airflow-20260201"]
    [entry] = events.entries
    assert entry["EventBusName"] == BUS
    [event] = events.delivered()
    FINALIZED.assert_produced(event)
    closed = coordinator.status("airflow-20260201")
    STATUS.assert_produced(closed)
    assert closed["state"] == "finalized"
    # The event and the status tell the same story.
    assert (event["detail"]["job_id"], event["detail"]["alert_count"], event["detail"]["finalized_at"]) == (
        closed["job_id"],
        closed["alert_count"],
        closed["finalized_at"],
    )

    # A trigger of a finalized job answers its summary and does nothing.
    again = coordinator.run(JobRequest("airflow-20260201"), "airflow-20260201")
    SUMMARY.assert_produced(again.as_dict())
    assert again.as_dict()["state"] == "finalized"


def test_a_job_whose_status_failed_answers_a_staging_summary_with_the_error():
    store, payloads, queue = MemoryTrackingStore(), MemoryPayloadStore(), Queue()

    def flaky(status: int):
        if status == 2:
            raise ConnectionError("alerts API went away")
        yield from pages(status)

    coordinator = Coordinator(store=store, payloads=payloads, queue=queue, pages=flaky, lock=Lock())
    summary = coordinator.run(JobRequest("airflow-20260202", statuses=(1, 2)), "c").as_dict()
    SUMMARY.assert_produced(summary)
    assert (summary["state"], list(summary["errors"])) == ("staging", ["2"])
    STATUS.assert_produced(coordinator.status("airflow-20260202"))


class RecordingS3:
    def __init__(self) -> None:
        self.keys: list[str] = []

    def put_object(self, *, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:
        self.keys.append(Key)
        return {}


class RecordingEngine:
    """SQLAlchemy's engine.begin() as MySqlPayloadStore uses it (the rows are what matters here)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    @contextlib.contextmanager
    def begin(self):
        yield self

    def execute(self, statement: Any, rows: list[dict[str, Any]]) -> None:
        self.rows += rows


@pytest.mark.parametrize("kind", ["s3", "mysql"])
def test_both_staging_stores_write_locations_the_pointer_allows(kind: str):
    store = (
        S3PayloadStore("lambda-pipelines-alerts-staging-dev-123456789012", client=RecordingS3())
        if kind == "s3"
        else MySqlPayloadStore(RecordingEngine())
    )
    body = b'{"alert_id":"x/y z"}'
    [staged] = store.stage_many("airflow-20260201", [("x/y z", body)])
    pointer = AlertPointer("airflow-20260201", "x/y z", 3, staged.location, staged.sha256, staged.size)
    POINTER.assert_produced(json.loads(pointer.to_body()))
    assert (staged.sha256, staged.size) == (hashlib.sha256(body).hexdigest(), len(body))
    assert staged.location.startswith(f"{kind}://")


@pytest.mark.parametrize("example", POINTER.examples)
def test_the_worker_parses_every_example_pointer(example: dict[str, Any]):
    pointer = AlertPointer.from_body(json.dumps(example))
    assert {k: v for k, v in example.items() if k != "version"} == vars(pointer)


EXAMPLE = POINTER.examples[0]
INVALID = {
    "version 2": variant(EXAMPLE, {"version": 2}),
    "version true": variant(EXAMPLE, {"version": True}),
    "no version": variant(EXAMPLE, {"version": REMOVE}),
    "no job_id": variant(EXAMPLE, {"job_id": REMOVE}),
    "job_id with a space": variant(EXAMPLE, {"job_id": "airflow 20260201"}),
    "job_id ending in a newline": variant(EXAMPLE, {"job_id": "airflow-20260201\n"}),
    "empty alert_id": variant(EXAMPLE, {"alert_id": ""}),
    "alert_id of 513 characters": variant(EXAMPLE, {"alert_id": "A" * 513}),
    "no status": variant(EXAMPLE, {"status": REMOVE}),
    "status 21": variant(EXAMPLE, {"status": 21}),
    "status as text": variant(EXAMPLE, {"status": "7"}),
    "ftp location": variant(EXAMPLE, {"location": "ftp://host/staged/a.json"}),
    "s3 location without bucket or key": variant(EXAMPLE, {"location": "s3://"}),
    "upper-case sha256": variant(EXAMPLE, {"sha256": EXAMPLE["sha256"].upper()}),
    "sha256 ending in a newline": variant(EXAMPLE, {"sha256": EXAMPLE["sha256"] + "\n"}),
    "negative size": variant(EXAMPLE, {"size": -1}),
    "size as text": variant(EXAMPLE, {"size": "204800"}),
    "no size": variant(EXAMPLE, {"size": REMOVE}),
    "an array": [EXAMPLE],
}


@pytest.mark.parametrize(("case", "document"), INVALID.items(), ids=list(INVALID))
def test_the_schema_and_the_worker_refuse_the_same_pointers(case: str, document: Any):
    assert not POINTER.is_valid(document), f"the schema accepts {case}"
    with pytest.raises(InvalidPointer):
        AlertPointer.from_body(json.dumps(document))
