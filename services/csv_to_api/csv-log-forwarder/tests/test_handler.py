"""The function as Lambda runs it: settings from the environment, the HEC secret in Secrets Manager
(moto), the fake collector over HTTPS."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from csv_log_forwarder.forwarder import UndecodablePayload
from moto import mock_aws

from pipelines_shared import aws, settings
from pipelines_shared.http import AuthError
from pipelines_shared.settings import SettingsError


class Context:
    aws_request_id = "req-1"
    function_name = "lambda-pipelines-csv-log-forwarder-test"


@dataclass
class Function:
    invoke: Callable[[dict[str, Any]], dict[str, Any]]
    put_secret: Callable[[dict[str, Any]], None]


@pytest.fixture
def function(hec: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Function]:
    """The handler at a fresh cold start, its secret pointing at the fake collector (TLS against its CA)."""
    from csv_log_forwarder import handler as module

    with mock_aws():
        aws.reset_clients()
        settings.reset_secret_cache()
        secrets = boto3.client("secretsmanager", region_name="us-east-1")
        secret = {"url": hec.url, "token": hec.token, "index": "pipelines", "ca_cert": hec.ca_pem}
        arn = secrets.create_secret(Name="csv-to-api/splunk-hec", SecretString=json.dumps(secret))["ARN"]
        monkeypatch.setenv("HEC_SECRET_ARN", arn)
        monkeypatch.setenv("SOURCETYPE", "aws:lambda")
        monkeypatch.setenv("MAX_BATCH_BYTES", str(16 * 1024))
        monkeypatch.setenv("LOG_LEVEL", "INFO")
        module.dependencies.cache_clear()

        def put_secret(changes: dict[str, Any]) -> None:
            secrets.put_secret_value(SecretId=arn, SecretString=json.dumps({**secret, **changes}))

        yield Function(lambda event: module.lambda_handler(event, Context()), put_secret)
        if module.dependencies.cache_info().currsize:
            module.dependencies().hec.close()
        module.dependencies.cache_clear()
    aws.reset_clients()
    settings.reset_secret_cache()


def test_a_delivery_reaches_hec_whole_with_the_index_from_the_secret(
    function, hec, subscription_event, capsys
):
    messages = [
        json.dumps({"level": "info", "message": "row sent", "row": i, "pad": "x" * 200}) for i in range(300)
    ]

    summary = function.invoke(subscription_event(messages))

    received = hec.events()
    assert [event["event"]["row"] for event in received] == list(range(300))
    assert {(event["index"], event["sourcetype"]) for event in received} == {("pipelines", "aws:lambda")}
    assert summary["events"] == 300
    assert summary["batches"] == hec.stats()["batches"] > 1  # 16 KiB bodies
    assert hec.token not in capsys.readouterr().out


def test_a_control_message_is_acknowledged_without_reading_the_secret_or_calling_hec(
    function, hec, subscription_event, monkeypatch
):
    monkeypatch.setenv("HEC_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing")
    control = subscription_event(
        ["CWL CONTROL MESSAGE: Checking health of destination Lambda function."],
        messageType="CONTROL_MESSAGE",
    )
    assert function.invoke(control) == {"message_type": "CONTROL_MESSAGE"}
    assert hec.stats()["requests"] == 0


def test_an_undecodable_event_raises_before_anything_is_sent(function, hec):
    with pytest.raises(UndecodablePayload, match="not gzip"):
        function.invoke({"awslogs": {"data": "bm90IGd6aXA="}})
    assert hec.stats()["requests"] == 0


def test_a_rotated_token_is_used_at_the_first_refusal_though_the_old_one_is_cached(
    function, hec, subscription_event
):
    function.put_secret({"token": "the-old-token"})
    with pytest.raises(AuthError):
        function.invoke(subscription_event(["before the rotation"]))  # caches the old token
    function.put_secret({"token": hec.token})  # rotated: the cache still holds the old one for minutes

    function.invoke(subscription_event(["after the rotation"]))

    assert [event["event"] for event in hec.events()] == ["after the rotation"]


def test_a_batch_limit_too_small_for_one_event_fails_at_cold_start(function, subscription_event, monkeypatch):
    monkeypatch.setenv("MAX_BATCH_BYTES", "1000")
    with pytest.raises(SettingsError, match="MAX_BATCH_BYTES=1000"):
        function.invoke(subscription_event(["hello"]))
