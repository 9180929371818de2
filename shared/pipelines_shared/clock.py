"""The one clock type every store and service takes, so time is injected, never read behind a test's back.

Production code calls :func:`utc_now` (the default of every ``clock=`` parameter); tests pass a
:class:`ManualClock` to the service *and* to its stores, so "an hour later" is exact and no outcome
depends on the day the suite runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]
"""Returns the current moment as an aware UTC datetime."""


def utc_now() -> datetime:
    """The real clock: an aware UTC datetime."""
    return datetime.now(UTC)


class ManualClock:
    """A clock that stands still until moved: ``clock.advance(minutes=5)``. Thread-safe."""

    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = now
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    @property
    def now(self) -> datetime:
        return self()

    def advance(self, **delta: float) -> datetime:
        """Move forward (or back, with negative values) by ``timedelta(**delta)``; the new moment."""
        with self._lock:
            self._now += timedelta(**delta)
            return self._now

    def set(self, now: datetime) -> None:
        with self._lock:
            self._now = now
