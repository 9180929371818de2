"""alert-coordinator's HTTP contract and its queue output against docs/alerts_to_sftp/schemas/: the
trigger body it accepts and refuses (as the schema does), the ALB response envelope around the
documented bodies, the ALB's own 404, the pointers it queues, and the alerts API pages it reads."""

from __future__ import annotations

import base64
import contextlib
import json
import re
from typing import Any

import pytest
from alert_coordinator.adapters import SqsPointerQueue, api_pages
from alert_coordinator.coordinator import Coordinator
from alert_coordinator.request import ALL_STATUSES, BadRequest, JobRequest, alb_response
from fake_alerts_api import FakeAlertsApi

from alerts_to_sftp import tracking as t
from alerts_to_sftp.contract import AlertPointer
from alerts_to_sftp.staging import MemoryPayloadStore
from contract_schemas import REPO, contract, variant
from pipelines_shared.http import JsonHttpClient
from pipelines_shared.tracking import TrackedItem
from pipelines_shared.tracking.memory import MemoryTrackingStore

REQUEST = contract("alerts_to_sftp", "job-request")
SUMMARY = contract("alerts_to_sftp", "job-summary")
STATUS = contract("alerts_to_sftp", "job-status")
ERROR = contract("alerts_to_sftp", "error-response")
POINTER = contract("alerts_to_sftp", "alert-pointer")
PAGE = contract("alerts_to_sftp", "alerts-api-page")
LIST = contract("alerts_to_sftp", "job-list")
ALB_TF = REPO / "terraform" / "modules" / "alerts_to_sftp" / "alb.tf"


def post(body: str, *, b64: bool = False) -> dict[str, Any]:
    """The event the ALB hands the function for POST /jobs."""
    return {
        "httpMethod": "POST",
        "path": "/jobs",
        "headers": {"content-type": "application/json"},
        "body": base64.b64encode(body.encode()).decode() if b64 else body,
        "isBase64Encoded": b64,
    }


@pytest.mark.parametrize("b64", [False, True])
@pytest.mark.parametrize("example", REQUEST.examples)
def test_the_coordinator_takes_every_example_request(example: dict[str, Any], b64: bool):
    request = JobRequest.from_event(post(json.dumps(example), b64=b64))
    assert request.statuses == tuple(example.get("statuses", ALL_STATUSES))
    if "job_id" in example:
        assert request.job_id == example["job_id"]
    else:  # the id the coordinator makes itself is one a caller could have sent
        assert REQUEST.is_valid({"job_id": request.job_id})


def test_an_empty_body_is_the_empty_request():
    assert REQUEST.is_valid({})
    assert JobRequest.from_event(post("")).statuses == ALL_STATUSES


EXAMPLE = {"job_id": "airflow-20260201", "statuses": [1, 7, 20]}
INVALID = {
    "empty job_id": variant(EXAMPLE, {"job_id": ""}),
    "job_id with a slash": variant(EXAMPLE, {"job_id": "a/b"}),
    "job_id starting with a dot": variant(EXAMPLE, {"job_id": ".hidden"}),
    "job_id of 65 characters": variant(EXAMPLE, {"job_id": "j" * 65}),
    "job_id ending in a newline": variant(EXAMPLE, {"job_id": "airflow-20260201\n"}),
    "null job_id": variant(EXAMPLE, {"job_id": None}),
    "numeric job_id": variant(EXAMPLE, {"job_id": 20260201}),
    "no statuses listed": variant(EXAMPLE, {"statuses": []}),
    "status 0": variant(EXAMPLE, {"statuses": [0]}),
    "status 21": variant(EXAMPLE, {"statuses": [21]}),
    "a status twice": variant(EXAMPLE, {"statuses": [3, 3]}),
    "a status as text": variant(EXAMPLE, {"statuses": ["3"]}),
    "a status true": variant(EXAMPLE, {"statuses": [True]}),
    "statuses as a number": variant(EXAMPLE, {"statuses": 3}),
    "misspelt field status": {"job_id": "airflow-20260201", "status": [3]},
    "an array": [EXAMPLE],
    "a string": "airflow-20260201",
}


@pytest.mark.parametrize(("case", "document"), INVALID.items(), ids=list(INVALID))
def test_the_schema_and_the_coordinator_refuse_the_same_requests(case: str, document: Any):
    assert not REQUEST.is_valid(document), f"the schema accepts {case}"
    with pytest.raises(BadRequest):
        JobRequest.from_event(post(json.dumps(document)))


def test_a_body_that_is_not_json_is_refused():
    with pytest.raises(BadRequest):
        JobRequest.from_event(post("{job_id: airflow}"))


@pytest.mark.parametrize(
    ("status", "schema", "example"),
    [(200, SUMMARY, e) for e in SUMMARY.examples]
    + [(502, SUMMARY, SUMMARY.examples[1])]
    + [(200, STATUS, e) for e in STATUS.examples]
    + [(code, ERROR, e) for code, e in zip((401, 400, 404, 409, 404), ERROR.examples, strict=True)],
)
def test_alb_responses_wrap_the_documented_bodies(status: int, schema: Any, example: dict[str, Any]):
    response = alb_response(status, example)
    assert response["statusCode"] == status
    assert re.fullmatch(rf"{status} [A-Z][A-Za-z ]+", response["statusDescription"])
    assert response["isBase64Encoded"] is False
    assert response["headers"] == {"Content-Type": "application/json"}
    assert json.loads(response["body"]) == example
    schema.assert_valid(json.loads(response["body"]))


