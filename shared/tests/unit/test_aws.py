"""aws.client: one cached client per service, one botocore Config, endpoints from AWS_ENDPOINT_URL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipelines_shared import aws


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    aws.reset_clients()
    yield
    aws.reset_clients()


def test_client_is_created_once_per_service_and_region() -> None:
    sqs = aws.client("sqs")
    assert aws.client("sqs") is sqs
    assert aws.client("dynamodb") is not sqs
    assert aws.client("sqs", region_name="eu-west-1") is not sqs
    assert aws.client("sqs", region_name="eu-west-1").meta.region_name == "eu-west-1"


def test_reset_clients_makes_new_clients_that_see_new_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    before = aws.client("sqs")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    assert aws.client("sqs") is before  # cached: env changes need a reset

    aws.reset_clients()
    assert aws.client("sqs").meta.endpoint_url == "http://127.0.0.1:4566"


def test_clients_use_standard_retries_and_explicit_timeouts() -> None:
    config = aws.client("s3").meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": aws.DEFAULT_MAX_ATTEMPTS}
    assert config.connect_timeout == aws.DEFAULT_CONNECT_TIMEOUT
    assert config.read_timeout == aws.DEFAULT_READ_TIMEOUT


def test_timeouts_and_attempts_are_tunable_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CLIENT_CONNECT_TIMEOUT", "1.5")
    monkeypatch.setenv("AWS_CLIENT_READ_TIMEOUT", "4")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "7")
    config = aws.client("s3").meta.config
    assert (config.connect_timeout, config.read_timeout) == (1.5, 4.0)
    assert config.retries["total_max_attempts"] == 7


@pytest.mark.parametrize("value", ["soon", "0", "-3"])
def test_invalid_tuning_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("AWS_CLIENT_READ_TIMEOUT", value)
    with pytest.raises(ValueError, match="AWS_CLIENT_READ_TIMEOUT"):
        aws.client_config()
