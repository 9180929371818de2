"""Alerts to SFTP (seed 000) end to end on the local stack, triggered through the ALB as Airflow does.

A job of 2,000 alerts over 20 statuses (every 10th ~200 KB) from the fake API while it injects 429s
and 500s must end with every alert on the real OpenSSH server exactly once with the right bytes, all
completed in MySQL, the job finalized and the DLQ empty; with S3 staging and with MySQL staging. A
duplicate SQS delivery and a re-triggered job change nothing; a pointer to a missing staged object
lands in the DLQ and the finalizer reports it; once the object is staged, `lp dlq redrive` moves the
pointer back and the alert is uploaded once.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
import sqlalchemy as sa
from fake_alerts_api.dataset import Dataset

from alerts_client import job_status, trigger_job
from alerts_to_sftp import tracking as t
from alerts_to_sftp.contract import AlertPointer
from devstack import fake_api, terraform
from pipelines_shared.sftp import safe_remote_name
from pipelines_shared.tracking import TrackedItem
from pipelines_shared.tracking.sql import SqlTrackingStore

pytestmark = pytest.mark.e2e

MAX_RECEIVE_COUNT = 3  # modules/alerts_to_sftp: worker.max_receive_count (lambda_service: at least 3)
WORKER_VISIBILITY = 6 * 10  # terraform/environments/local: worker timeout 10 s


def _post(url: str, body: dict, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(  # noqa: S310 (loopback)
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture(scope="module")
def alerts(deployed_stack, local_stack):
    outputs = deployed_stack["alerts_to_sftp"]
    secret = Path(local_stack["ALERTS_TRIGGER_SECRET_FILE"]).read_text().strip()
    expected = {}
    for raw in Dataset(fake_api.ALERTS_PER_STATUS, seed=0, large_every=10):
        alert = json.loads(raw)
        # The file content: the alert as compact UTF-8 JSON (see alert_coordinator.coordinator).
        expected[alert["alert_id"]] = json.dumps(alert, separators=(",", ":"), ensure_ascii=False).encode()
    engine = sa.create_engine(local_stack["MYSQL_URL"])
    yield {
        **outputs,
        "secret": secret,
        "expected": expected,
        "store": SqlTrackingStore(engine, table_name=t.TABLE),
        "upload_dir": Path(local_stack["SFTP_LOCAL_DIR"]),
        "api": local_stack["ALERTS_API_URL"],
    }
    _post(f"{local_stack['ALERTS_API_URL']}/_faults", {})
    engine.dispose()


def _trigger(alerts, job_id: str, **extra) -> tuple[int, dict]:
    return _post(
        alerts["trigger_url"], {"job_id": job_id, **extra}, {"X-Alerts-Trigger-Secret": alerts["secret"]}
    )


def _finalize(alerts) -> dict:
    response = boto3.client("lambda").invoke(FunctionName=alerts["functions"]["finalizer"], Payload=b"{}")
    assert "FunctionError" not in response, response["Payload"].read()
    return json.loads(response["Payload"].read())


def _files(alerts, job_id: str) -> dict[str, Path]:
    directory = alerts["upload_dir"] / job_id
    if not directory.is_dir():
        return {}
    return {path.name: path for path in directory.iterdir()}


def _deliver_job(alerts, job_id: str, wait_for) -> dict:
    """Trigger a whole job under injected faults and check every alert arrived once, byte for byte."""
    expected = alerts["expected"]
    status, unauthenticated = _post(alerts["trigger_url"], {"job_id": job_id})
    assert status == 401, unauthenticated
    assert alerts["store"].get(t.JOBS, job_id) is None  # no work was done

    _post(f"{alerts['api']}/_faults", {"rate_429": 0.15, "retry_after": 0.2, "rate_500": 0.1, "seed": 7})
    # As the Airflow DAG does it (airflow/dags/alerts_client.py).
    summary = trigger_job(alerts["trigger_url"], alerts["secret"], job_id)
    faults = json.loads(urllib.request.urlopen(f"{alerts['api']}/_stats", timeout=5).read())["faults"]  # noqa: S310
    _post(f"{alerts['api']}/_faults", {})
    assert faults.get("429", 0) > 0
    assert faults.get("500", 0) > 0
    assert summary["state"] == t.JOB_OPEN
    assert summary["alert_count"] == len(expected) >= 2000
    assert summary["totals"]["staged"] == summary["totals"]["queued"] == len(expected)
    assert {int(s) for s in summary["statuses"]} == set(range(1, 21))

    names = {safe_remote_name(alert_id): alert_id for alert_id in expected}
    wait_for(lambda: set(_files(alerts, job_id)) == set(names), 600, f"{len(names)} files on the SFTP server")
    files = _files(alerts, job_id)
    assert not [name for name in files if name.endswith(".part") or name.startswith(".")]
    wrong = [name for name, path in files.items() if path.read_bytes() != expected[names[name]]]
    assert wrong == []
    assert sum(1 for body in expected.values() if len(body) >= 180_000) >= 200  # ~200 KB alerts among them

    namespace = t.job_namespace(job_id)
    assert wait_for(
        lambda: alerts["store"].count_by_status(namespace) == {t.COMPLETED: len(expected)},
        60,
        "all completed",
    )
    report = _finalize(alerts)
    assert job_id in report["finalized"]
    job = alerts["store"].get(t.JOBS, job_id)
    assert job.status == t.JOB_FINALIZED
    assert job.attributes["finalized_at"]
    status = job_status(alerts["trigger_url"], alerts["secret"], job_id)  # what the DAG's sensor reads
    assert (status["state"], status["alerts"]) == (t.JOB_FINALIZED, {t.COMPLETED: len(expected)})
    again = _finalize(alerts)
    assert again["finalized"] == []  # exactly once
    assert [d for d in again["dead_lettered"] if d["job_id"] == job_id] == []  # nothing of it in the DLQ
    return summary


def test_job_with_s3_staging_delivers_every_alert_exactly_once(alerts, wait_for, queue_counts):
    job_id = f"e2e-s3-{uuid.uuid4().hex[:8]}"
    _deliver_job(alerts, job_id, wait_for)
    item = alerts["store"].get(t.job_namespace(job_id), "ALR-01-000000")
    assert item.attributes["location"].startswith("s3://")

    # A re-triggered job and a duplicate SQS delivery change nothing on the server or in MySQL.
    files = _files(alerts, job_id)
    stamps = {name: path.stat().st_mtime_ns for name, path in files.items()}
    version = item.version
    status, again = _trigger(alerts, job_id)
    assert status == 200
    assert again["state"] == t.JOB_FINALIZED
    attrs = item.attributes
    pointer = AlertPointer(job_id, item.key, 1, attrs["location"], attrs["sha256"], attrs["size"])
    boto3.client("sqs").send_message(QueueUrl=alerts["queue_url"], MessageBody=pointer.to_body())
    wait_for(lambda: queue_counts(alerts["queue_url"]) == (0, 0), 60, "the duplicate to be consumed")
    assert {name: path.stat().st_mtime_ns for name, path in _files(alerts, job_id).items()} == stamps
    assert alerts["store"].get(t.job_namespace(job_id), "ALR-01-000000").version == version
    assert [d for d in _finalize(alerts)["dead_lettered"] if d["job_id"] == job_id] == []


@pytest.fixture
def mysql_staging(alerts):
    os.environ["TF_VAR_alerts_staging"] = "mysql"  # noqa: SIM112 (Terraform variable names are case-sensitive)
    try:
        terraform.apply(capture=True)
        yield
    finally:
        del os.environ["TF_VAR_alerts_staging"]  # noqa: SIM112
        terraform.apply(capture=True)


def test_job_with_mysql_staging_delivers_every_alert_exactly_once(alerts, ghost, mysql_staging, wait_for):
    # `ghost` only starts its poison pointer's clock here: its three minutes to the DLQ run while this
    # test applies Terraform twice, instead of after it.
    job_id = f"e2e-mysql-{uuid.uuid4().hex[:8]}"
    _deliver_job(alerts, job_id, wait_for)
    item = alerts["store"].get(t.job_namespace(job_id), "ALR-01-000000")
    assert item.attributes["location"].startswith("mysql://")


# The alert behind the poison pointer: its payload is staged only after the pointer was dead-lettered.
GHOST = json.dumps({"alert_id": "ghost", "status": 20, "note": "staged late"}, separators=(",", ":")).encode()


@pytest.fixture(scope="module")
def ghost(alerts, local_stack) -> dict:
    """A job with one more alert whose pointer names a payload never staged (sha256 and size of
    GHOST): every receive fails, so it is dead-lettered; staging GHOST there fixes the cause."""
    job_id = f"e2e-poison-{uuid.uuid4().hex[:8]}"
    status, summary = _trigger(alerts, job_id, statuses=[20])
    assert status == 200, summary
    key = f"staged/{job_id}/{t.alert_key('ghost')}.json"
    location = f"s3://{alerts['staging_bucket']}/{key}"
    alerts["store"].create(TrackedItem(t.job_namespace(job_id), "ghost", t.QUEUED, {"location": location}))
    pointer = AlertPointer(job_id, "ghost", 20, location, hashlib.sha256(GHOST).hexdigest(), len(GHOST))
    # Module-scoped: set up before the per-test environment is, so the stack's endpoint is passed here.
    sqs = boto3.client(
        "sqs",
        endpoint_url=local_stack["AWS_ENDPOINT_URL"],
        region_name=local_stack.get("AWS_REGION") or local_stack.get("AWS_DEFAULT_REGION"),
        aws_access_key_id=local_stack["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=local_stack["AWS_SECRET_ACCESS_KEY"],
    )
    sqs.send_message(QueueUrl=alerts["queue_url"], MessageBody=pointer.to_body())
    return {"job_id": job_id, "summary": summary, "key": key}


def test_pointer_to_a_missing_object_is_dead_lettered_and_reported(alerts, ghost, wait_for):
    job_id, summary = ghost["job_id"], ghost["summary"]

    def reported() -> list[dict]:
        return [d for d in _finalize(alerts)["dead_lettered"] if d["job_id"] == job_id]

    dead = wait_for(
        reported, WORKER_VISIBILITY * (MAX_RECEIVE_COUNT + 1) + 60, "the poison pointer in the DLQ"
    )
    assert [d["alert_id"] for d in dead] == ["ghost"]
    report = _finalize(alerts)
    assert job_id not in report["finalized"]  # one alert can never complete: the job stays open
    assert report["waiting"][job_id]["total"] == summary["alert_count"]


def test_lp_redrives_the_dead_lettered_pointer_once_its_payload_is_staged(alerts, ghost, wait_for, lp):
    job_id = ghost["job_id"]

    def dead_letter() -> list[dict]:
        code, shown = lp("dlq", "show", "alerts_to_sftp", "--limit", "100")
        assert code == 0, shown
        return [message for message in shown if job_id in message["body"]]

    [dead] = wait_for(
        dead_letter, WORKER_VISIBILITY * (MAX_RECEIVE_COUNT + 1) + 60, "the pointer in the DLQ", 5
    )
    assert dead["receive_count"] >= 1
    # The cause, fixed: the payload staged where the pointer says, as the coordinator stages it.
    boto3.client("s3").put_object(
        Bucket=alerts["staging_bucket"], Key=ghost["key"], Body=GHOST, ContentType="application/json",
        Metadata={"sha256": hashlib.sha256(GHOST).hexdigest()},
    )  # fmt: skip
    code, dry = lp("dlq", "redrive", "alerts_to_sftp", "--message-id", dead["message_id"])
    assert code == 0, dry
    assert dry["dry_run"] is True
    assert [m["action"] for m in dry["messages"]] == ["would redrive"]
    assert dead_letter()  # a dry run moves nothing

    code, moved = lp("dlq", "redrive", "alerts_to_sftp", "--message-id", dead["message_id"], "--yes")
    assert code == 0, moved
    assert [(m["message_id"], m["action"]) for m in moved["messages"]] == [(dead["message_id"], "redriven")]
    namespace = t.job_namespace(job_id)
    wait_for(
        lambda: alerts["store"].get(namespace, "ghost").status == t.COMPLETED, 120, "the alert completed"
    )
    files = _files(alerts, job_id)
    ghost_file = safe_remote_name("ghost")
    assert files[ghost_file].read_bytes() == GHOST  # uploaded, byte for byte
    assert not [name for name in files if name.endswith(".part") or name.startswith(".")]
    assert dead_letter() == []  # gone from the DLQ, not copied
    item = alerts["store"].get(namespace, "ghost")
    assert item.attributes["remote_path"].endswith(f"/{job_id}/{ghost_file}")
    assert item.version == 2  # created, then completed once: processed once


def test_lp_triggers_and_lists_jobs_through_the_alb(alerts, ghost, lp):
    job_id = ghost["job_id"]
    code, job = lp("alerts", "job", job_id)
    assert code == 0, job
    assert (job["job_id"], job["state"]) == (job_id, t.JOB_OPEN)
    code, listed = lp("alerts", "jobs", "--state", "open", "--limit", "100")
    assert code == 0, listed
    assert job_id in [row["job_id"] for row in listed]
    assert {row["state"] for row in listed} == {t.JOB_OPEN}
    code, again = lp("alerts", "trigger", "--job-id", job_id, "--status", "20")  # re-triggering is harmless
    assert code == 0, again
    assert (again["job_id"], again["totals"]["queued"]) == (job_id, 0)
    code, error = lp("alerts", "job", "no-such-job")
    assert code == 1
    assert "HTTP 404" in error
