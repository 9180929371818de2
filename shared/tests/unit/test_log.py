"""Logging: JSON lines carry the Lambda context and correlation id; the id travels in SQS attributes."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import structlog
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from structlog.contextvars import clear_contextvars

from pipelines_shared import log
from pipelines_shared.log import (
    bind_correlation_id,
    configure_logging,
    correlation_id_from_record,
    correlation_message_attributes,
    get_correlation_id,
    get_logger,
    inject_lambda_context,
    new_correlation_id,
)

CONTEXT = SimpleNamespace(aws_request_id="req-123", function_name="lp-sftp-worker-dev")


class TerminalLikeStream(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _isolated_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    monkeypatch.setattr(log, "_cold_start", True)
    clear_contextvars()
    yield
    clear_contextvars()
    structlog.reset_defaults()


@pytest.fixture
def output() -> io.StringIO:
    stream = io.StringIO()
    configure_logging(stream=stream)
    return stream


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_handler_lines_carry_request_id_function_name_and_correlation_id(output: io.StringIO) -> None:
    @inject_lambda_context
    def handler(event: dict, context: object) -> str:
        bind_correlation_id(event["correlation_id"])
        get_logger("worker").info("file fetched", key="2024/01/02/a.ndjson")
        return "done"

    assert handler({"correlation_id": "corr-9"}, CONTEXT) == "done"

    [line] = lines(output)
    assert line["message"] == "file fetched"
    assert line["request_id"] == "req-123"
    assert line["function_name"] == "lp-sftp-worker-dev"
    assert line["correlation_id"] == "corr-9"
    assert line["cold_start"] is True
    assert line["level"] == "info"
    assert line["key"] == "2024/01/02/a.ndjson"
    assert "timestamp" in line


def test_context_does_not_leak_between_invocations(output: io.StringIO) -> None:
    @inject_lambda_context
    def handler(event: dict, context: object) -> None:
        if event.get("correlation_id"):
            bind_correlation_id(event["correlation_id"])
        get_logger().info("handled")

    handler({"correlation_id": "first"}, CONTEXT)
    handler({}, SimpleNamespace(aws_request_id="req-456", function_name="lp-sftp-worker-dev"))
    get_logger().info("between invocations")

    first, second, outside = lines(output)
    assert (first["cold_start"], second["cold_start"]) == (True, False)
    assert second["request_id"] == "req-456"
    assert "correlation_id" not in second
    assert "request_id" not in outside


def test_context_is_cleared_even_when_the_handler_raises(output: io.StringIO) -> None:
    @inject_lambda_context
    def handler(event: dict, context: object) -> None:
        bind_correlation_id("doomed")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        handler({}, CONTEXT)
    assert get_correlation_id() is None


def test_exceptions_are_rendered_into_the_json_line(output: io.StringIO) -> None:
    try:
        raise ValueError("bad row 17")
    except ValueError:
        get_logger().exception("parse failed")
    [line] = lines(output)
    assert line["level"] == "error"
    assert "ValueError: bad row 17" in line["exception"]


def test_level_comes_from_log_level(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "warning")
    stream = io.StringIO()
    configure_logging(stream=stream)
    get_logger().info("hidden")
    get_logger().warning("shown")
    assert [line["message"] for line in lines(stream)] == ["shown"]


def test_unknown_level_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "chatty")
    with pytest.raises(ValueError, match="chatty"):
        configure_logging(stream=io.StringIO())


def test_terminal_gets_readable_lines_and_lambda_gets_json(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = TerminalLikeStream()
    configure_logging(stream=terminal)
    get_logger().info("hello", rows=3)
    console_line = terminal.getvalue()
    assert "hello" in console_line
    assert "rows" in console_line
    with pytest.raises(json.JSONDecodeError):
        json.loads(console_line)

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "lp-sftp-worker-dev")
    in_lambda = TerminalLikeStream()
    configure_logging(stream=in_lambda)
    get_logger().info("hello", rows=3)
    assert json.loads(in_lambda.getvalue())["rows"] == 3


def test_new_correlation_id_is_unique_and_bound() -> None:
    first = new_correlation_id()
    second = new_correlation_id()
    assert first != second
    assert get_correlation_id() == second


def test_message_attributes_carry_the_bound_correlation_id_to_the_next_service() -> None:
    bind_correlation_id("corr-42")
    attributes = correlation_message_attributes()
    assert attributes == {"correlation_id": {"DataType": "String", "StringValue": "corr-42"}}

    # What the receiving Lambda gets for a message sent with those attributes.
    raw_record = {
        "messageId": "m-1",
        "body": "{}",
        "messageAttributes": {
            "correlation_id": {"stringValue": "corr-42", "dataType": "String", "binaryListValues": []}
        },
    }
    assert correlation_id_from_record(raw_record) == "corr-42"
    assert correlation_id_from_record(SQSRecord(raw_record)) == "corr-42"


def test_message_attributes_start_a_correlation_id_when_none_is_bound() -> None:
    attributes = correlation_message_attributes()
    started = attributes["correlation_id"]["StringValue"]
    assert started
    assert get_correlation_id() == started
    assert correlation_message_attributes("explicit")["correlation_id"]["StringValue"] == "explicit"


def test_record_without_correlation_attribute_has_none() -> None:
    assert correlation_id_from_record({"messageId": "m-1", "messageAttributes": {}}) is None
    assert correlation_id_from_record(SQSRecord({"messageId": "m-1"})) is None


def test_binding_an_empty_correlation_id_is_refused() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        bind_correlation_id("")
