"""The fake Splunk HEC answers as Splunk does, over HTTPS a client can verify, with repeatable faults.

Spoken to over raw HTTPS (urllib3, no retries), trusting only the fake's own CA.
"""

from __future__ import annotations

import gzip
import json
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from fake_splunk_hec import FakeSplunkHec, InvalidBatch, parse_batch

TOOLS = Path(__file__).resolve().parents[2] / "tools"
EVENT_PATH = "/services/collector/event"
TOKEN = "hec-token"


@pytest.fixture(scope="module")
def cert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hec-certs")


@pytest.fixture
def hec(cert_dir: Path) -> Iterator[FakeSplunkHec]:
    with FakeSplunkHec(cert_dir=cert_dir, token=TOKEN) as server:
        yield server


def client(hec: FakeSplunkHec, **kwargs: Any) -> urllib3.PoolManager:
    timeout = kwargs.pop("timeout", urllib3.Timeout(connect=2, read=10))
    return urllib3.PoolManager(retries=False, timeout=timeout, ca_cert_data=hec.ca_pem, **kwargs)


def send(
    hec: FakeSplunkHec,
    body: bytes,
    *,
    token: str | None = TOKEN,
    path: str = EVENT_PATH,
    **headers: str,
) -> urllib3.BaseHTTPResponse:
    if token is not None:
        headers["Authorization"] = f"Splunk {token}"
    return client(hec).request("POST", hec.url + path, body=body, headers=headers)


def batch(*events: dict[str, Any], separator: bytes = b"\n") -> bytes:
    return separator.join(json.dumps(event).encode() for event in events)


# --- TLS ---


def test_https_verifies_against_the_fakes_ca_for_127_0_0_1_and_localhost(hec: FakeSplunkHec) -> None:
    assert hec.url.startswith("https://127.0.0.1:")
    health = client(hec).request("GET", f"{hec.url}/services/collector/health")
    assert health.json() == {"text": "HEC is healthy", "code": 17}
    by_name = client(hec).request("GET", f"https://localhost:{hec.port}/services/collector/health")
    assert by_name.status == 200
    assert hec.ca_file.read_text() == hec.ca_pem


def test_a_client_that_does_not_trust_the_ca_is_refused_and_the_server_carries_on(
    hec: FakeSplunkHec,
) -> None:
    strangers = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=5))
    with pytest.raises(urllib3.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        strangers.request("POST", hec.url + EVENT_PATH, body=b'{"event": "x"}')
    assert send(hec, b'{"event": "x"}').status == 200
    assert hec.events() == [{"event": "x"}]


def test_plain_http_gets_no_answer(hec: FakeSplunkHec) -> None:
    plain = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=5))
    with pytest.raises(urllib3.exceptions.HTTPError):
        plain.request("GET", hec.url.replace("https", "http") + "/services/collector/health")


def test_certificates_in_a_directory_are_reused(cert_dir: Path) -> None:
    with FakeSplunkHec(cert_dir=cert_dir) as one, FakeSplunkHec(cert_dir=cert_dir) as two:
        assert one.ca_pem == two.ca_pem
        assert client(one).request("GET", f"{two.url}/services/collector/health").status == 200
    assert (cert_dir / "server-key.pem").stat().st_mode & 0o077 == 0


def test_another_fakes_ca_is_not_trusted(hec: FakeSplunkHec, tmp_path: Path) -> None:
    with FakeSplunkHec(cert_dir=tmp_path) as other:
        assert other.ca_pem != hec.ca_pem
        with pytest.raises(urllib3.exceptions.SSLError):
            client(other).request("GET", f"{hec.url}/services/collector/health")


# --- auth ---


def test_without_a_token_is_401_token_required(hec: FakeSplunkHec) -> None:
    response = send(hec, b'{"event": "x"}', token=None)
    assert (response.status, response.json()) == (401, {"text": "Token is required", "code": 2})


@pytest.mark.parametrize("authorization", ["Splunk wrong", "Bearer hec-token", "Splunk", "hec-token"])
def test_a_wrong_token_is_401_invalid_token(hec: FakeSplunkHec, authorization: str) -> None:
    response = client(hec).request(
        "POST", hec.url + EVENT_PATH, body=b'{"event": "x"}', headers={"Authorization": authorization}
    )
    assert (response.status, response.json()) == (401, {"text": "Invalid token", "code": 4})
    assert hec.events() == []


