"""The trigger request (ALB -> Lambda), its authentication, and the ALB response format."""

from __future__ import annotations

import base64
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from alerts_to_sftp.contract import JOB_ID

SECRET_HEADER = "x-alerts-trigger-secret"  # noqa: S105  # nosec B105  # a header name, not a secret
ALL_STATUSES = tuple(range(1, 21))


class BadRequest(ValueError):
    """The trigger request is malformed: answered 400, no work done."""


def authenticated(event: dict[str, Any], expected_secret: str) -> bool:
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
    def from_event(cls, event: dict[str, Any]) -> JobRequest:
        raw = event.get("body") or ""
        if event.get("isBase64Encoded"):
            raw = base64.b64decode(raw).decode("utf-8")
        try:
            data = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as error:
            raise BadRequest(f"body is not JSON: {error.msg}") from error
        if not isinstance(data, dict):
            raise BadRequest("body must be a JSON object")
        job_id = data["job_id"] if "job_id" in data else new_job_id()
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


def new_job_id() -> str:
    return f"job-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid4().hex[:8]}"


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
