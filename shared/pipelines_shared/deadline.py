"""The invocation deadline: how long a handler may still start work before Lambda stops it.

One computation for every handler: the context's remaining time, less a safety margin, fixed as a
point on the monotonic clock when the invocation starts. Work loops ask :meth:`Deadline.passed`
before starting another unit of work; I/O clients (``pipelines_shared.sftp``) take :attr:`Deadline.at`
to bound their waits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


class LambdaContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


@dataclass(frozen=True)
class Deadline:
    """A moment on ``monotonic``'s clock; ``math.inf`` when there is no limit."""

    at: float
    monotonic: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)

    @classmethod
    def from_context(
        cls, context: object, margin_seconds: float, *, monotonic: Callable[[], float] = time.monotonic
    ) -> Deadline:
        """``margin_seconds`` before the invocation's end; no limit for a context without a timer
        (a local call or a test)."""
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        if remaining is None:
            return cls(math.inf, monotonic)
        return cls(monotonic() + remaining() / 1000.0 - margin_seconds, monotonic)

    @classmethod
    def never(cls) -> Deadline:
        return cls(math.inf)

    def remaining(self) -> float:
        """Seconds left before the deadline (negative once it passed)."""
        return self.at - self.monotonic()

    def passed(self) -> bool:
        return self.remaining() <= 0
