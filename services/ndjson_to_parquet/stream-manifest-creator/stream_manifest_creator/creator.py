"""DynamoDB Streams (NEW_AND_OLD_IMAGES) on the file-tracking table -> the manifest core.

A record counts when it is an INSERT or MODIFY whose new image's status starts with ``pending#``
(a file record waiting for a manifest; MANIFEST records are never sharded, so never match). The
days of those records each get one manifest pass (trigger ``stream``); running it again for the
same records changes nothing, the claims being compare-and-set.

A day whose pass fails reports its records in ``batchItemFailures`` (Lambda retries from the
lowest sequence number; ministack ignores the field, and the scheduled flush covers the day anyway).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from ndjson_to_parquet import tracking as t
from ndjson_to_parquet.contract import REASON_STREAM, is_date_prefix
from ndjson_to_parquet.manifests import ManifestCore
from pipelines_shared.log import get_logger
from pipelines_shared.retry import PermanentError

logger = get_logger(__name__)

_PENDING_PREFIX = f"{t.PENDING}#"


class NotAStreamEvent(PermanentError):
    """The event has no DynamoDB Streams records."""


def pending_days(records: list[dict[str, Any]]) -> dict[str, list[str]]:
    """date_prefix -> sequence numbers of the records that made a file pending there."""
    days: dict[str, list[str]] = defaultdict(list)
    for record in records:
        if record.get("eventName") not in ("INSERT", "MODIFY"):
            continue
        change = record.get("dynamodb") or {}
        image = change.get("NewImage") or {}
        status = (image.get("status") or {}).get("S", "")
        if not status.startswith(_PENDING_PREFIX):
            continue
        keys = change.get("Keys") or {}
        day = (image.get(t.PARTITION_KEY) or keys.get(t.PARTITION_KEY) or {}).get("S", "")
        if not is_date_prefix(day):
            logger.warning("pending record without a valid date_prefix ignored", date_prefix=day)
            continue
        days[day].append(str(change.get("SequenceNumber", "")))
    return days


class StreamManifestCreator:
    def __init__(self, core: ManifestCore) -> None:
        self._core = core

    def handle(self, event: Any, should_stop: Callable[[], bool] = lambda: False) -> dict[str, Any]:
        if not isinstance(event, dict) or not isinstance(event.get("Records"), list):
            raise NotAStreamEvent("expected a DynamoDB Streams event with Records")
        failures: list[str] = []
        days = pending_days(event["Records"])
        for day, sequence_numbers in sorted(days.items()):
            try:
                self._core.build(day, trigger=REASON_STREAM, should_stop=should_stop)
            except Exception as exc:
                logger.exception("manifest pass failed", date_prefix=day, error_type=type(exc).__name__)
                failures.extend(number for number in sequence_numbers if number)
        logger.info(
            "stream batch handled", records=len(event["Records"]), days=sorted(days), failed=len(failures)
        )
        return {"batchItemFailures": [{"itemIdentifier": number} for number in sorted(set(failures))]}
