"""The circuit breaker on the metrics table (moto): idempotent outcomes, window, reset, CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from moto import mock_aws

from ndjson_fakes import FakeClock
from ndjson_to_parquet import breaker as b
from pipelines_shared import aws
from pipelines_shared.log import configure_logging

TABLE = "ndjson-parquet-sqs-metrics-test"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        aws.reset_clients()
        b.create_table(TABLE)
        yield aws.client("dynamodb")
    aws.reset_clients()


def manifest_id(n: int) -> str:
    return f"batch-20260201-120000-{n:08x}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(dynamodb: Any, clock: FakeClock) -> b.CircuitBreaker:
    return b.CircuitBreaker(TABLE, failure_threshold=3, window_seconds=3600, clock=clock)


def test_opens_at_the_threshold_of_failures(breaker: b.CircuitBreaker, clock: FakeClock) -> None:
    assert breaker.is_open() is False
    for n in range(2):
        breaker.record(manifest_id(n), "failed")
        clock.advance(seconds=1)
    breaker.record(manifest_id(10), "completed")
    assert breaker.is_open() is False
    breaker.record(manifest_id(2), "failed")
    status = breaker.status()
    assert (status.open, status.failures, status.successes) == (True, 3, 1)


def test_an_outcome_counts_once_per_manifest_however_often_it_is_recorded(
    breaker: b.CircuitBreaker, clock: FakeClock
) -> None:
    assert breaker.record(manifest_id(1), "failed") is True
    for _ in range(5):
        clock.advance(seconds=30)  # a retried status update arrives later: another sort key
        assert breaker.record(manifest_id(1), "failed") is False
    assert breaker.status().failures == 1
    assert breaker.is_open() is False


def test_failures_age_out_of_the_window(breaker: b.CircuitBreaker, clock: FakeClock) -> None:
    for n in range(3):
        breaker.record(manifest_id(n), "failed")
    assert breaker.is_open() is True
    clock.advance(seconds=3601)
    assert breaker.is_open() is False


def test_reset_ignores_earlier_outcomes_but_counts_later_ones(
    breaker: b.CircuitBreaker, clock: FakeClock
) -> None:
    for n in range(3):
        breaker.record(manifest_id(n), "failed")
    clock.advance(seconds=1)
    breaker.reset()
    assert breaker.is_open() is False
    assert breaker.status().reset_at == b.iso(clock.now)
    clock.advance(seconds=1)
    for n in range(3, 6):
        breaker.record(manifest_id(n), "failed")
    assert breaker.is_open() is True


def test_items_are_the_documented_ones(breaker: b.CircuitBreaker, dynamodb: Any, clock: FakeClock) -> None:
    breaker.record(manifest_id(7), "completed")
    items = dynamodb.scan(TableName=TABLE)["Items"]
    keys = sorted(item["sk"]["S"] for item in items)
    assert keys == [f"{b.iso(clock.now)}#{manifest_id(7)}", f"OUTCOME#{manifest_id(7)}#completed"]
    assert keys[0] == "2026-02-01T12:00:00.000000+00:00#" + manifest_id(7)
    outcome = next(item for item in items if item["sk"]["S"] == keys[0])
    assert outcome["pk"] == {"S": "BREAKER"}
    assert outcome["outcome"] == {"S": "completed"}
    assert int(outcome["ttl"]["N"]) == int((clock.now + timedelta(days=30)).timestamp())


def test_bad_outcomes_are_refused(breaker: b.CircuitBreaker) -> None:
    with pytest.raises(ValueError, match="outcome"):
        breaker.record(manifest_id(1), "meh")
    with pytest.raises(ValueError, match="manifest id"):
        breaker.record("not-an-id", "failed")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    yield
    configure_logging()  # the CLI sends logs to the stderr of its time; give later tests the default


@pytest.mark.usefixtures("restore_logging")
def test_cli_status_and_reset(dynamodb: Any, capsys: pytest.CaptureFixture[str]) -> None:
    opened = b.CircuitBreaker(TABLE, failure_threshold=1, window_seconds=3600)
    opened.record(manifest_id(1), "failed")
    capsys.readouterr()
    assert b.main(["status", "--table", TABLE, "--threshold", "1", "--window", "3600"]) == 0
    assert json.loads(capsys.readouterr().out)["open"] is True
    assert b.main(["reset", "--table", TABLE, "--threshold", "1", "--window", "3600"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["open"] is False
    assert status["reset_at"] is not None
    assert opened.is_open() is False


def test_cli_takes_the_deployed_thresholds_from_the_environment_or_refuses(
    dynamodb: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI carries no default of its own: a guess would disagree with the deployed breaker."""
    for name in ("BREAKER_FAILURE_THRESHOLD", "BREAKER_WINDOW_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit):
        b.main(["status", "--table", TABLE])
    assert "BREAKER_FAILURE_THRESHOLD" in capsys.readouterr().err
    monkeypatch.setenv("BREAKER_FAILURE_THRESHOLD", "7")
    monkeypatch.setenv("BREAKER_WINDOW_SECONDS", "900")
    assert b.main(["status", "--table", TABLE]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["failure_threshold"], status["window_seconds"]) == (7, 900)
