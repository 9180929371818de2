"""The ALB API of alert-coordinator: authentication, request parsing and routing, the ALB response.

The ALB forwards two routes here (``terraform/modules/alerts_to_sftp/alb.tf``)::

    POST /jobs            {"job_id"?: str, "statuses"?: [1..20]}  -> run (or resume) the job: 200 | 502 | 409
    GET  /jobs/<job_id>                                            -> the job's state: 200 | 404
    GET  /jobs?state=<staging|open|finalized>&limit=<1..100>       -> recent jobs, newest first: 200

Every request carries the shared secret header (401 without it); a malformed request is a 400 and
does no work. :func:`answer` is the whole request cycle; the handler only builds its collaborators.
"""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import uuid4

from alerts_to_sftp.contract import JOB_ID
from pipelines_shared.clock import Clock, utc_now
from pipelines_shared.log import bind_correlation_id, get_logger

logger = get_logger(__name__)

SECRET_HEADER = "x-alerts-trigger-secret"  # noqa: S105  # nosec B105  # a header name, not a secret
ALL_STATUSES = tuple(range(1, 21))
_REQUEST_FIELDS = frozenset({"job_id", "statuses"})


class BadRequest(ValueError):
    """The trigger request is malformed: answered 400, no work done."""


class RouteNotFound(BadRequest):
    """Neither ``POST /jobs`` nor ``GET /jobs/<job_id>``: answered 404."""


class JobBusy(RuntimeError):
    """Another run of the same job holds its lock: answered 409."""


def authenticated(event: Mapping[str, Any], expected_secret: str) -> bool:
    """True when the request carries the shared secret header (compared in constant time)."""
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    multi = {k.lower(): v for k, v in (event.get("multiValueHeaders") or {}).items()}
    given = headers.get(SECRET_HEADER) or next(iter(multi.get(SECRET_HEADER) or []), None)
    if not given or not expected_secret:
        return False
    return hmac.compare_digest(given.encode(), expected_secret.encode())


@dataclass(frozen=True)
class JobRequest:
    job_id: str
    statuses: tuple[int, ...] = field(default=ALL_STATUSES)

    @classmethod
    def from_event(cls, event: Mapping[str, Any], *, clock: Clock = utc_now) -> JobRequest:
        raw = event.get("body") or ""
        if event.get("isBase64Encoded"):
            raw = base64.b64decode(raw).decode("utf-8")
        try:
            data = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as error:
            raise BadRequest(f"body is not JSON: {error.msg}") from error
        if not isinstance(data, dict):
            raise BadRequest("body must be a JSON object")
        # A caller's misspelling must not pass silently: {"status": [3]} would fetch all 20 statuses.
        unknown = sorted(set(data) - _REQUEST_FIELDS)
        if unknown:
            raise BadRequest(f"unknown field(s) {', '.join(map(repr, unknown))}: only job_id and statuses")
        job_id = data["job_id"] if "job_id" in data else new_job_id(clock)
        if not isinstance(job_id, str) or not JOB_ID.match(job_id):
            raise BadRequest(
                "job_id: 1-64 characters of letters, digits, '.', '_' and '-', starting alphanumeric"
            )
        statuses = data.get("statuses", list(ALL_STATUSES))
        if (
            not isinstance(statuses, list)
            or not statuses
            or not all(isinstance(s, int) and not isinstance(s, bool) and s in ALL_STATUSES for s in statuses)
            or len(set(statuses)) != len(statuses)
        ):
            raise BadRequest("statuses: a non-empty list of distinct integers from 1 to 20")
        return cls(job_id=job_id, statuses=tuple(sorted(statuses)))


def new_job_id(clock: Clock = utc_now) -> str:
    return f"job-{clock():%Y%m%dT%H%M%SZ}-{uuid4().hex[:8]}"


@dataclass(frozen=True)
class StatusRequest:
    """``GET /jobs/<job_id>``: the job's state, read from the tracker (the API is not called)."""

    job_id: str


JOB_STATES = ("staging", "open", "finalized")
LIST_LIMIT = 100


@dataclass(frozen=True)
class ListRequest:
    """``GET /jobs``: the most recently created jobs (of one state, or of every state)."""

    state: str | None = None
    limit: int = 50

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> ListRequest:
        query = dict(event.get("queryStringParameters") or {})
        unknown = sorted(set(query) - {"state", "limit"})
        if unknown:
            raise BadRequest(f"unknown parameter(s) {', '.join(map(repr, unknown))}: only state and limit")
        state = query.get("state") or None
        if state is not None and state not in JOB_STATES:
            raise BadRequest(f"state: one of {', '.join(JOB_STATES)}")
        raw_limit = query.get("limit", "50")
        if not str(raw_limit).isdigit() or not 1 <= int(raw_limit) <= LIST_LIMIT:
            raise BadRequest(f"limit: a whole number from 1 to {LIST_LIMIT}")
        return cls(state, int(raw_limit))


def parse_request(
    event: Mapping[str, Any], *, clock: Clock = utc_now
) -> JobRequest | StatusRequest | ListRequest:
    """Route the ALB event and validate it: raises :class:`RouteNotFound` or :class:`BadRequest`."""
    method = event.get("httpMethod")
    path = str(event.get("path") or "").rstrip("/")
    if method == "POST" and path == "/jobs":
        return JobRequest.from_event(event, clock=clock)
    if method == "GET" and path == "/jobs":
        return ListRequest.from_event(event)
    if method == "GET" and path.startswith("/jobs/"):
        job_id = path.removeprefix("/jobs/")
        if not JOB_ID.match(job_id):
            raise BadRequest("GET /jobs/<job_id>: not a valid job id")
        return StatusRequest(job_id)
    raise RouteNotFound(f"no route for {method} {path or '/'}")


class Summary(Protocol):
    errors: dict[int, str]

    def as_dict(self) -> dict[str, Any]: ...


class Jobs(Protocol):
    """What :func:`answer` needs of the coordinator."""

    def run(self, request: JobRequest, correlation_id: str) -> Summary: ...

    def status(self, job_id: str) -> dict[str, Any] | None: ...

    def recent(self, state: str | None, limit: int) -> list[dict[str, Any]]: ...


def answer(event: Mapping[str, Any], jobs: Jobs, trigger_secret: str) -> dict[str, Any]:
    """One ALB request, start to end: the response to send back."""
    if not authenticated(event, trigger_secret):
        logger.warning("unauthenticated trigger refused", path=event.get("path"))
        return alb_response(401, {"error": "unauthorized"})
    try:
        request = parse_request(event)
    except RouteNotFound as error:
        return alb_response(404, {"error": str(error)})
    except BadRequest as error:
        return alb_response(400, {"error": str(error)})
    if isinstance(request, ListRequest):
        return alb_response(200, {"jobs": jobs.recent(request.state, request.limit)})
    if isinstance(request, StatusRequest):
        found = jobs.status(request.job_id)
        return alb_response(200, found) if found else alb_response(404, {"error": f"no job {request.job_id}"})
    correlation_id = bind_correlation_id(request.job_id)
    try:
        summary = jobs.run(request, correlation_id)
    except JobBusy as error:
        return alb_response(409, {"error": str(error), "job_id": request.job_id})
    return alb_response(502 if summary.errors else 200, summary.as_dict())


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
}


def alb_response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    """A Lambda response in the shape the ALB expects."""
    reason = _REASONS.get(status, "Bad Gateway" if status == 502 else "Error")
    return {
        "statusCode": status,
        "statusDescription": f"{status} {reason}",
        "isBase64Encoded": False,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body, separators=(",", ":")),
    }
