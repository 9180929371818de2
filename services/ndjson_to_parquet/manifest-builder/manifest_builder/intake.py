"""Per landed object: validate, then track it ``pending`` or quarantine it and track it ``failed``.

Idempotent: an object already tracked is left alone, so a redelivered message copies nothing again
and writes no second record. Two deliveries racing each other may both quarantine (same keys, same
bytes but the time), and the conditional create keeps one record.

An object re-uploaded under a key already tracked is not tracked again (the key is its identity in
the table); that is logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ndjson_to_parquet import contract as c
from ndjson_to_parquet import tracking as t
from pipelines_shared.clock import Clock, utc_now
from pipelines_shared.log import get_logger
from pipelines_shared.retry import is_transient
from pipelines_shared.tracking import TrackedItem, TrackingStore

from .events import ObjectRef, objects_in_message
from .validation import Inspector, Verdict

logger = get_logger(__name__)

TRACKED = "tracked"
ALREADY_TRACKED = "already_tracked"
QUARANTINED = "quarantined"
IGNORED = "ignored"

_COPY_OBJECT_LIMIT = 5 * 1024**3  # larger objects need a multipart copy


@dataclass(frozen=True)
class IntakeResult:
    date_prefix: str
    file_key: str
    outcome: str
    pending: bool = False
    """The file waits in ``pending`` now: its day is worth a manifest pass."""
    reason: str | None = None


def tracking_identity(key: str) -> tuple[str, str]:
    """(date_prefix, file_key) of a landing key; ``undated`` and the rest for keys without a date."""
    try:
        parsed = c.parse_landing_key(key)
    except c.InvalidLandingKey:
        folder, _, rest = c.quarantine_key(key)[len(c.QUARANTINE_PREFIX) :].partition("/")
        return folder, rest
    return parsed.date_prefix, parsed.file_key


class FileIntake:
    def __init__(
        self,
        *,
        s3: Any,
        files: TrackingStore,
        inspector: Inspector,
        quarantine_bucket: str,
        clock: Clock = utc_now,
    ) -> None:
        self._s3 = s3
        self._files = files
        self._inspector = inspector
        self._quarantine_bucket = quarantine_bucket
        self._clock = clock

    def handle_message(self, body: str) -> list[IntakeResult]:
        """Every object an SQS message names (raises NotAnS3Event for a foreign message)."""
        return [self.handle_object(ref) for ref in objects_in_message(body)]

    def handle_object(self, ref: ObjectRef) -> IntakeResult:
        if ref.key.endswith("/"):
            logger.info("folder marker ignored", key=ref.key)
            return IntakeResult("", ref.key, IGNORED)
        date_prefix, file_key = tracking_identity(ref.key)
        existing = self._files.get(date_prefix, file_key)
        if existing is not None:
            etag = (ref.etag or "").strip('"')
            if etag and existing.attributes.get(t.ETAG) not in (None, etag):
                logger.warning("object replaced after it was tracked; new version ignored", key=ref.key)
            else:
                logger.info("already tracked", key=ref.key, status=existing.status)
            return IntakeResult(date_prefix, file_key, ALREADY_TRACKED, pending=existing.status == t.PENDING)
        verdict = self._inspector.inspect(ref.bucket, ref.key)
        if verdict is None:
            logger.info("object deleted before it was validated", key=ref.key)
            return IntakeResult(date_prefix, file_key, IGNORED)
        attributes = {
            t.FILE_PATH: c.s3_uri(ref.bucket, ref.key),
            t.SIZE: verdict.size,
            t.ETAG: verdict.etag,
            t.SHARD_ID: t.shard_id(file_key),
        }
        if verdict.valid:
            created = self._files.create(TrackedItem(date_prefix, file_key, t.PENDING, attributes))
            logger.info("file tracked", key=ref.key, size=verdict.size, created=created)
            return IntakeResult(date_prefix, file_key, TRACKED if created else ALREADY_TRACKED, pending=True)
        quarantine_path, detail = self._quarantine(ref, verdict)
        self._files.create(
            TrackedItem(
                date_prefix,
                file_key,
                t.FAILED,
                {**attributes, t.QUARANTINE_PATH: quarantine_path, t.REASON: verdict.reason, t.ERROR: detail},
            )
        )
        logger.warning("file quarantined", key=ref.key, reason=verdict.reason, detail=detail)
        return IntakeResult(date_prefix, file_key, QUARANTINED, reason=verdict.reason)

    def _quarantine(self, ref: ObjectRef, verdict: Verdict) -> tuple[str, str]:
        """Copy the object as is and write its reason JSON beside it; (quarantine path, detail)."""
        target = c.quarantine_key(ref.key)
        detail = verdict.detail
        source = {"Bucket": ref.bucket, "Key": ref.key}
        try:
            if verdict.size > _COPY_OBJECT_LIMIT:
                self._s3.copy(source, self._quarantine_bucket, target)
            else:
                self._s3.copy_object(CopySource=source, Bucket=self._quarantine_bucket, Key=target)
        except ClientError as exc:
            if is_transient(exc):
                raise
            # Unreadable objects usually cannot be copied either: the reason JSON still says why.
            code = exc.response.get("Error", {}).get("Code", "")
            detail = f"{detail} (object not copied: {code})"
            logger.error("quarantine copy failed", key=ref.key, error_code=code)
        reason = c.QuarantineReason(
            source=c.s3_uri(ref.bucket, ref.key),
            reason=str(verdict.reason),
            detail=detail,
            quarantined_at=self._clock().isoformat(),
        )
        self._s3.put_object(
            Bucket=self._quarantine_bucket,
            Key=c.reason_key(target),
            Body=reason.to_json().encode(),
            ContentType="application/json",
        )
        return c.s3_uri(self._quarantine_bucket, target), detail
