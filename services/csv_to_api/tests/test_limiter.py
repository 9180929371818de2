"""The shared limiter never hands out more than R send times in any one-second window, whoever asks."""

from __future__ import annotations

import random
import threading
import time

import boto3
import pytest
from csv_to_api.limiter import DynamoDbSlotCounter, MemorySlotCounter, RateLimiter
from moto import mock_aws

from fake_records_api import busiest_second


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += max(0.0, seconds)


def test_times_from_many_limiters_on_one_counter_stay_within_the_rate() -> None:
    counter = MemorySlotCounter()
    clock = Clock(1000.37)
    limiters = [RateLimiter(counter, 100, utilization=1.0, clock=clock) for _ in range(5)]
    times: list[float] = []
    for step in range(400):
        clock.now += 0.013
        times.extend(limiters[step % 5].take(3))
    assert len(times) == len(set(times))
    assert min(times) >= 1000.37
    assert busiest_second(times, tolerance=1e-9) <= 100


def test_a_caller_arriving_mid_second_gets_no_time_in_the_past() -> None:
    counter = MemorySlotCounter()
    clock = Clock(50.5)
    times = RateLimiter(counter, 10, utilization=1.0, clock=clock).take(10)
    assert times[0] >= 50.5
    assert len(times) == 5  # the rest of second 50; the next take moves on to 51


def test_utilization_leaves_headroom_and_wait_turn_sleeps_until_due() -> None:
    clock = Clock(10.0)
    limiter = RateLimiter(MemorySlotCounter(), 200, clock=clock, sleep=clock.sleep)
    assert limiter.per_second == 192
    sent = []
    for _ in range(600):
        limiter.wait_turn(batch=8)
        sent.append(clock.now)
    assert busiest_second(sent, tolerance=1e-9) <= 192
    assert sent[-1] - sent[0] == pytest.approx(599 / 192, abs=0.02)


def sends_with_late_sleeps(tolerance: float) -> list[float]:
    """One sender whose every sleep overruns by 0..30 ms (a busy process)."""
    rng = random.Random(4)
    clock = Clock(10.0)

    def late_sleep(seconds: float) -> None:
        clock.sleep(seconds + rng.uniform(0, 0.03))

    limiter = RateLimiter(MemorySlotCounter(), 200, clock=clock, sleep=late_sleep, late_tolerance=tolerance)
    sent = []
    for _ in range(2000):
        limiter.wait_turn(batch=8)
        sent.append(clock.now)
    return sent


@pytest.mark.parametrize("tolerance", [0.003, 0.02, 0.05])
def test_late_times_beyond_the_tolerance_are_dropped_so_the_window_bound_holds(tolerance: float) -> None:
    sent = sends_with_late_sleeps(tolerance)
    assert busiest_second(sent) <= int(192 * (1 + tolerance)) + 1


def test_a_tolerance_of_20_ms_wastes_far_fewer_times_than_3_ms() -> None:
    def rate(sent: list[float]) -> float:
        return len(sent) / (sent[-1] - sent[0])

    assert rate(sends_with_late_sleeps(0.02)) > 4 * rate(sends_with_late_sleeps(0.003))


def test_the_dynamodb_counter_hands_each_index_out_once() -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="limiter",
            KeySchema=[{"AttributeName": "slot", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "slot", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        counter = DynamoDbSlotCounter(client, "limiter", "api")
        assert counter.claim(7, 3, 0) == 3
        assert counter.claim(7, 2, 0) == 5
        assert counter.claim(7, 2, 10) == 12  # moved up to the floor first
        assert counter.claim(7, 1, 4) == 13  # already past the floor: just added
        clock = Clock(7.95)
        limiter = RateLimiter(counter, 20, utilization=1.0, clock=clock)
        assert limiter.take(5) == [pytest.approx(7.95)]  # index 19, the last of second 7
        assert limiter.take(5) == pytest.approx([8.0, 8.05, 8.1, 8.15, 8.2])


def test_a_slow_claim_holds_up_no_thread_whose_time_has_come() -> None:
    """Without it, threads that passed their time check queued behind a claim's slow ``UpdateItem`` and
    then all sent at once (16 requests in 10 ms, 260 in one second at a target of 240)."""
    claiming, release = threading.Event(), threading.Event()

    class SlowCounter(MemorySlotCounter):
        def claim(self, second: int, count: int, floor: int) -> int:
            if self.calls:  # the second claim: slow, like an UpdateItem on a busy table
                claiming.set()
                assert release.wait(10)
            return super().claim(second, count, floor)

    clock = Clock(100.0)

    def sleep(seconds: float) -> None:
        assert claiming.wait(10)  # sleeping through the other thread's claim
        clock.sleep(seconds)

    limiter = RateLimiter(SlowCounter(), 10, utilization=1.0, clock=clock, sleep=sleep)
    assert limiter.wait_turn(batch=2) == 0  # 100.0 at once; 100.1 stays pending
    returned: list[float] = []
    due_later = threading.Thread(target=lambda: returned.append(limiter.wait_turn(batch=2)))
    due_later.start()  # takes 100.1 and sleeps until it
    while limiter._pending:
        time.sleep(0.001)
    claimer = threading.Thread(target=lambda: limiter.wait_turn(batch=2))
    claimer.start()  # nothing pending: claims, and the claim hangs
    due_later.join(5)
    try:
        assert not due_later.is_alive(), "a thread whose time had come waited for another thread's claim"
        assert returned == [pytest.approx(0.1)]
    finally:
        release.set()
        claimer.join(5)
    assert not claimer.is_alive()