def test_the_scheme_is_case_insensitive(hec: FakeSplunkHec) -> None:
    response = client(hec).request(
        "POST", hec.url + EVENT_PATH, body=b'{"event": "x"}', headers={"Authorization": "splunk hec-token"}
    )
    assert response.status == 200


# --- batches ---


@pytest.mark.parametrize("separator", [b"", b"\n", b"\r\n", b"  \n\t"])
def test_a_batch_of_concatenated_events_is_stored_in_order(hec: FakeSplunkHec, separator: bytes) -> None:
    events = [
        {"event": "first"},
        {"event": {"msg": "second", "n": 2}, "time": 1700000000.25, "host": "h1", "sourcetype": "_json"},
        {"event": "third", "time": "1700000001", "source": "s", "index": "main", "fields": {"k": "v"}},
    ]
    response = send(hec, batch(*events, separator=separator) + separator)
    assert (response.status, response.json()) == (200, {"text": "Success", "code": 0})
    assert hec.events() == events
    assert send(hec, batch({"event": "fourth"})).status == 200
    listed = client(hec).request("GET", f"{hec.url}/_events").json()
    assert listed == {"events": [*events, {"event": "fourth"}], "next": 4}
    assert client(hec).request("GET", f"{hec.url}/_events?since=3").json()["events"] == [{"event": "fourth"}]


@pytest.mark.parametrize("path", ["/services/collector", "/services/collector/event/1.0"])
def test_the_other_collector_paths_take_events_too(hec: FakeSplunkHec, path: str) -> None:
    assert send(hec, b'{"event": "x"}', path=path).status == 200
    assert hec.events() == [{"event": "x"}]


def test_a_gzipped_batch_is_read(hec: FakeSplunkHec) -> None:
    body = gzip.compress(batch({"event": "a"}, {"event": "b"}))
    assert send(hec, body, **{"Content-Encoding": "gzip"}).status == 200
    assert hec.events() == [{"event": "a"}, {"event": "b"}]


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        (b"", {"text": "No data", "code": 5}),
        (b" \n ", {"text": "No data", "code": 5}),
        (b"not json", {"text": "Invalid data format", "code": 6, "invalid-event-number": 0}),
        (b'{"event": "a"}{"event": ', {"text": "Invalid data format", "code": 6, "invalid-event-number": 1}),
        (b'{"event": "a"}\n[1, 2]', {"text": "Invalid data format", "code": 6, "invalid-event-number": 1}),
        (
            b'{"event": "a"} {"time": 1}',
            {"text": "Event field is required", "code": 12, "invalid-event-number": 1},
        ),
        (b'{"event": ""}', {"text": "Event field cannot be blank", "code": 13, "invalid-event-number": 0}),
        (
            b'{"event": "a", "time": "noon"}',
            {"text": "Invalid data format", "code": 6, "invalid-event-number": 0},
        ),
        (b'{"event": "a", "host": 5}', {"text": "Invalid data format", "code": 6, "invalid-event-number": 0}),
        (
            b'{"event": "a", "fields": [1]}',
            {"text": "Invalid data format", "code": 6, "invalid-event-number": 0},
        ),
        (b"\xff\xfe", {"text": "Invalid data format", "code": 6}),
    ],
)
def test_a_malformed_batch_is_400_and_stores_nothing(hec: FakeSplunkHec, body: bytes, answer: Any) -> None:
    response = send(hec, body)
    assert (response.status, response.json()) == (400, answer)
    assert hec.events() == []


def test_parse_batch_alone() -> None:
    assert parse_batch(b'{"event": 1}{"event": [2]}\n') == [{"event": 1}, {"event": [2]}]
    with pytest.raises(InvalidBatch) as caught:
        parse_batch(b'{"event": 1}\n{"nope": 2}')
    assert caught.value.body() == {"text": "Event field is required", "code": 12, "invalid-event-number": 1}


# --- faults ---


