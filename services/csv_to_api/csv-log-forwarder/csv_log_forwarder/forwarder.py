"""From a CloudWatch Logs subscription event to Splunk HEC request bodies: decode, shape, size, send.

Input: ``{"awslogs": {"data": base64(gzip(JSON))}}``, the JSON a ``DATA_MESSAGE`` (``logGroup``,
``logStream``, ``logEvents[{id, timestamp, message}]``) or a ``CONTROL_MESSAGE`` (CloudWatch checking
that the destination answers: nothing to send).

Output: one HEC event per log event (:func:`hec_event`), serialised as compact JSON and concatenated in
order into bodies of at most ``max_batch_bytes``, each POSTed by a :class:`Sender`.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import math
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pipelines_shared.retry import PermanentError

DATA_MESSAGE = "DATA_MESSAGE"
CONTROL_MESSAGE = "CONTROL_MESSAGE"
TRUNCATION_MARKER = " [truncated by csv-log-forwarder: the message had {size} bytes]"


class UndecodablePayload(PermanentError):
    """The invocation's event is not a CloudWatch Logs subscription payload that can be read."""


@dataclass(frozen=True)
class LogEvent:
    id: str
    timestamp: int
    """Milliseconds since the epoch."""
    message: str


@dataclass(frozen=True)
class LogBatch:
    """One subscription delivery: the log events of one log stream (none for a control message)."""

    message_type: str
    log_group: str = ""
    log_stream: str = ""
    events: tuple[LogEvent, ...] = ()

    @property
    def is_control(self) -> bool:
        return self.message_type == CONTROL_MESSAGE


@dataclass(frozen=True)
class HecOptions:
    sourcetype: str
    index: str | None
    max_batch_bytes: int


@dataclass(frozen=True)
class Forwarded:
    """What one invocation sent: events, request bodies, their bytes, and messages cut to fit."""

    events: int
    batches: int
    bytes: int
    truncated: int


class Sender(Protocol):
    def send(self, body: bytes) -> None:
        """POST one request body of concatenated HEC events; raise unless HEC accepted all of them."""


def decode_subscription_event(event: Any) -> LogBatch:
    """Decode a subscription event; raise :class:`UndecodablePayload`, saying what is wrong, if it cannot."""
    # Powertools' CloudWatchLogsEvent does the same three standard-library calls, but importing its
    # data_classes package costs about 50 ms of every cold start.
    awslogs = event.get("awslogs") if isinstance(event, Mapping) else None
    data = awslogs.get("data") if isinstance(awslogs, Mapping) else None
    if not isinstance(data, str):
        raise UndecodablePayload("no awslogs.data string: not a CloudWatch Logs subscription event")
    try:
        compressed = base64.b64decode(data, validate=True)
    except binascii.Error as error:
        raise UndecodablePayload(f"awslogs.data is not base64: {error}") from error
    try:
        raw = gzip.decompress(compressed)
    except (OSError, EOFError, zlib.error) as error:
        raise UndecodablePayload(f"awslogs.data is not gzip: {error}") from error
    try:
        payload = json.loads(raw)
    except ValueError as error:
        raise UndecodablePayload(f"awslogs.data does not hold JSON: {error}") from error
    return _log_batch(payload)


def _log_batch(payload: Any) -> LogBatch:
    if not isinstance(payload, dict):
        raise UndecodablePayload("awslogs.data does not hold a JSON object")
    message_type = payload.get("messageType")
    if message_type == CONTROL_MESSAGE:
        return LogBatch(CONTROL_MESSAGE)
    if message_type != DATA_MESSAGE:
        raise UndecodablePayload(
            f"messageType {message_type!r} is neither {DATA_MESSAGE} nor {CONTROL_MESSAGE}"
        )
    log_group, log_stream, log_events = (
        payload.get("logGroup"),
        payload.get("logStream"),
        payload.get("logEvents"),
    )
    if not isinstance(log_group, str) or not isinstance(log_stream, str) or not isinstance(log_events, list):
        raise UndecodablePayload("a DATA_MESSAGE without logGroup, logStream and logEvents")
    events = []
    for position, item in enumerate(log_events):
        if not isinstance(item, dict):
            raise UndecodablePayload(f"logEvents[{position}] is not an object")
        event_id, timestamp, message = item.get("id"), item.get("timestamp"), item.get("message")
        if (
            not isinstance(event_id, str)
            or not isinstance(timestamp, int)
            or isinstance(timestamp, bool)
            or not isinstance(message, str)
        ):
            raise UndecodablePayload(f"logEvents[{position}] lacks a string id, integer timestamp or message")
        events.append(LogEvent(event_id, timestamp, message))
    return LogBatch(DATA_MESSAGE, log_group, log_stream, tuple(events))


