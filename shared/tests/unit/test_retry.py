"""The retry policy: what it retries, how long it waits, when it gives up. Sleep and clock are fakes."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from pipelines_shared.retry import (
    PermanentError,
    RetryPolicy,
    TransientError,
    is_transient,
    retry_transient,
)


class FakeTime:
    """A clock that only moves when the policy sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def upper_bound(low: float, high: float) -> float:
    return high


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def policy(fake_time: FakeTime) -> RetryPolicy:
    return RetryPolicy(sleep=fake_time.sleep, clock=fake_time.clock, jitter=upper_bound)


class Flaky:
    """Fails with the given errors in turn, then returns "ok"."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutItem")


def test_transient_errors_are_retried_until_success(policy: RetryPolicy, fake_time: FakeTime) -> None:
    flaky = Flaky(TransientError("busy"), TransientError("busy"))
    assert policy.call(flaky) == "ok"
    assert flaky.calls == 3
    assert fake_time.sleeps == [0.2, 0.4]  # exponential; the fake jitter picks the top of each range


@pytest.mark.parametrize("error", [PermanentError("bad input"), ValueError("a bug"), KeyError("x")])
def test_permanent_and_unclassified_errors_are_not_retried(policy: RetryPolicy, error: Exception) -> None:
    flaky = Flaky(error)
    with pytest.raises(type(error)):
        policy.call(flaky)
    assert flaky.calls == 1


def test_gives_up_after_max_attempts_with_the_last_error(fake_time: FakeTime) -> None:
    policy = RetryPolicy(max_attempts=3, sleep=fake_time.sleep, clock=fake_time.clock)
    flaky = Flaky(*(TransientError(f"attempt {i}") for i in range(1, 10)))
    with pytest.raises(TransientError, match="attempt 3"):
        policy.call(flaky)
    assert flaky.calls == 3
    assert len(fake_time.sleeps) == 2


def test_waits_at_least_the_server_given_retry_after(policy: RetryPolicy, fake_time: FakeTime) -> None:
    flaky = Flaky(TransientError("429", retry_after=7), TransientError("503", retry_after="2.5"))
    assert policy.call(flaky) == "ok"
    assert fake_time.sleeps == [7.0, 2.5]


def test_retry_after_is_capped(fake_time: FakeTime) -> None:
    policy = RetryPolicy(max_retry_after=5, sleep=fake_time.sleep, clock=fake_time.clock)
    assert policy.call(Flaky(TransientError("come back tomorrow", retry_after=86_400))) == "ok"
    assert fake_time.sleeps == [5]


def test_stops_before_waiting_past_the_total_delay(fake_time: FakeTime) -> None:
    policy = RetryPolicy(max_attempts=10, max_total_delay=25, sleep=fake_time.sleep, clock=fake_time.clock)
    flaky = Flaky(*(TransientError("slow down", retry_after=10) for _ in range(10)))
    with pytest.raises(TransientError):
        policy.call(flaky)
    # Waiting a third time would end 30 s after the start, past the 25 s budget.
    assert fake_time.sleeps == [10, 10]
    assert flaky.calls == 3


def test_backoff_doubles_up_to_max_delay_with_full_jitter() -> None:
    policy = RetryPolicy(initial_delay=1, max_delay=5, jitter=upper_bound)
    assert [policy.wait_seconds(attempt, None) for attempt in range(1, 6)] == [1, 2, 4, 5, 5]
    lowest = RetryPolicy(initial_delay=1, max_delay=5, jitter=lambda low, high: low)
    assert lowest.wait_seconds(4, None) == 0  # full jitter: anywhere from zero to the ceiling


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (client_error("ThrottlingException", 400), True),
        (client_error("ProvisionedThroughputExceededException", 400), True),
        (client_error("InternalServerError", 500), True),
        (client_error("ServiceUnavailable", 503), True),
        (client_error("TooManyRequests", 429), True),
        (client_error("ConditionalCheckFailedException", 400), False),
        (client_error("AccessDeniedException", 403), False),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), True),
        (ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), True),
        (ConnectionResetError(), True),
        (TimeoutError(), True),
        (TransientError(), True),
        (PermanentError(), False),
        (RuntimeError(), False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_error_classification(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


def test_permanent_wins_over_transient_in_a_mixed_hierarchy() -> None:
    class BadRequestButAlsoTimeout(PermanentError, TimeoutError):
        pass

    assert is_transient(BadRequestButAlsoTimeout()) is False


def test_decorator_retries_and_keeps_the_function_name(fake_time: FakeTime) -> None:
    calls = []

    @retry_transient(max_attempts=2, sleep=fake_time.sleep, clock=fake_time.clock)
    def fetch_page(page: int) -> int:
        calls.append(page)
        if len(calls) == 1:
            raise TransientError("reset")
        return page * 10

    assert fetch_page(4) == 40
    assert calls == [4, 4]
    assert fetch_page.__name__ == "fetch_page"


def test_bare_decorator_uses_the_default_policy() -> None:
    @retry_transient
    def ok() -> str:
        return "done"

    assert ok() == "done"
    with pytest.raises(TypeError):
        retry_transient(no_such_setting=1)
