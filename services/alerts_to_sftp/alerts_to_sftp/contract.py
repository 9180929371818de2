"""The SQS pointer message from alert-coordinator to sftp-worker (version 1).

Body, JSON::

    {"version": 1, "job_id": "job-2026-11-23", "alert_id": "ALR-01-000001", "status": 1,
     "location": "s3://bucket/staged/job-2026-11-23/<sha256(alert_id)>.json" | "mysql://alert_payloads/<job>/<key>",
     "sha256": "<hex of the staged bytes>", "size": 204800}

Message attribute ``correlation_id`` (String) carries the job's correlation id into every log line.
The payload itself never travels in the message: alerts reach ~200 KB, SQS allows 256 KB in total.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

from pipelines_shared.retry import PermanentError

VERSION = 1
# \Z, not $: ``$`` also matches before a trailing newline, which the schemas' patterns refuse.
JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
SHA256 = re.compile(r"^[0-9a-f]{64}\Z")
LOCATION = re.compile(
    r"^(?:s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+"
    r"|mysql://alert_payloads/[A-Za-z0-9][A-Za-z0-9_.-]{0,63}/[0-9a-f]{64})\Z"
)
"""Where a payload is staged: an S3 bucket and key, or a row of ``alert_payloads`` (the schema's pattern)."""
MAX_ALERT_ID_LENGTH = 512
"""Longest alert id tracked: the coordinator refuses a longer one from the API, the worker a pointer."""
STATUSES = range(1, 21)
"""The alerts API's statuses."""


class InvalidPointer(PermanentError):
    """The message does not follow the contract: no retry can help, it belongs in the DLQ."""


@dataclass(frozen=True)
class AlertPointer:
    job_id: str
    alert_id: str
    status: int
    location: str
    sha256: str
    size: int

    def to_body(self) -> str:
        return json.dumps({"version": VERSION, **asdict(self)}, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_body(cls, body: str) -> AlertPointer:
        try:
            data = json.loads(body)
        except json.JSONDecodeError as error:
            raise InvalidPointer(f"body is not JSON: {error}") from error
        # type() rather than ==: JSON true is Python True, and True == 1.
        if not isinstance(data, dict) or type(data.get("version")) is not int or data["version"] != VERSION:
            raise InvalidPointer(f"expected a version {VERSION} pointer object")
        missing = [name for name in _FIELDS if name not in data]
        if missing:
            raise InvalidPointer(f"missing field(s) {', '.join(missing)}")
        job_id, alert_id, status = data["job_id"], data["alert_id"], data["status"]
        location, sha256, size = data["location"], data["sha256"], data["size"]
        if not isinstance(job_id, str) or not JOB_ID.match(job_id):
            raise InvalidPointer("job_id is not a valid job id")
        if not isinstance(alert_id, str) or not 0 < len(alert_id) <= MAX_ALERT_ID_LENGTH:
            raise InvalidPointer(f"alert_id must be a string of 1-{MAX_ALERT_ID_LENGTH} characters")
        if type(status) is not int or status not in STATUSES:
            raise InvalidPointer(f"status must be an integer from {STATUSES[0]} to {STATUSES[-1]}")
        if not isinstance(location, str) or not LOCATION.match(location):
            raise InvalidPointer(
                "location must be s3://<bucket>/<key> or mysql://alert_payloads/<job_id>/<key>"
            )
        if not isinstance(sha256, str) or not SHA256.match(sha256):
            raise InvalidPointer("sha256 must be 64 lower-case hex characters")
        if type(size) is not int or size < 0:
            raise InvalidPointer("size must be a non-negative integer")
        return cls(
            job_id=job_id, alert_id=alert_id, status=status, location=location, sha256=sha256, size=size
        )


_FIELDS = ("job_id", "alert_id", "status", "location", "sha256", "size")