def _not_json(value: str) -> Any:
    raise ValueError(f"{value} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def event_body(message: str) -> Any:
    """The message as a JSON object when it is one (our services log JSON lines), else the text as it is."""
    if not message.lstrip().startswith("{"):
        return message
    try:
        # Python reads NaN, Infinity and 1e999, which Splunk answers with a 400 for the whole batch: such
        # a line goes as text.
        parsed = json.loads(message, parse_constant=_not_json, parse_float=_finite_float)
    except (ValueError, RecursionError):
        return message
    return parsed if isinstance(parsed, dict) else message


def hec_event(batch: LogBatch, event: LogEvent, options: HecOptions) -> dict[str, Any]:
    """The HEC event for one log event; ``fields`` are indexed, so a search can dedupe on ``event_id``."""
    shaped: dict[str, Any] = {
        "time": event.timestamp / 1000,
        "host": batch.log_group,
        "source": f"{batch.log_group}/{batch.log_stream}",
        "sourcetype": options.sourcetype,
    }
    if options.index:
        shaped["index"] = options.index
    shaped["event"] = event_body(event.message)
    shaped["fields"] = {"log_group": batch.log_group, "log_stream": batch.log_stream, "event_id": event.id}
    return shaped


def encode(event: Mapping[str, Any]) -> bytes:
    """Compact JSON in UTF-8."""
    text = json.dumps(event, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    # UTF-8 rather than \\u escapes: non-ASCII text takes a third of the bytes. A lone surrogate (from a
    # "\\ud800" escape in a JSON message) has no UTF-8 form; backslashreplace writes it as that same
    # \\ud800 escape, which is valid JSON because a surrogate only ever occurs inside a string.
    return text.encode("utf-8", "backslashreplace")


def encode_within(event: Mapping[str, Any], message: str, max_bytes: int) -> tuple[bytes, bool]:
    """``event`` encoded, and whether its message had to be cut (to text ending in a marker) to fit.

    A message over ``max_bytes`` cut rather than refused: a refused one would fail its invocation on every
    retry and take the events around it to the DLQ with it.
    """
    data = encode(event)
    if len(data) <= max_bytes:
        return data, False
    marker = TRUNCATION_MARKER.format(size=len(message.encode("utf-8", "surrogatepass")))
    envelope = dict(event)
    envelope["fields"] = {**event["fields"], "truncated": "true"}

    def cut(keep: int) -> bytes:
        envelope["event"] = message[:keep] + marker
        return encode(envelope)

    if len(cut(0)) > max_bytes:
        raise ValueError(f"max_batch_bytes={max_bytes} cannot hold one event from {event.get('host')!r}")
    # The longest prefix that fits. Escaping makes bytes per character uneven, so search rather than compute.
    fits, too_long = 0, len(message) + 1
    while too_long - fits > 1:
        middle = (fits + too_long) // 2
        if len(cut(middle)) <= max_bytes:
            fits = middle
        else:
            too_long = middle
    return cut(fits), True


def batches(encoded: Iterable[bytes], max_bytes: int) -> Iterator[bytes]:
    """Concatenate encoded events, in order, into bodies of at most ``max_bytes`` (HEC reads them stacked)."""
    pending: list[bytes] = []
    size = 0
    for data in encoded:
        if len(data) > max_bytes:
            raise ValueError(f"an encoded event of {len(data)} bytes is over max_bytes={max_bytes}")
        if pending and size + len(data) > max_bytes:
            yield b"".join(pending)
            pending, size = [], 0
        pending.append(data)
        size += len(data)
    if pending:
        yield b"".join(pending)


def forward(batch: LogBatch, sender: Sender, options: HecOptions) -> Forwarded:
    """Send every log event of ``batch`` to HEC, in order, one body after another; raise unless all arrive.

    Delivery is at least once. When a body fails for good the invocation raises, Lambda invokes it again
    (asynchronous retries) and then hands the event to the function's on-failure destination. A retried
    invocation sends again the bodies HEC had already accepted, and HEC deduplicates nothing, so Splunk
    may hold an event twice: its ``fields.event_id`` (the CloudWatch log event id) identifies the copies,
    e.g. ``... | dedup event_id``.
    """
    truncated = 0

    def encoded() -> Iterator[bytes]:
        nonlocal truncated
        for event in batch.events:
            data, cut = encode_within(
                hec_event(batch, event, options), event.message, options.max_batch_bytes
            )
            truncated += cut
            yield data

    sent = size = 0
    for body in batches(encoded(), options.max_batch_bytes):
        sender.send(body)
        sent += 1
        size += len(body)
    return Forwarded(events=len(batch.events), batches=sent, bytes=size, truncated=truncated)
