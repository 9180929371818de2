"""The one logger setup: structlog, JSON lines in Lambda, a readable console on a terminal.

Context (Lambda request id, function name, cold start, correlation id) lives in contextvars, so every
line logged while a handler runs carries it without passing loggers around.

Correlation ids travel between services in the SQS message attribute ``correlation_id`` (DataType
``String``). Senders build it with :func:`correlation_message_attributes`; receivers read it with
:func:`correlation_id_from_record` (``pipelines_shared.batch`` does that for every record).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TextIO

import structlog
from structlog.contextvars import bind_contextvars, clear_contextvars, get_contextvars

CORRELATION_ID_ATTRIBUTE = "correlation_id"
"""Name of the SQS message attribute (DataType String) that carries the correlation id."""

CORRELATION_ID_KEY = "correlation_id"
"""Key of the correlation id in every log line."""

_cold_start = True


def _in_lambda() -> bool:
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def configure_logging(
    *, level: str | int | None = None, json: bool | None = None, stream: TextIO | None = None
) -> None:
    """Configure structlog for this process; call again to change level, format or output stream.

    ``level`` defaults to ``LOG_LEVEL`` (else INFO). ``json`` defaults to True in Lambda and whenever
    the stream is not a terminal, so piped and CI output stays machine-readable.
    """
    if level is None:
        level = os.environ.get("LOG_LEVEL", "INFO")
    if isinstance(level, str):
        name = level.strip().upper()
        if name not in logging.getLevelNamesMapping():
            raise ValueError(f"unknown log level {level!r} (LOG_LEVEL)")
        level = logging.getLevelNamesMapping()[name]
    is_tty = (stream if stream is not None else sys.stdout).isatty()
    if json is None:
        json = _in_lambda() or not is_tty

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: list[Any]
    if json:
        renderer = [
            structlog.processors.format_exc_info,
            # "message" is the key CloudWatch Logs Insights and Powertools' own logger use.
            structlog.processors.EventRenamer("message"),
            structlog.processors.JSONRenderer(default=str),
        ]
    else:
        renderer = [structlog.dev.ConsoleRenderer(colors=is_tty)]
    structlog.configure(
        processors=shared + renderer,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # With no stream given, sys.stdout is looked up per line rather than pinned now, so a
        # replaced stdout (pytest capture, Lambda runtime) is honoured.
        logger_factory=structlog.WriteLoggerFactory(file=stream),
        # Caching would pin the first configuration; tests and handlers reconfigure at runtime.
        cache_logger_on_first_use=False,
    )


def get_logger(name: str | None = None, **initial_values: Any) -> Any:
    """Return a structlog logger, configuring logging with the defaults on first use."""
    if not structlog.is_configured():
        configure_logging()
    if name is not None:
        # Not "logger": structlog.get_logger() takes that name for itself.
        initial_values.setdefault("logger_name", name)
    # A lazy proxy: it follows later configure_logging() calls instead of pinning today's settings.
    return structlog.get_logger(**initial_values)


def bind_correlation_id(value: str) -> str:
    """Bind ``value`` as the correlation id of every following log line in this context; return it."""
    if not value:
        raise ValueError("correlation id must be a non-empty string")
    bind_contextvars(**{CORRELATION_ID_KEY: value})
    return value


def new_correlation_id() -> str:
    """Generate a fresh correlation id, bind it like :func:`bind_correlation_id` and return it."""
    return bind_correlation_id(uuid.uuid4().hex)


def get_correlation_id() -> str | None:
    """Return the correlation id bound in this context, if any."""
    return get_contextvars().get(CORRELATION_ID_KEY)


def correlation_id_from_record(record: Any) -> str | None:
    """Read the correlation id attribute from an SQS record (Powertools ``SQSRecord`` or raw dict)."""
    if isinstance(record, Mapping):
        attributes = record.get("messageAttributes") or {}
    else:
        attributes = getattr(record, "raw_event", {}).get("messageAttributes") or {}
    attribute = attributes.get(CORRELATION_ID_ATTRIBUTE) or {}
    value = attribute.get("stringValue")
    return value or None


def correlation_message_attributes(correlation_id: str | None = None) -> dict[str, dict[str, str]]:
    """Build ``MessageAttributes`` for send_message(_batch) that carry the correlation id.

    Uses ``correlation_id`` if given, else the one bound in this context, else starts (and binds) a new
    one, so every message leaving a service can be followed downstream.
    """
    value = correlation_id or get_correlation_id() or new_correlation_id()
    return {CORRELATION_ID_ATTRIBUTE: {"DataType": "String", "StringValue": value}}


def inject_lambda_context[R](handler: Callable[[Any, Any], R]) -> Callable[[Any, Any], R]:
    """Decorate a Lambda handler so its log lines carry request id, function name and cold start.

    The log context is cleared before and after each invocation, because Lambda reuses the process
    and anything bound during one request would otherwise leak into the next.
    """

    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> R:
        global _cold_start
        cold_start, _cold_start = _cold_start, False
        clear_contextvars()
        bind_contextvars(
            request_id=getattr(context, "aws_request_id", None),
            function_name=getattr(context, "function_name", None),
            cold_start=cold_start,
        )
        try:
            return handler(event, context)
        finally:
            clear_contextvars()

    return wrapper