def test_busy_is_503_at_most_max_faults_per_batch_times_then_stored_once(hec: FakeSplunkHec) -> None:
    hec.set_faults(rate_503=1.0, max_faults_per_batch=2)
    body = batch({"event": "a"}, {"event": "b"})
    answers = [send(hec, body) for _ in range(3)]
    assert [response.status for response in answers] == [503, 503, 200]
    assert answers[0].json() == {"text": "Server is busy", "code": 9}
    assert hec.events() == [{"event": "a"}, {"event": "b"}]
    assert send(hec, batch({"event": "c"})).status == 503  # another batch, its own budget
    assert hec.stats()["faults"] == {"503": 3}


def statuses_for(hec: FakeSplunkHec, seed: int) -> list[int]:
    response = client(hec).request("POST", f"{hec.url}/_faults", json={"rate_503": 0.5, "seed": seed})
    assert response.status == 200
    return [send(hec, batch({"event": n})).status for n in range(6) for _ in range(3)]


def test_faults_repeat_for_the_same_seed_and_request_sequence(hec: FakeSplunkHec, cert_dir: Path) -> None:
    first = statuses_for(hec, seed=3)
    assert set(first) == {200, 503}
    assert statuses_for(hec, seed=3) == first
    with FakeSplunkHec(cert_dir=cert_dir, token=TOKEN) as other:
        assert statuses_for(other, seed=3) == first
        assert statuses_for(other, seed=4) != first


def test_a_slow_answer_outlasts_a_client_read_timeout(hec: FakeSplunkHec) -> None:
    hec.set_faults(slow_rate=1.0, slow_seconds=60, max_faults_per_batch=1)
    impatient = client(hec, timeout=urllib3.Timeout(connect=2, read=0.2))
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        impatient.request(
            "POST",
            hec.url + EVENT_PATH,
            body=b'{"event": "x"}',
            headers={"Authorization": "Splunk hec-token"},
        )
    assert send(hec, b'{"event": "x"}').status == 200
    assert hec.events() == [{"event": "x"}]
    # close() does not wait out the 60 s the first request is still sleeping.


@pytest.mark.parametrize("body", [b"nope", b"[]", b'{"rate_500": 1}', b'{"rate_503": 2}', b'{"seed": "1"}'])
def test_bad_fault_settings_are_400(hec: FakeSplunkHec, body: bytes) -> None:
    response = client(hec).request("POST", f"{hec.url}/_faults", body=body)
    assert response.status == 400
    assert send(hec, b'{"event": "x"}').status == 200


def test_reset_forgets_events_faults_and_counts(hec: FakeSplunkHec) -> None:
    hec.set_faults(rate_503=1.0)
    send(hec, b'{"event": "x"}')
    send(hec, b'{"event": "x"}')
    send(hec, b'{"event": "x"}')
    assert hec.stats() == {
        "requests": 3,
        "responses": {503: 2, 200: 1},
        "faults": {"503": 2},
        "batches": 1,
        "events": 1,
    }
    assert client(hec).request("POST", f"{hec.url}/_reset").status == 200
    assert client(hec).request("GET", f"{hec.url}/_stats").json() == {
        "requests": 0,
        "responses": {},
        "faults": {},
        "batches": 0,
        "events": 0,
    }
    assert send(hec, b'{"event": "y"}').status == 200
    assert hec.events() == [{"event": "y"}]


# --- command line ---


def test_command_line_serves_https_until_sigterm(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fake_splunk_hec",
            "--port",
            "0",
            "--cert-dir",
            str(tmp_path),
            "--token",
            "t0k",
        ],
        cwd=TOOLS,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)
        assert ready, "no URL printed within 30 s"
        url = process.stdout.readline().strip()  # type: ignore[union-attr]
        assert url.startswith("https://127.0.0.1:")
        trusting = urllib3.PoolManager(retries=False, timeout=10, ca_certs=str(tmp_path / "ca.pem"))
        response = trusting.request(
            "POST", url + EVENT_PATH, body=b'{"event": "hello"}', headers={"Authorization": "Splunk t0k"}
        )
        assert response.json() == {"text": "Success", "code": 0}
        assert trusting.request("GET", f"{url}/_events").json()["events"] == [{"event": "hello"}]
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert f"ca: {tmp_path / 'ca.pem'}" in stderr
