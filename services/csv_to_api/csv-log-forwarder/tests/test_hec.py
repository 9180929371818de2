"""The HEC client against real HTTPS servers (the fake collector): what arrives, retries, refusals, TLS."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from csv_log_forwarder.forwarder import HecOptions, decode_subscription_event, forward, hec_event
from csv_log_forwarder.hec import EVENT_PATH, HecClient, HecConfig

from fake_http import FakeApi, Request
from fake_http.tls import make_certificates
from pipelines_shared.http import AuthError, HttpError
from pipelines_shared.retry import PermanentError, RetryPolicy, is_transient
from pipelines_shared.settings import SettingsError

NO_WAIT = RetryPolicy(sleep=lambda seconds: None)
ONE_EVENT = b'{"event": "hello"}'


def client_for(hec: Any, *, token: str | None = None, **options: Any) -> HecClient:
    options.setdefault("retry_policy", NO_WAIT)
    return HecClient(HecConfig(url=hec.url, token=token or hec.token, ca_cert=hec.ca_pem), **options)


def json_lines(count: int) -> list[str]:
    return [
        json.dumps({"level": "info", "message": "row sent", "row": i, "file": "in/ü.csv"})
        for i in range(count)
    ]


def test_events_arrive_intact_and_in_order_over_one_kept_alive_connection(hec, subscription_event):
    messages = [*json_lines(150), "START RequestId: 8f5e Version: $LATEST\n", 'Zoë ✓ "quoted"\ttab\\']
    batch = decode_subscription_event(subscription_event(messages))
    options = HecOptions("aws:lambda", "pipelines", 8 * 1024)
    client = client_for(hec)

    result = forward(batch, client, options)

    assert hec.events() == [hec_event(batch, event, options) for event in batch.events]
    assert result.batches == hec.stats()["batches"] > 1
    # Every body went over the same connection (the pool is private; this is what keep-alive buys).
    assert client._pool.connection_from_url(client.url).num_connections == 1


def test_injected_503s_are_retried_and_nothing_is_lost_or_doubled(hec, subscription_event, capsys):
    hec.set_faults(rate_503=1.0, max_faults_per_batch=2)
    batch = decode_subscription_event(subscription_event(json_lines(60)))
    options = HecOptions("aws:lambda", None, 4 * 1024)
    waits: list[float] = []

    result = forward(batch, client_for(hec, retry_policy=RetryPolicy(sleep=waits.append)), options)

    assert hec.events() == [hec_event(batch, event, options) for event in batch.events]
    assert hec.stats()["faults"] == {"503": 2 * result.batches}
    assert len(waits) == 2 * result.batches
    logged = capsys.readouterr().out
    assert "retrying after transient error" in logged
    assert hec.token not in logged


def test_an_answer_slower_than_the_read_timeout_is_retried_and_may_arrive_twice(hec, subscription_event):
    hec.set_faults(slow_rate=1.0, slow_seconds=1.0, max_faults_per_batch=1)
    batch = decode_subscription_event(subscription_event(json_lines(5)))
    options = HecOptions("aws:lambda", None, 64 * 1024)

    forward(batch, client_for(hec, read_timeout=0.3), options)

    expected = [hec_event(batch, event, options) for event in batch.events]
    deadline = time.monotonic() + 5
    while hec.stats()["batches"] < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    # The slow attempt was stored as well, after the client had given up on it: delivery is at least
    # once, and the CloudWatch event id is what tells the copies apart.
    assert hec.events() == expected + expected
    assert len({event["fields"]["event_id"] for event in hec.events()}) == len(expected)


def test_a_wrong_token_is_refused_at_once_and_never_retried(hec):
    wrong = "wrong-token-5a6b7c"
    with pytest.raises(AuthError, match="HTTP 401") as raised:
        client_for(hec, token=wrong).send(ONE_EVENT)
    assert not is_transient(raised.value)
    assert wrong not in str(raised.value)
    assert hec.stats()["requests"] == 1
    assert hec.events() == []


def test_a_body_hec_refuses_is_a_permanent_error(hec):
    with pytest.raises(HttpError, match=r"HTTP 400.*Event field is required") as raised:
        client_for(hec).send(b'{"time": 1795435200.123}')
    assert not is_transient(raised.value)
    assert hec.stats()["requests"] == 1


def test_a_server_not_signed_by_the_configured_ca_fails_verification_and_gets_nothing(hec, cert_dirs):
    other_ca = make_certificates(cert_dirs[1]).ca_pem
    client = HecClient(HecConfig(url=hec.url, token=hec.token, ca_cert=other_ca), retry_policy=NO_WAIT)
    with pytest.raises(PermanentError, match="certificate verification failed"):
        client.send(ONE_EVENT)
    assert hec.stats()["requests"] == 0


def test_without_a_ca_cert_the_system_trust_store_decides_and_a_private_ca_is_not_in_it(hec):
    client = HecClient(HecConfig(url=hec.url, token=hec.token), retry_policy=NO_WAIT)
    with pytest.raises(PermanentError, match="certificate verification failed"):
        client.send(ONE_EVENT)
    assert hec.stats()["requests"] == 0


class ThrottlingCollector(FakeApi):
    """Answers the first POST 429 with a ``Retry-After``, then accepts."""

    def __init__(self, cert_dir: Any, retry_after: str) -> None:
        self.certificates = make_certificates(cert_dir)
        self.retry_after = retry_after
        self.posts = 0
        super().__init__(ssl_context=self.certificates.server_context())

    def routes(self) -> dict[tuple[str, str], Any]:
        return {("POST", EVENT_PATH): self._post}

    def _post(self, request: Request) -> None:
        self.posts += 1
        if self.posts == 1:
            request.send_json(429, {"text": "Too many requests"}, headers={"Retry-After": self.retry_after})
        else:
            request.send_json(200, {"text": "Success", "code": 0})


def test_retry_after_sets_the_wait_before_the_next_attempt(cert_dirs):
    waits: list[float] = []
    with ThrottlingCollector(cert_dirs[1], retry_after="1.5") as server:
        config = HecConfig(url=server.url, token=server.token, ca_cert=server.certificates.ca_pem)
        HecClient(config, retry_policy=RetryPolicy(sleep=waits.append)).send(ONE_EVENT)
    assert server.posts == 2
    assert waits == [1.5]


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ({"url": "http://splunk.example.com:8088", "token": "t0k3n-value"}, "url must be an https:// URL"),
        ({"url": "https://", "token": "t0k3n-value"}, "url must be an https:// URL"),
        ({"url": "https://splunk.example.com:8088", "token": ""}, "token must be a non-empty string"),
        ({"url": "https://splunk.example.com:8088", "token": "t0k3n-value", "index": 7}, "index must be"),
        (
            {"url": "https://splunk.example.com:8088", "token": "t0k3n-value", "ca_cert": "not a PEM"},
            "ca_cert must hold PEM certificates",
        ),
        (["t0k3n-value"], "not a JSON object"),
    ],
)
def test_a_secret_that_cannot_work_is_refused_without_echoing_it(secret, problem):
    with pytest.raises(SettingsError, match=problem) as raised:
        HecConfig.from_secret(secret, secret_id="csv-to-api/splunk-hec")
    assert "t0k3n-value" not in str(raised.value)


def test_the_token_and_ca_stay_out_of_the_config_repr(hec):
    config = HecConfig.from_secret(
        {"url": hec.url, "token": hec.token, "ca_cert": hec.ca_pem, "index": ""}, secret_id="hec"
    )
    assert config.index is None
    assert config.url in repr(config)
    assert hec.token not in repr(config)
    assert "BEGIN CERTIFICATE" not in repr(config)
