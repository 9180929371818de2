"""The one retry policy, on tenacity: exponential backoff with full jitter, bounded in attempts and time.

Only transient errors are retried: :class:`TransientError` (raise it, or a subclass, from code that
knows a failure is temporary), botocore throttling / 5xx / connection errors, and socket-level
``ConnectionError``/``TimeoutError``. :class:`PermanentError` is never retried, and neither is anything
unclassified: retrying a bug only delays the DLQ.

If the error carries ``retry_after`` (seconds, e.g. from an HTTP 429/503 ``Retry-After`` header), the
wait before the next attempt is at least that, capped by ``max_retry_after``.
"""

from __future__ import annotations

import dataclasses
import functools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, overload

import tenacity
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from pipelines_shared.log import get_logger

logger = get_logger(__name__)

# Mirrors the codes botocore's "standard" retry mode treats as throttling or transient.
THROTTLING_ERROR_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "EC2ThrottledException",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
    }
)


class TransientError(Exception):
    """A failure that may succeed if tried again later (throttled, timed out, briefly unavailable)."""

    def __init__(self, message: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(Exception):
    """A failure that will fail the same way every time; never retried."""


def is_transient(exc: BaseException) -> bool:
    """Return True if ``exc`` is worth retrying under the shared policy."""
    if isinstance(exc, PermanentError):
        return False
    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return error.get("Code") in THROTTLING_ERROR_CODES or status == 429 or status >= 500
    return isinstance(exc, (BotocoreConnectionError, HTTPClientError, ConnectionError, TimeoutError))


def _retry_after(exc: BaseException | None) -> float | None:
    value = getattr(exc, "retry_after", None)
    if value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


@dataclass(frozen=True)
class RetryPolicy:
    """Parameters of the retry policy; the defaults suit calls made from inside a Lambda invocation."""

    max_attempts: int = 5
    initial_delay: float = 0.2
    """Upper bound of the first jittered wait; it doubles each attempt up to ``max_delay``."""
    max_delay: float = 10.0
    max_total_delay: float = 30.0
    """Give up rather than wait past this many seconds after the first attempt started."""
    max_retry_after: float = 60.0
    retry_on: Callable[[BaseException], bool] = is_transient
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    """Injected in tests, together with ``clock``, so that backoff costs no wall-clock time."""
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    jitter: Callable[[float, float], float] = field(default=random.uniform, repr=False)
    """Draws each wait between 0 and its ceiling; a test can make it pick an end."""

    def wait_seconds(self, attempt: int, exc: BaseException | None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based) that raised ``exc``."""
        ceiling = min(self.max_delay, self.initial_delay * 2 ** (attempt - 1))
        # Full jitter: spreads out workers that failed together, so they do not retry in lockstep.
        delay = self.jitter(0, ceiling)
        server_delay = _retry_after(exc)
        if server_delay is not None:
            delay = max(delay, min(server_delay, self.max_retry_after))
        return delay

    def retrying(self) -> tenacity.Retrying:
        """Return a tenacity ``Retrying`` that applies this policy (one per call: it holds the start time)."""
        started = self.clock()

        def stop(state: tenacity.RetryCallState) -> bool:
            if state.attempt_number >= self.max_attempts:
                return True
            # tenacity's own stop_before_delay reads time.monotonic, which a test's fake sleep never moves.
            return self.clock() - started + state.upcoming_sleep > self.max_total_delay

        return tenacity.Retrying(
            retry=tenacity.retry_if_exception(self.retry_on),
            wait=lambda state: self.wait_seconds(
                state.attempt_number, state.outcome.exception() if state.outcome else None
            ),
            stop=stop,
            sleep=self.sleep,
            before_sleep=_log_retry,
            reraise=True,
        )

    def call[**P, R](self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call ``fn(*args, **kwargs)``, retrying transient failures; re-raises the last error."""
        return self.retrying()(fn, *args, **kwargs)


DEFAULT_POLICY = RetryPolicy()


def _log_retry(state: tenacity.RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    logger.warning(
        "retrying after transient error",
        attempt=state.attempt_number,
        wait_seconds=round(state.upcoming_sleep, 3),
        error_type=type(exc).__name__,
        error=str(exc),
        function=getattr(state.fn, "__qualname__", None),
    )


def call_with_retry[**P, R](fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """Call ``fn`` under the default policy (use ``RetryPolicy(...).call`` for another one)."""
    return DEFAULT_POLICY.call(fn, *args, **kwargs)


@overload
def retry_transient[**P, R](fn: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def retry_transient[**P, R](
    fn: None = None, /, *, policy: RetryPolicy | None = None, **overrides: Any
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def retry_transient(
    fn: Callable[..., Any] | None = None, /, *, policy: RetryPolicy | None = None, **overrides: Any
) -> Any:
    """Make ``fn`` retry transient errors: ``@retry_transient`` or ``@retry_transient(max_attempts=3)``.

    ``overrides`` are :class:`RetryPolicy` fields applied on top of ``policy`` (default policy if None).
    """
    chosen = policy or DEFAULT_POLICY
    if overrides:
        chosen = dataclasses.replace(chosen, **overrides)

    def decorate[**P, R](func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            return chosen.call(func, *args, **kwargs)

        return wrapper

    if fn is not None:
        return decorate(fn)
    return decorate
