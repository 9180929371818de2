"""Publishing a manifest: its JSON, then its MANIFEST record, then starting it (StartExecution named
after the manifest, or a ``ManifestReady`` event), unless the circuit breaker holds it ``pending``;
and starting again the records still ``pending`` (a failed start, a dead builder, an open breaker).

Starting twice is harmless: the execution name is the manifest id (ExecutionAlreadyExists = already
started), and with EventBridge the state machine's first step is a conditional ``pending ->
processing``, so a duplicate execution stops there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from botocore.exceptions import ClientError

from ndjson_to_parquet import tracking as t
from ndjson_to_parquet.claims import age
from ndjson_to_parquet.contract import (
    EVENT_SOURCE,
    MANIFEST_KEY_PREFIX,
    MANIFEST_READY,
    ExecutionInput,
    Manifest,
    manifest_object_key,
    manifest_record_key,
    output_path,
    parse_s3_uri,
    s3_uri,
)
from ndjson_to_parquet.policy import START_EVENTBRIDGE, START_STEPFUNCTIONS, ManifestPolicy, RunReport
from pipelines_shared.log import get_logger
from pipelines_shared.retry import TransientError
from pipelines_shared.tracking import TrackedItem, TrackingStore

logger = get_logger(__name__)


class Breaker(Protocol):
    def is_open(self) -> bool: ...


class Gate:
    """Reads the breaker at most once per pass, and only if something is to be started."""

    def __init__(self, breaker: Breaker | None) -> None:
        self._breaker = breaker
        self._open: bool | None = None

    @property
    def open(self) -> bool:
        if self._open is None:
            if self._breaker is None:
                self._open = False
            else:
                try:
                    self._open = self._breaker.is_open()
                except Exception as exc:
                    # Unknown means "do not start": the manifests wait in pending for the next pass.
                    logger.warning("circuit breaker unreadable; holding manifests", error=str(exc))
                    self._open = True
            if self._open:
                logger.warning("circuit breaker open: manifests stay pending")
        return self._open


class Publisher:
    """Writes manifests and their records, and starts them, on the manifest store, S3 and SFN/EventBridge."""

    def __init__(
        self,
        *,
        manifests: TrackingStore,
        s3: Any,
        policy: ManifestPolicy,
        sfn: Any = None,
        events: Any = None,
    ) -> None:
        if policy.start_mode == START_STEPFUNCTIONS and sfn is None:
            raise ValueError("start_mode stepfunctions needs an sfn client")
        if policy.start_mode == START_EVENTBRIDGE and events is None:
            raise ValueError("start_mode eventbridge needs an events client")
        self._manifests = manifests
        self._s3 = s3
        self._sfn = sfn
        self._events = events
        self.policy = policy

    def manifest_path(self, date_prefix: str, manifest_id: str) -> str:
        return s3_uri(self.policy.manifest_bucket, manifest_object_key(date_prefix, manifest_id))

    def recorded(self, date_prefix: str, manifest_ids: list[str]) -> set[str]:
        """The manifest ids among ``manifest_ids`` that have a MANIFEST record."""
        found = self._manifests.get_many(date_prefix, [manifest_record_key(m) for m in manifest_ids])
        return {m for m in manifest_ids if manifest_record_key(m) in found}

    def publish(self, manifest: Manifest, path: str, gate: Gate, report: RunReport) -> bool:
        """Write the JSON, then the MANIFEST record, then start; False if the record already existed."""
        bucket, key = parse_s3_uri(path)
        self._s3.put_object(
            Bucket=bucket, Key=key, Body=manifest.to_json().encode(), ContentType="application/json"
        )
        created = self._manifests.create(
            TrackedItem(
                manifest.date_prefix,
                manifest_record_key(manifest.manifest_id),
                t.MANIFEST_PENDING,
                {
                    t.MANIFEST_PATH: path,
                    t.FILE_COUNT: manifest.file_count,
                    t.TOTAL_BYTES: manifest.total_bytes,
                    t.REASON: manifest.reason,
                },
            )
        )
        if not created:
            logger.info("MANIFEST record exists; its owner starts it", manifest_id=manifest.manifest_id)
            return False
        report.created.append(manifest.manifest_id)
        logger.info(
            "manifest created",
            manifest_id=manifest.manifest_id,
            date_prefix=manifest.date_prefix,
            file_count=manifest.file_count,
            total_bytes=manifest.total_bytes,
            reason=manifest.reason,
        )
        execution_input = self.execution_input(
            manifest.manifest_id, manifest.date_prefix, path, manifest.file_count, manifest.total_bytes
        )
        self.start(execution_input, gate, report)
        return True

    def restart_pending(self, date_prefix: str, now: datetime, gate: Gate, report: RunReport) -> None:
        """(a): start MANIFEST records still ``pending`` after ``start_retry_after``, breaker permitting."""
        for record in self._manifests.list_by_status(date_prefix, t.MANIFEST_PENDING, limit=None):
            if not t.is_manifest_record(record.key):
                continue
            if age(now, record.updated_at) < self.policy.start_retry_after:
                continue
            manifest_id = record.key[len(MANIFEST_KEY_PREFIX) :]
            try:
                execution_input = self.execution_input(
                    manifest_id,
                    date_prefix,
                    str(record.attributes[t.MANIFEST_PATH]),
                    int(record.attributes[t.FILE_COUNT]),
                    int(record.attributes[t.TOTAL_BYTES]),
                )
            except (KeyError, TypeError, ValueError) as exc:
                logger.error("MANIFEST record cannot be started", manifest_id=manifest_id, error=str(exc))
                continue
            if self.start(execution_input, gate, report):
                report.restarted.append(manifest_id)

    def start(self, execution_input: ExecutionInput, gate: Gate, report: RunReport) -> bool:
        manifest_id = execution_input.manifest_id
        if gate.open:
            report.held.append(manifest_id)
            return False
        try:
            execution_arn = self._send(execution_input)
        except Exception as exc:
            # The record stays pending: the scheduled pass (a) tries again after start_retry_after.
            logger.error(
                "manifest not started; the scheduled pass retries",
                manifest_id=manifest_id,
                error_type=type(exc).__name__,
                error=str(exc),
            )
            report.start_failed.append(manifest_id)
            return False
        report.started.append(manifest_id)
        logger.info("manifest started", manifest_id=manifest_id, mode=self.policy.start_mode)
        if execution_arn:
            try:
                self._manifests.transition(
                    execution_input.date_prefix,
                    execution_input.manifest_key,
                    from_statuses=t.MANIFEST_PENDING,
                    to_status=t.MANIFEST_PENDING,
                    attributes={t.EXECUTION_ARN: execution_arn},
                )
            except Exception as exc:  # only a note for operators
                logger.warning("execution_arn not recorded", manifest_id=manifest_id, error=str(exc))
        return True

    def execution_input(
        self, manifest_id: str, date_prefix: str, path: str, file_count: int, total_bytes: int
    ) -> ExecutionInput:
        return ExecutionInput(
            manifest_id=manifest_id,
            date_prefix=date_prefix,
            manifest_key=manifest_record_key(manifest_id),
            manifest_path=path,
            file_count=file_count,
            total_bytes=total_bytes,
            glue_job_name=self.policy.glue_job_for(total_bytes),
            output_path=output_path(self.policy.output_bucket, date_prefix),
        )

    def _send(self, execution_input: ExecutionInput) -> str | None:
        if self.policy.start_mode == START_EVENTBRIDGE:
            response = self._events.put_events(
                Entries=[
                    {
                        "Source": EVENT_SOURCE,
                        "DetailType": MANIFEST_READY,
                        "Detail": execution_input.to_json(),
                        "EventBusName": self.policy.event_bus_name,
                    }
                ]
            )
            if response.get("FailedEntryCount"):
                entry = (response.get("Entries") or [{}])[0]
                error = f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}"
                raise TransientError(f"ManifestReady not accepted: {error}")
            return None
        try:
            response = self._sfn.start_execution(
                stateMachineArn=self.policy.state_machine_arn,
                name=execution_input.manifest_id,
                input=execution_input.to_json(),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                logger.info("execution already exists", manifest_id=execution_input.manifest_id)
                return self._execution_arn(execution_input.manifest_id)
            raise
        return str(response.get("executionArn") or "") or None

    def _execution_arn(self, manifest_id: str) -> str:
        return f"{self.policy.state_machine_arn.replace(':stateMachine:', ':execution:')}:{manifest_id}"
