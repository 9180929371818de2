"""Trigger an alerts-to-SFTP job through its ALB and read its state: stdlib only, so the DAG, the
e2e tests and an operator's shell all call the pipeline the same way."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

SECRET_HEADER = "X-Alerts-Trigger-Secret"  # noqa: S105 (a header name)


class TriggerError(RuntimeError):
    """The trigger endpoint answered with an error."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


def _call(method: str, url: str, secret: str, body: dict[str, Any] | None, timeout: float) -> dict[str, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 (the operator-configured trigger URL)
        url, data=data, method=method, headers={SECRET_HEADER: secret, "Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        raise TriggerError(error.code, json.loads(error.read() or b"{}")) from error


def trigger_job(
    trigger_url: str,
    secret: str,
    job_id: str | None,
    statuses: list[int] | None = None,
    *,
    timeout: float = 900,
) -> dict[str, Any]:
    """Start (or safely re-trigger) a job; returns its summary. Raises TriggerError (502: re-trigger).
    Without a job id the coordinator names a new job (its id is in the summary)."""
    body: dict[str, Any] = {} if job_id is None else {"job_id": job_id}
    if statuses is not None:
        body["statuses"] = statuses
    return _call("POST", trigger_url, secret, body, timeout)


def job_status(trigger_url: str, secret: str, job_id: str, *, timeout: float = 30) -> dict[str, Any]:
    """The job's state ("staging", "open", "finalized") and its alerts' counts by state."""
    return _call("GET", f"{trigger_url.rstrip('/')}/{job_id}", secret, None, timeout)


def list_jobs(
    trigger_url: str, secret: str, *, state: str | None = None, limit: int = 50, timeout: float = 30
) -> dict[str, Any]:
    """``{"jobs": [...]}``: the most recently created jobs, newest first (of one state if given)."""
    query = {"limit": str(limit), **({"state": state} if state else {})}
    return _call("GET", f"{trigger_url.rstrip('/')}?{urllib.parse.urlencode(query)}", secret, None, timeout)
