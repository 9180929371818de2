"""Authentication and request parsing of the ALB trigger."""

from __future__ import annotations

import base64
import json

import pytest
from alert_coordinator.request import ALL_STATUSES, BadRequest, JobRequest, alb_response, authenticated

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
