"""The one SQS partial-batch helper, on Powertools' BatchProcessor.

A record whose handler raises is reported in ``batchItemFailures``; SQS makes it visible again after
the visibility timeout and moves it to the queue's DLQ once it has been received ``maxReceiveCount``
times. Records that succeed are deleted by Lambda. The event source mapping must have
``function_response_types = ["ReportBatchItemFailures"]``, otherwise the response is ignored and the
whole batch is retried.

Standard queues only: FIFO queues need Powertools' ``SqsFifoPartialProcessor``, which stops at the
first failure to keep ordering.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from structlog.contextvars import bound_contextvars

from pipelines_shared.log import CORRELATION_ID_KEY, correlation_id_from_record, get_logger

RecordHandler = Callable[[SQSRecord], Any]
BatchResponse = PartialItemFailureResponse
"""What an SQS handler returns to Lambda: ``{"batchItemFailures": [{"itemIdentifier": <message id>}]}``."""

logger = get_logger(__name__)


def process_sqs_batch(event: dict[str, Any], context: Any, record_handler: RecordHandler) -> BatchResponse:
    """Run ``record_handler`` on each SQS record and return the partial-batch response for Lambda.

    Each record is handled with its correlation id (the ``correlation_id`` message attribute, else its
    message id) bound in the log context. One bad record never fails the others, and a batch where
    every record fails is still reported record by record rather than raised.
    """
    if "Records" not in event:
        raise ValueError("not an SQS event: no 'Records' key")
    if not event["Records"]:
        # Powertools treats an empty batch as a malformed event and raises; for us it is just no work.
        return {"batchItemFailures": []}

    def handle(record: SQSRecord) -> Any:
        correlation_id = correlation_id_from_record(record) or record.message_id
        with bound_contextvars(**{CORRELATION_ID_KEY: correlation_id}, message_id=record.message_id):
            try:
                return record_handler(record)
            except Exception as exc:
                logger.exception("sqs record failed", error_type=type(exc).__name__, error=str(exc))
                raise

    # Report rather than raise when every record fails: SQS retries them all either way, but a raise
    # would surface as one opaque invocation error instead of the per-record failures logged above.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
