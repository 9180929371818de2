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
JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")


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
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise InvalidPointer(f"expected a version {VERSION} pointer object")
        try:
            pointer = cls(
                job_id=data["job_id"],
                alert_id=data["alert_id"],
                status=data["status"],
                location=data["location"],
                sha256=data["sha256"],
                size=data["size"],
            )
        except KeyError as error:
            raise InvalidPointer(f"missing field {error}") from error
        if not isinstance(pointer.job_id, str) or not JOB_ID.match(pointer.job_id):
            raise InvalidPointer("job_id is not a valid job id")
        if not isinstance(pointer.alert_id, str) or not pointer.alert_id:
            raise InvalidPointer("alert_id must be a non-empty string")
        if not isinstance(pointer.sha256, str) or not SHA256.match(pointer.sha256):
            raise InvalidPointer("sha256 must be 64 lower-case hex characters")
        if not isinstance(pointer.location, str) or not pointer.location.startswith(("s3://", "mysql://")):
            raise InvalidPointer("location must be an s3:// or mysql:// URL")
        return pointer
