"""The ALB API: authentication, routing, request parsing and the response for every outcome."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from alert_coordinator.request import (
    ALL_STATUSES,
    BadRequest,
    JobBusy,
    JobRequest,
    ListRequest,
    RouteNotFound,
    StatusRequest,
    alb_response,
    answer,
    authenticated,
    parse_request,
)

SECRET = "s3cr3t-value"


def event(body: object = None, headers: dict | None = None, b64: bool = False) -> dict:
    raw = "" if body is None else (body if isinstance(body, str) else json.dumps(body))
    if b64:
        raw = base64.b64encode(raw.encode()).decode()
    return {
        "httpMethod": "POST",
        "path": "/jobs",
        "headers": headers or {},
        "body": raw,
        "isBase64Encoded": b64,
    }


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        ({"x-alerts-trigger-secret": SECRET}, True),
        ({"X-Alerts-Trigger-Secret": SECRET}, True),
        ({"x-alerts-trigger-secret": SECRET + "x"}, False),
        ({"x-alerts-trigger-secret": ""}, False),
        ({}, False),
        ({"authorization": SECRET}, False),
    ],
)
def test_authentication(headers, ok):
    assert authenticated(event(headers=headers), SECRET) is ok


def test_an_empty_expected_secret_never_authenticates():
    assert not authenticated(event(headers={"x-alerts-trigger-secret": ""}), "")


def test_multi_value_headers_are_read():
    assert authenticated({"multiValueHeaders": {"x-alerts-trigger-secret": [SECRET]}}, SECRET)


def test_defaults_all_statuses_and_generates_a_job_id():
    request = JobRequest.from_event(event())
    assert request.statuses == ALL_STATUSES
    assert request.job_id.startswith("job-")


def test_body_may_be_base64():
    request = JobRequest.from_event(event({"job_id": "j-1", "statuses": [3, 1]}, b64=True))
    assert (request.job_id, request.statuses) == ("j-1", (1, 3))


@pytest.mark.parametrize(
    "body",
    ["{", "[]", {"job_id": "../x"}, {"job_id": ""}, {"statuses": []}, {"statuses": [0]}, {"statuses": [21]},
     {"statuses": [1, 1]}, {"statuses": ["1"]}, {"statuses": [True]}, {"job_id": "x" * 65}],
)  # fmt: skip
def test_bad_requests(body):
    with pytest.raises(BadRequest):
        JobRequest.from_event(event(body))


def test_alb_response_shape():
    response = alb_response(401, {"error": "unauthorized"})
    assert response["statusCode"] == 401
    assert response["statusDescription"] == "401 Unauthorized"
    assert response["isBase64Encoded"] is False
    assert json.loads(response["body"]) == {"error": "unauthorized"}


def status_event(path: str, method: str = "GET") -> dict:
    return {"httpMethod": method, "path": path, "headers": {"x-alerts-trigger-secret": SECRET}, "body": ""}


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/jobs", JobRequest),
        ("POST", "/jobs/", JobRequest),
        ("GET", "/jobs/job-1", StatusRequest),
        ("GET", "/jobs/job-1/", StatusRequest),
        ("GET", "/jobs", ListRequest),
        ("GET", "/jobs/", ListRequest),
    ],
)
def test_routes(method, path, expected):
    assert isinstance(parse_request({**status_event(path, method), "body": ""}), expected)


@pytest.mark.parametrize(
    ("method", "path"),
    [("DELETE", "/jobs"), ("DELETE", "/jobs/job-1"), ("POST", "/jobs/job-1"), ("GET", "/")],
)
def test_anything_else_is_not_routed(method, path):
    with pytest.raises(RouteNotFound):
        parse_request(status_event(path, method))


def test_a_status_request_needs_a_valid_job_id():
    with pytest.raises(BadRequest):
        parse_request(status_event("/jobs/../etc"))


def list_event(query: dict | None) -> dict:
    return {**status_event("/jobs"), "queryStringParameters": query}


@pytest.mark.parametrize(
    ("query", "state", "limit"),
    [
        (None, None, 50),
        ({}, None, 50),
        ({"state": "open"}, "open", 50),
        ({"limit": "100", "state": ""}, None, 100),
    ],
)
def test_a_list_request_reads_state_and_limit(query, state, limit):
    assert parse_request(list_event(query)) == ListRequest(state, limit)


@pytest.mark.parametrize(
    "query",
    [
        {"state": "closed"},
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "-1"},
        {"limit": "ten"},
        {"status": "open"},
    ],
)
def test_a_bad_list_request_is_refused(query):
    with pytest.raises(BadRequest):
        parse_request(list_event(query))


def test_generated_job_ids_use_the_injected_clock():
    request = JobRequest.from_event(event(), clock=lambda: datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert request.job_id.startswith("job-20300102T030405Z-")


class Jobs:
    def __init__(self, busy: bool = False, errors: dict | None = None) -> None:
        self.busy, self.errors, self.runs = busy, errors or {}, []

    def run(self, request, correlation_id):
        if self.busy:
            raise JobBusy("held")
        self.runs.append((request.job_id, correlation_id))
        return SimpleNamespace(errors=self.errors, as_dict=lambda: {"job_id": request.job_id})

    def status(self, job_id):
        return {"job_id": job_id, "state": "open"} if job_id == "known" else None

    def recent(self, state, limit):
        return [{"job_id": "known", "state": state or "open", "limit": limit}]


@pytest.mark.parametrize(
    ("request_event", "jobs", "status"),
    [
        (event({"job_id": "j-1"}, headers={"x-alerts-trigger-secret": SECRET}), Jobs(), 200),
        (event({"job_id": "j-1"}, headers={"x-alerts-trigger-secret": SECRET}), Jobs(errors={3: "x"}), 502),
        (event({"job_id": "j-1"}, headers={"x-alerts-trigger-secret": SECRET}), Jobs(busy=True), 409),
        (event({"job_id": "j-1"}), Jobs(), 401),
        (event("{", headers={"x-alerts-trigger-secret": SECRET}), Jobs(), 400),
        (status_event("/jobs/known"), Jobs(), 200),
        (status_event("/jobs/unknown"), Jobs(), 404),
        (status_event("/elsewhere"), Jobs(), 404),
        (list_event({"state": "open"}), Jobs(), 200),
        (list_event({"limit": "1000"}), Jobs(), 400),
    ],
)
def test_answer_maps_every_outcome_to_its_status(request_event, jobs, status):
    assert answer(request_event, jobs, SECRET)["statusCode"] == status


def test_a_list_answers_the_recent_jobs():
    response = answer(list_event({"state": "finalized", "limit": "5"}), Jobs(), SECRET)
    assert json.loads(response["body"]) == {"jobs": [{"job_id": "known", "state": "finalized", "limit": 5}]}


def test_a_run_is_correlated_by_its_job_id():
    jobs = Jobs()
    answer(event({"job_id": "j-9"}, headers={"x-alerts-trigger-secret": SECRET}), jobs, SECRET)
    assert jobs.runs == [("j-9", "j-9")]
