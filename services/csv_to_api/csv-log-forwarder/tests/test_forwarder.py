"""Subscription payloads decoded, log events shaped as HEC events, and packed into bodies of bounded size."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest
from csv_log_forwarder.forwarder import (
    TRUNCATION_MARKER,
    HecOptions,
    LogBatch,
    LogEvent,
    UndecodablePayload,
    batches,
    decode_subscription_event,
    encode,
    encode_within,
    event_body,
    forward,
    hec_event,
)

from pipelines_shared.retry import TransientError, is_transient

OPTIONS = HecOptions(sourcetype="aws:lambda", index=None, max_batch_bytes=512 * 1024)


def stacked(body: bytes) -> list[dict[str, Any]]:
    """The events of a HEC body (JSON objects back to back), read the way HEC reads them."""
    decoder, text, position, events = json.JSONDecoder(), body.decode("utf-8"), 0, []
    while position < len(text):
        event, position = decoder.raw_decode(text, position)
        events.append(event)
    return events


def wrapped(raw: bytes) -> dict[str, Any]:
    return {"awslogs": {"data": base64.b64encode(raw).decode()}}


class RecordingSender:
    def __init__(self, fail_at: int | None = None) -> None:
        self.bodies: list[bytes] = []
        self.fail_at = fail_at

    def send(self, body: bytes) -> None:
        if len(self.bodies) == self.fail_at:
            raise TransientError("HEC busy")
        self.bodies.append(body)


# --- decoding -------------------------------------------------------------------------------------------


def test_a_data_message_decodes_to_its_events_in_order(subscription_event):
    batch = decode_subscription_event(subscription_event(["first", "second", "third"]))
    assert not batch.is_control
    assert batch.log_group == "/aws/lambda/lambda-pipelines-csv-api-caller-test"
    assert batch.log_stream.endswith("[$LATEST]0123456789abcdef0123456789abcdef")
    assert [e.message for e in batch.events] == ["first", "second", "third"]
    assert batch.events[1] == LogEvent(f"3{1:055d}", 1_795_435_200_124, "second")


def test_a_control_message_is_acknowledged_with_nothing_to_send(subscription_event):
    event = subscription_event(
        ["CWL CONTROL MESSAGE: Checking health of destination Lambda function."],
        messageType="CONTROL_MESSAGE",
        logGroup="",
        logStream="",
    )
    batch = decode_subscription_event(event)
    assert batch.is_control
    assert batch.events == ()


def _data_message(**fields: Any) -> bytes:
    payload = {"messageType": "DATA_MESSAGE", "logGroup": "g", "logStream": "s", "logEvents": []}
    return gzip.compress(json.dumps({**payload, **fields}).encode())


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({}, "no awslogs.data"),
        ([], "no awslogs.data"),
        ({"awslogs": {"data": 42}}, "no awslogs.data"),
        ({"Records": [{"body": "an SQS message"}]}, "no awslogs.data"),
        ({"awslogs": {"data": "not base64!"}}, "not base64"),
        (wrapped(b"plain text, not gzip"), "not gzip"),
        (wrapped(gzip.compress(b'{"messageType": "DATA_MESSAGE"}')[:-12]), "not gzip"),
        (wrapped(gzip.compress(b'{"messageType": ')), "does not hold JSON"),
        (wrapped(gzip.compress(b"[1, 2]")), "not hold a JSON object"),
        (wrapped(_data_message(messageType="DATA")), "neither DATA_MESSAGE nor CONTROL_MESSAGE"),
        (wrapped(_data_message(logEvents=None)), "without logGroup, logStream and logEvents"),
        (wrapped(_data_message(logEvents=["text"])), r"logEvents\[0\] is not an object"),
        (
            wrapped(_data_message(logEvents=[{"id": "1", "timestamp": "1795435200123", "message": "m"}])),
            r"logEvents\[0\] lacks",
        ),
        (wrapped(_data_message(logEvents=[{"id": "1", "timestamp": True, "message": "m"}])), "lacks"),
        (wrapped(_data_message(logEvents=[{"id": "1", "timestamp": 1}])), "lacks"),
    ],
)
def test_an_undecodable_payload_fails_for_good_saying_why(event, reason):
    with pytest.raises(UndecodablePayload, match=reason) as raised:
        decode_subscription_event(event)
    assert not is_transient(raised.value)  # the retry policy leaves it to Lambda's retries and the DLQ


# --- HEC events -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            '{"level":"info","message":"rows sent","rows":3,"ratio":0.5}\n',
            {"level": "info", "message": "rows sent", "rows": 3, "ratio": 0.5},
        ),
        ('  {"nested": {"list": [1, null, true]}}', {"nested": {"list": [1, None, True]}}),
        ("START RequestId: 8f5e Version: $LATEST\n", "START RequestId: 8f5e Version: $LATEST\n"),
        ("REPORT RequestId: 8f5e\tDuration: 1.20 ms", "REPORT RequestId: 8f5e\tDuration: 1.20 ms"),
        ("[1, 2]", "[1, 2]"),
        ('"a JSON string"', '"a JSON string"'),
        ('{"cut": "off', '{"cut": "off'),
        # Python would read these, but they are not JSON and HEC would refuse the whole body.
        ('{"ratio": NaN}', '{"ratio": NaN}'),
        ('{"big": 1e999}', '{"big": 1e999}'),
    ],
)
def test_a_json_object_line_becomes_an_object_and_anything_else_stays_text(message, expected):
    assert event_body(message) == expected
    assert isinstance(json.loads(encode({"event": event_body(message)})), dict)


def test_a_hec_event_carries_time_to_the_millisecond_source_and_the_ids_to_dedupe_on():
    batch = LogBatch("DATA_MESSAGE", "/aws/lambda/fn", "2026/11/23/[$LATEST]abc", ())
    event = LogEvent("37000000000000000000000000000000000000000000000000000001", 1_795_435_200_007, "hello")
    shaped = hec_event(batch, event, HecOptions("aws:lambda", "pipelines", 1024))
    assert shaped == {
        "time": 1_795_435_200.007,
        "host": "/aws/lambda/fn",
        "source": "/aws/lambda/fn/2026/11/23/[$LATEST]abc",
        "sourcetype": "aws:lambda",
        "index": "pipelines",
        "event": "hello",
        "fields": {
            "log_group": "/aws/lambda/fn",
            "log_stream": "2026/11/23/[$LATEST]abc",
            "event_id": "37000000000000000000000000000000000000000000000000000001",
        },
    }
    assert b'"time":1795435200.007,' in encode(shaped)
    assert "index" not in hec_event(batch, event, OPTIONS)


def test_non_ascii_goes_as_utf8_and_a_lone_surrogate_still_makes_valid_json():
    shaped = {"event": event_body('{"name": "Zoë ✓", "broken": "\\ud800"}')}
    data = encode(shaped)
    assert "Zoë ✓".encode() in data
    assert json.loads(data) == {"event": {"name": "Zoë ✓", "broken": "\ud800"}}


# --- bodies of bounded size -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("max_bytes", "expected"),
    [
        (30, [b"a" * 10 + b"b" * 10 + b"c" * 10]),
        (29, [b"a" * 10 + b"b" * 10, b"c" * 10]),
        (20, [b"a" * 10 + b"b" * 10, b"c" * 10]),
        (19, [b"a" * 10, b"b" * 10, b"c" * 10]),
        (10, [b"a" * 10, b"b" * 10, b"c" * 10]),
    ],
)
def test_bodies_fill_up_to_exactly_max_bytes_and_keep_the_order(max_bytes, expected):
    assert list(batches([b"a" * 10, b"b" * 10, b"c" * 10], max_bytes)) == expected


def test_an_event_over_max_bytes_cannot_be_batched():
    assert list(batches([], 10)) == []
    with pytest.raises(ValueError, match="11 bytes is over max_bytes=10"):
        list(batches([b"x" * 11], 10))


def _batch(messages: list[str]) -> LogBatch:
    # A second apart, so that every "time" has the same number of digits.
    events = tuple(LogEvent(f"3{i:055d}", 1_795_435_200_123 + 1000 * i, m) for i, m in enumerate(messages))
    return LogBatch("DATA_MESSAGE", "/aws/lambda/fn", "stream", events)


@pytest.mark.parametrize(("per_body", "bodies"), [(3, 4), (2, 5)])
def test_forward_sends_every_event_in_order_in_bodies_within_the_limit(per_body, bodies):
    batch = _batch([f"line {i}" for i in range(10)])  # every event encodes to the same size
    size = len(encode(hec_event(batch, batch.events[0], OPTIONS)))
    # Room for exactly three events, or one byte short of it.
    limit = 3 * size if per_body == 3 else 3 * size - 1
    options = HecOptions("aws:lambda", None, limit)
    sender = RecordingSender()

    result = forward(batch, sender, options)

    assert len(sender.bodies) == bodies
    assert all(len(body) <= limit for body in sender.bodies)
    assert [len(stacked(body)) for body in sender.bodies][:-1] == [per_body] * (bodies - 1)
    received = [event for body in sender.bodies for event in stacked(body)]
    assert received == [hec_event(batch, event, options) for event in batch.events]
    assert (result.events, result.batches, result.truncated) == (10, bodies, 0)
    assert result.bytes == sum(len(body) for body in sender.bodies)


def test_a_body_that_fails_stops_the_invocation_before_later_events_are_sent():
    batch = _batch([f"line {i}" for i in range(6)])
    size = len(encode(hec_event(batch, batch.events[0], OPTIONS)))
    sender = RecordingSender(fail_at=1)
    with pytest.raises(TransientError):
        forward(batch, sender, HecOptions("aws:lambda", None, 2 * size))
    assert [len(stacked(body)) for body in sender.bodies] == [2]


def test_a_message_too_big_for_a_body_on_its_own_is_cut_with_a_marker():
    big = "x" * 5000
    batch = _batch(["before", big, '{"after": true}'])
    sender = RecordingSender()

    result = forward(batch, sender, HecOptions("aws:lambda", None, 2048))

    assert all(len(body) <= 2048 for body in sender.bodies)
    before, cut, after = (event for body in sender.bodies for event in stacked(body))
    marker = TRUNCATION_MARKER.format(size=5000)
    assert cut["event"].endswith(marker)
    assert set(cut["event"].removesuffix(marker)) == {"x"}
    assert cut["fields"]["truncated"] == "true"
    assert cut["fields"]["event_id"] == batch.events[1].id
    assert (before["event"], after["event"]) == ("before", {"after": True})
    assert "truncated" not in before["fields"]
    assert result.truncated == 1


@pytest.mark.parametrize(
    "message",
    [
        'é"\\\n✓\x01' * 2000,  # characters that take 1 to 6 bytes each once encoded
        json.dumps({"rows": [{"id": i, "name": "Zoë"} for i in range(400)]}),  # an object: goes as text
    ],
)
def test_a_cut_message_keeps_the_longest_prefix_that_fits(message):
    batch = _batch([message])
    shaped = hec_event(batch, batch.events[0], OPTIONS)
    limit = 4096

    data, truncated = encode_within(shaped, message, limit)

    assert truncated
    assert len(data) <= limit
    sent = json.loads(data)
    marker = TRUNCATION_MARKER.format(size=len(message.encode()))
    kept = sent["event"].removesuffix(marker)
    assert message.startswith(kept)
    # One character more would not have fitted.
    sent["event"] = message[: len(kept) + 1] + marker
    assert len(encode(sent)) > limit


def test_a_limit_too_small_for_the_envelope_is_an_error_not_an_endless_cut():
    batch = _batch(["hello"])
    with pytest.raises(ValueError, match="cannot hold one event"):
        encode_within(hec_event(batch, batch.events[0], OPTIONS), "hello" * 100, 100)
