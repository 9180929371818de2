"""How the pipeline uses the tracking store (table ``alert_tracking``, see migrations/).

Jobs live in namespace ``alert-jobs`` (key = job id); a job's alerts in namespace ``job:<job id>``
(key = alert id). Lifecycles:

    job:    staging --(coordinator staged and queued every alert)--> open --(finalizer)--> finalized
    alert:  staged --(pointer sent to SQS)--> queued --(sftp-worker uploaded it)--> completed
"""

from __future__ import annotations

import hashlib

TABLE = "alert_tracking"
JOBS = "alert-jobs"

JOB_STAGING = "staging"
JOB_OPEN = "open"
JOB_FINALIZED = "finalized"

STAGED = "staged"
QUEUED = "queued"
COMPLETED = "completed"


def job_namespace(job_id: str) -> str:
    return f"job:{job_id}"


def alert_key(alert_id: str) -> str:
    """A fixed-length, path-safe key for an alert id of any content (object keys, payload rows)."""
    return hashlib.sha256(alert_id.encode("utf-8")).hexdigest()
