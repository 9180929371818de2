"""process_sqs_batch: exactly the failed message ids come back, and each record is logged under its
correlation id."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import structlog
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from structlog.contextvars import clear_contextvars

from pipelines_shared.batch import process_sqs_batch
from pipelines_shared.log import bind_correlation_id, configure_logging, get_correlation_id

CONTEXT = SimpleNamespace(aws_request_id="req-1", function_name="lp-worker-dev")


def sqs_record(message_id: str, body: dict, correlation_id: str | None = None) -> dict:
    attributes = {}
    if correlation_id:
        attributes["correlation_id"] = {"stringValue": correlation_id, "dataType": "String"}
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": attributes,
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:lp-work-dev",
        "awsRegion": "us-east-1",
    }


@pytest.fixture(autouse=True)
def log_output() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging(stream=stream, level="INFO")
    clear_contextvars()
    yield stream
    clear_contextvars()
    structlog.reset_defaults()


def handle_unless_poison(record: SQSRecord) -> None:
    if record.json_body.get("poison"):
        raise ValueError(f"cannot parse {record.message_id}")


def test_reports_exactly_the_failed_message_ids() -> None:
    event = {
        "Records": [
            sqs_record("m-1", {"n": 1}),
            sqs_record("m-2", {"poison": True}),
            sqs_record("m-3", {"n": 3}),
            sqs_record("m-4", {"poison": True}),
        ]
    }
    handled: list[str] = []

    def handler(record: SQSRecord) -> None:
        handled.append(record.message_id)
        handle_unless_poison(record)

    response = process_sqs_batch(event, CONTEXT, handler)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-2"}, {"itemIdentifier": "m-4"}]}
    assert handled == ["m-1", "m-2", "m-3", "m-4"]  # a failure does not stop the rest


def test_all_records_failing_are_reported_not_raised() -> None:
    event = {"Records": [sqs_record("m-1", {"poison": True}), sqs_record("m-2", {"poison": True})]}
    response = process_sqs_batch(event, CONTEXT, handle_unless_poison)
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-2"}]}


def test_all_records_succeeding_report_no_failures() -> None:
    event = {"Records": [sqs_record("m-1", {"n": 1})]}
    assert process_sqs_batch(event, CONTEXT, handle_unless_poison) == {"batchItemFailures": []}


def test_empty_batch_reports_no_failures_and_calls_nothing() -> None:
    def must_not_run(record: SQSRecord) -> None:
        raise AssertionError("no record to handle")

    assert process_sqs_batch({"Records": []}, CONTEXT, must_not_run) == {"batchItemFailures": []}


def test_event_without_records_is_rejected() -> None:
    with pytest.raises(ValueError, match="not an SQS event"):
        process_sqs_batch({"detail-type": "Scheduled Event"}, CONTEXT, handle_unless_poison)


def test_each_record_is_handled_under_its_correlation_id() -> None:
    event = {"Records": [sqs_record("m-1", {}, correlation_id="corr-a"), sqs_record("m-2", {})]}
    seen: dict[str, str | None] = {}

    def handler(record: SQSRecord) -> None:
        seen[record.message_id] = get_correlation_id()

    bind_correlation_id("invocation-level")
    process_sqs_batch(event, CONTEXT, handler)

    assert seen == {"m-1": "corr-a", "m-2": "m-2"}  # falls back to the message id
    assert get_correlation_id() == "invocation-level"  # restored after the batch


def test_failures_are_logged_with_message_id_correlation_id_and_exception(log_output: io.StringIO) -> None:
    event = {"Records": [sqs_record("m-7", {"poison": True}, correlation_id="corr-7")]}
    process_sqs_batch(event, CONTEXT, handle_unless_poison)

    failures = [json.loads(line) for line in log_output.getvalue().splitlines()]
    [failure] = [line for line in failures if line["message"] == "sqs record failed"]
    assert failure["message_id"] == "m-7"
    assert failure["correlation_id"] == "corr-7"
    assert failure["error_type"] == "ValueError"
    assert "cannot parse m-7" in failure["exception"]