def test_the_albs_own_not_found_is_a_documented_error():
    listener = ALB_TF.read_text().split('resource "aws_lb_listener" "trigger"')[1].split("\nresource ")[0]
    body = re.search(r'message_body\s*=\s*"((?:[^"\\]|\\.)*)"', listener)
    assert body is not None
    assert re.search(r'content_type\s*=\s*"application/json"', listener)
    ERROR.assert_valid(json.loads(json.loads(f'"{body.group(1)}"')))


class RecordingSqs:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.entries += Entries
        return {"Successful": [{"Id": entry["Id"]} for entry in Entries], "Failed": []}


def test_queued_pointers_are_documented_bodies_with_the_correlation_id():
    sqs = RecordingSqs()
    pointers = [
        AlertPointer(
            "airflow-20260201", f"ALR-01-{i:06d}", 1, f"s3://staging-bucket/staged/a/{i}.json", "0" * 64, i
        )
        for i in range(12)
    ]
    SqsPointerQueue(sqs, "https://sqs.eu-west-1.amazonaws.com/123456789012/q").send(
        pointers, "airflow-20260201"
    )
    assert len(sqs.entries) == 12
    for entry in sqs.entries:
        POINTER.assert_produced(json.loads(entry["MessageBody"]))
        assert entry["MessageAttributes"] == {
            "correlation_id": {"DataType": "String", "StringValue": "airflow-20260201"}
        }


class Queue:
    def __init__(self) -> None:
        self.pointers: list[AlertPointer] = []

    def send(self, pointers: list[AlertPointer], correlation_id: str) -> None:
        self.pointers += pointers


class Lock:
    @contextlib.contextmanager
    def hold(self, job_id: str):
        yield True


def test_the_fake_apis_pages_are_documented_and_the_coordinator_reads_them_all():
    with FakeAlertsApi(alerts_per_status=7, seed=5, large_every=0, hostile_ids=True) as api:
        client = JsonHttpClient(api.url, token_provider=lambda: api.token)
        read = api_pages(client, page_size=3)
        for status in (1, 2):
            query: dict[str, Any] = {"status": status, "page_size": 3}
            while True:
                page = client.get_json("/alerts", query)
                PAGE.assert_valid(page)
                if not page.get("next_page_token"):
                    break
                query["page_token"] = page["next_page_token"]
        queue = Queue()
        coordinator = Coordinator(
            store=MemoryTrackingStore(), payloads=MemoryPayloadStore(), queue=queue, pages=read, lock=Lock()
        )
        summary = coordinator.run(JobRequest("fake-api", statuses=(1, 2)), "c").as_dict()
        expected = {
            alert_id for alert_id, alert in api.expected_alerts().items() if alert["status"] in (1, 2)
        }
    SUMMARY.assert_produced(summary)
    assert summary["alert_count"] == len(expected) == 14
    assert {pointer.alert_id for pointer in queue.pointers} == expected


@pytest.mark.parametrize("example", PAGE.examples)
def test_the_coordinator_stages_every_alert_of_the_example_pages(example: dict[str, Any]):
    queue, payloads = Queue(), MemoryPayloadStore()

    def pages(status: int):
        yield example["alerts"]

    coordinator = Coordinator(
        store=MemoryTrackingStore(), payloads=payloads, queue=queue, pages=pages, lock=Lock()
    )
    coordinator.run(JobRequest("page-example", statuses=(7,)), "c")
    staged = {pointer.alert_id: json.loads(payloads.fetch(pointer.location)) for pointer in queue.pointers}
    assert staged == {alert["alert_id"]: alert for alert in example["alerts"]}


def test_an_alert_the_page_schema_refuses_is_refused_by_the_coordinator():
    for alert in ({"status": 7}, {"alert_id": ""}, {"alert_id": "A" * 513}, {"alert_id": 7}):
        assert not PAGE.is_valid({"alerts": [alert], "next_page_token": None})

        def pages(status: int, alert: dict[str, Any] = alert):
            yield [alert]

        coordinator = Coordinator(
            store=MemoryTrackingStore(),
            payloads=MemoryPayloadStore(),
            queue=Queue(),
            pages=pages,
            lock=Lock(),
        )
        summary = coordinator.run(JobRequest("bad-page", statuses=(7,)), "c").as_dict()
        assert summary["state"] == "staging"
        assert "InvalidAlert" in summary["errors"]["7"]


def test_docs_name_the_alb_routes_the_coordinator_serves():
    routes = ALB_TF.read_text()
    assert re.search(r'values\s*=\s*\["/jobs"\]', routes)
    assert re.search(r'values\s*=\s*\["/jobs", "/jobs/\*"\]', routes)
    page = (REPO / "docs" / "alerts_to_sftp.md").read_text()
    assert "POST /jobs" in page
    assert "GET /jobs/<job_id>" in page
    assert "GET /jobs?state=" in page


def test_the_job_list_is_a_documented_body():
    store = MemoryTrackingStore()
    coordinator = Coordinator(
        store=store, payloads=MemoryPayloadStore(), queue=Queue(), pages=lambda status: iter([]),
        lock=Lock(), concurrency=1,
    )  # fmt: skip
    store.create(TrackedItem(t.JOBS, "airflow-20260201", t.JOB_OPEN, {"alert_count": 3}))
    store.create(TrackedItem(t.JOBS, "airflow-20260202", t.JOB_STAGING, {}))
    body = json.loads(alb_response(200, {"jobs": coordinator.recent(None, 50)})["body"])
    LIST.assert_produced(body)
    assert len(body["jobs"]) == 2
    for example in LIST.examples:
        LIST.assert_valid(example)
