"""One request rate for every caller at once: send times handed out from a shared DynamoDB counter.

Each second ``s`` has ``per_second`` send times, ``s + i / per_second`` for ``i`` in ``0..per_second-1``:
points of one lattice spaced ``1 / per_second`` apart, so any one-second window holds at most
``per_second`` of them. A counter item per second (``<limiter>#<s>``) hands each out once: a caller takes
``k`` at a time with one atomic ``ADD`` (ReturnValues UPDATED_NEW), sleeps until each and sends. Times
already past are never handed out: a caller first moves the counter up to "now" with a conditional
``SET`` (a caller arriving mid-second does not get the start of the second, which would let it burst).

``per_second`` is the API's limit R times ``utilization`` (0.96 by default): the margin absorbs the
jitter between the time a request is due and the time it reaches the API. A time is used up to
``late_tolerance`` (20 ms) after it is due, else dropped, so the requests sent in any one-second window
hold at most ``per_second * (1 + late_tolerance) + 1`` (at R = 200: 192 x 1.02 + 1 = 196). A 429 that
still comes back is honoured by the caller (``Retry-After``) and the row takes a new time.

Cost: one or two ``UpdateItem`` per ``take`` (a caller takes as many times as it has free workers).
One item per second takes every write, so R stays well under DynamoDB's 1,000 writes/s per partition.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import ClientError


class SlotCounter(Protocol):
    """The shared counters: ``claim`` atomically hands out up to ``count`` indices of second ``second``,
    starting no lower than ``floor``, and returns the counter's new value (the first index handed out is
    ``new - count``, which may be past the second's capacity)."""

    def claim(self, second: int, count: int, floor: int) -> int: ...


@dataclass
class DynamoDbSlotCounter:
    client: Any
    table_name: str
    limiter: str
    ttl_seconds: int = 3600

    def claim(self, second: int, count: int, floor: int) -> int:
        key = {"slot": {"S": f"{self.limiter}#{second}"}}
        expires = {":ttl": {"N": str(second + self.ttl_seconds)}}
        if floor > 0:
            try:
                response = self.client.update_item(
                    TableName=self.table_name,
                    Key=key,
                    UpdateExpression="SET n = :top, expires_at = :ttl",
                    ConditionExpression="attribute_not_exists(n) OR n < :floor",
                    ExpressionAttributeValues={":top": {"N": str(floor + count)}, ":floor": {"N": str(floor)}}
                    | expires,
                    ReturnValues="UPDATED_NEW",
                )
                return int(response["Attributes"]["n"]["N"])
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
        response = self.client.update_item(
            TableName=self.table_name,
            Key=key,
            UpdateExpression="ADD n :count SET expires_at = :ttl",
            ExpressionAttributeValues={":count": {"N": str(count)}} | expires,
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["n"]["N"])


class MemorySlotCounter:
    """The same counters in memory (tests, and one process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counters: dict[int, int] = {}
        self.calls = 0

    def claim(self, second: int, count: int, floor: int) -> int:
        with self._lock:
            self.calls += 1
            value = self.counters.get(second, 0)
            value = max(value, floor) + count
            self.counters[second] = value
            return value


class RateLimiter:
    """Hands out send times at most ``per_second`` per second, shared by every holder of the counter."""

    def __init__(
        self,
        counter: SlotCounter,
        rate: float,
        *,
        utilization: float = 0.96,
        late_tolerance: float = 0.02,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive (use no limiter for an unlimited API)")
        self.per_second = max(1, math.floor(rate * utilization))
        self.late_tolerance = late_tolerance
        self._counter = counter
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        """Guards ``_pending``; held for list operations only, never across a call to the counter."""
        self._claim_lock = threading.Lock()
        """One thread of this process claims at a time; the others wait for its times."""
        self._pending: list[float] = []
        self._first_open_second = 0

    def take(self, count: int) -> list[float]:
        """At least one and at most ``count`` send times (epoch seconds), in order, none in the past."""
        spacing = 1.0 / self.per_second
        now = self._clock()
        second = max(math.floor(now), self._first_open_second)
        while True:
            floor = 0
            if second == math.floor(now):
                floor = min(self.per_second, math.ceil((now - second) / spacing - 1e-9))
            if floor < self.per_second:
                top = self._counter.claim(second, count, floor)
                first = max(top - count, floor)
                indices = range(first, min(top, self.per_second))
                if indices:
                    self._first_open_second = second if top < self.per_second else second + 1
                    return [second + index * spacing for index in indices]
            second += 1
            self._first_open_second = second

    def wait_turn(self, batch: int = 1) -> float:
        """Block until this caller's next send time; thread-safe. Returns the time waited.

        A time that has gone by more than ``late_tolerance`` when it is used (the holder was busy, or its
        sleep overran) is dropped and another taken: sent later, it would crowd the second after it.
        Nothing that can block comes after that check (no lock, no counter call): a thread whose time has
        come returns at once, even while another thread of this process waits for the counter. (When the
        time check was followed by a lock that a claim held across a slow ``UpdateItem``, every thread
        that had passed it sent at once when the claim returned: 16 requests in 10 ms.)
        """
        waited = 0.0
        while True:
            due = self._next(batch)
            delay = due - self._clock()
            if delay > 0:
                self._sleep(delay)
                waited += delay
                delay = due - self._clock()
            if delay >= -self.late_tolerance:
                return waited

    def _next(self, batch: int) -> float:
        """The earliest send time not yet used: from this process's pending times, else a new claim."""
        with self._lock:
            if self._pending:
                return self._pending.pop(0)
        with self._claim_lock:
            with self._lock:
                if self._pending:  # another thread claimed while this one waited for the claim lock
                    return self._pending.pop(0)
            times = self.take(batch)  # the counter call, with no lock that a sending thread needs
            with self._lock:
                self._pending = times[1:]
            return times[0]
