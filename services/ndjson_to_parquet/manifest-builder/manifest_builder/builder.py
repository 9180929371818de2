"""The function's work, whatever triggered it: an SQS batch of S3 events or the schedule."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ndjson_to_parquet.manifests import ManifestCore
from pipelines_shared.clock import Clock, utc_now
from pipelines_shared.log import get_logger
from pipelines_shared.retry import PermanentError

from .events import NotAnS3Event
from .flush import days_to_flush, flush, is_scheduled
from .intake import FileIntake

if TYPE_CHECKING:
    from pipelines_shared.batch import BatchResponse

logger = get_logger(__name__)

MODE_BUILDER = "builder"
MODE_STREAM = "stream"
MANIFEST_MODES = frozenset({MODE_BUILDER, MODE_STREAM})

type Response = BatchResponse | dict[str, Any]
"""An SQS batch's partial-failure response, or the scheduled flush's report (``{"flushed": [...]}``)."""


class UnrecognisedEvent(PermanentError):
    """Neither an SQS batch nor a scheduled event."""


class ManifestBuilder:
    def __init__(
        self,
        *,
        intake: FileIntake,
        core: ManifestCore,
        manifest_mode: str = MODE_BUILDER,
        lookback_days: int = 2,
        clock: Clock = utc_now,
    ) -> None:
        if manifest_mode not in MANIFEST_MODES:
            raise ValueError(f"manifest_mode must be one of {sorted(MANIFEST_MODES)}, got {manifest_mode!r}")
        self._intake = intake
        self._core = core
        self._mode = manifest_mode
        self._lookback_days = lookback_days
        self._clock = clock

    def handle(self, event: Any, context: Any, should_stop: Callable[[], bool] = lambda: False) -> Response:
        if is_scheduled(event):
            days = days_to_flush(event, self._clock(), self._lookback_days)
            return flush(self._core, days, should_stop)
        if isinstance(event, dict) and "Records" in event:
            return self.handle_sqs_batch(event, context, should_stop)
        keys = sorted(event)[:8] if isinstance(event, dict) else type(event).__name__
        raise UnrecognisedEvent(f"neither an SQS batch nor a scheduled event: {keys}")

    def handle_sqs_batch(
        self, event: dict[str, Any], context: Any, should_stop: Callable[[], bool] = lambda: False
    ) -> BatchResponse:
        """Track every object of the batch, then build manifests for the days with pending files."""
        # Imported here: the scheduled flush never needs Powertools' batch processor (~50 ms cold).
        from pipelines_shared.batch import process_sqs_batch

        days: set[str] = set()

        def handle(record: Any) -> None:
            try:
                results = self._intake.handle_message(record.body)
            except NotAnS3Event as exc:
                logger.error(
                    "message is not an S3 event; it reaches the DLQ after maxReceiveCount receives",
                    error=str(exc),
                    body=record.body[:300],
                )
                raise
            days.update(result.date_prefix for result in results if result.pending)

        response = process_sqs_batch(event, context, handle)
        if self._mode == MODE_STREAM:
            return response
        for day in sorted(days):
            # The files are tracked whatever happens here: a failed pass is retried by the next batch
            # of that day or by the scheduled flush, so it does not fail the records.
            try:
                self._core.build(day, should_stop=should_stop)
            except Exception as exc:
                logger.exception("manifest pass failed", date_prefix=day, error_type=type(exc).__name__)
        return response
