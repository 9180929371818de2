"""Move every file of a manifest ``manifested -> completed | failed`` and record the outcome for the
circuit breaker. Idempotent: Step Functions may run it again for the same manifest.

Per file (conditional updates, a thread pool; BatchWriteItem cannot take conditions):

* ``manifested`` (or ``failed`` when the outcome is ``completed``: a redriven execution that
  succeeded repairs its files) -> the outcome's status: ``updated``;
* already in the outcome's status: ``already``;
* not in the table: ``missing``;
* in another status (``completed`` while the outcome is ``failed``: a later failure never undoes
  output that was written) : ``skipped``, logged.

Transient errors raise, so the state machine's Retry runs the task again; a malformed event or
manifest raises a ``PermanentError`` subclass, which no retry can fix.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from botocore.exceptions import ClientError

from ndjson_to_parquet import contract as c
from ndjson_to_parquet import tracking as t
from pipelines_shared.log import get_logger
from pipelines_shared.tracking import TrackingStore

logger = get_logger(__name__)

UPDATED = "updated"
ALREADY = "already"
MISSING = "missing"
SKIPPED = "skipped"


class ManifestNotFound(c.ContractError):
    """The event names a manifest object that does not exist."""


class OutcomeRecorder(Protocol):
    def record(self, manifest_id: str, outcome: str) -> bool: ...


class StatusUpdater:
    def __init__(self, *, s3: Any, files: TrackingStore, breaker: OutcomeRecorder, workers: int = 16) -> None:
        self._s3 = s3
        self._files = files
        self._breaker = breaker
        self._workers = max(1, workers)

    def update(self, event: Any) -> dict[str, Any]:
        request = c.StatusUpdate.from_event(event)
        manifest = self._read_manifest(request)
        target = t.COMPLETED if request.outcome == c.OUTCOME_COMPLETED else t.FAILED
        sources = [t.MANIFESTED, t.FAILED] if target == t.COMPLETED else [t.MANIFESTED]
        attributes = {t.GLUE_JOB_RUN_ID: request.glue_job_run_id, t.ERROR: request.error}

        def move(file: c.ManifestFile) -> str:
            if self._files.transition(
                request.date_prefix,
                file.file_key,
                from_statuses=sources,
                to_status=target,
                attributes=attributes,
            ):
                return UPDATED
            current = self._files.get(request.date_prefix, file.file_key)
            if current is None:
                logger.warning("file of the manifest is not tracked", file_key=file.file_key)
                return MISSING
            if current.status == target:
                return ALREADY
            logger.warning(
                "file left in its status",
                file_key=file.file_key,
                status=current.status,
                outcome=request.outcome,
            )
            return SKIPPED

        with ThreadPoolExecutor(max_workers=min(self._workers, manifest.file_count)) as pool:
            outcomes = list(pool.map(move, manifest.files))
        self._breaker.record(request.manifest_id, request.outcome)
        result = c.StatusUpdateResult(
            manifest_id=request.manifest_id,
            outcome=request.outcome,
            updated=outcomes.count(UPDATED),
            already=outcomes.count(ALREADY),
            missing=outcomes.count(MISSING),
            skipped=outcomes.count(SKIPPED),
        ).to_dict()
        logger.info("manifest files updated", **result)
        return result

    def _read_manifest(self, request: c.StatusUpdate) -> c.Manifest:
        bucket, key = c.parse_s3_uri(request.manifest_path)
        try:
            body = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                raise ManifestNotFound(f"no manifest at {request.manifest_path}") from None
            raise
        manifest = c.Manifest.from_json(body)
        if (manifest.manifest_id, manifest.date_prefix) != (request.manifest_id, request.date_prefix):
            raise c.InvalidStatusUpdate(
                f"{request.manifest_path} holds manifest {manifest.manifest_id} of {manifest.date_prefix}, "
                f"not {request.manifest_id} of {request.date_prefix}"
            )
        return manifest
