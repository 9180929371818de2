"""The fake alerts API keeps the contract the coordinator relies on, and its data and faults repeat exactly.

Spoken to over raw HTTP (urllib3, no retries), so these tests do not depend on the client under test
in shared/tests/unit/test_http.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import urllib3
from fake_alerts_api import HOSTILE_IDS, STATUSES, FakeAlertsApi, FaultConfig
from fake_alerts_api.dataset import Dataset

TOOLS = Path(__file__).resolve().parents[2] / "tools"
HTTP = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=10))


def get(api: FakeAlertsApi, path: str, *, token: str | None = "", **params: Any) -> urllib3.BaseHTTPResponse:
    """GET with the server's own token unless ``token`` is given (None sends no Authorization header)."""
    headers = {} if token is None else {"Authorization": f"Bearer {token or api.token}"}
    return HTTP.request("GET", api.url + path, fields=params or None, headers=headers)


def fetch_status(api: FakeAlertsApi, status: int, page_size: int | None = None) -> list[dict[str, Any]]:
    """Every page of ``status``; fails on anything but a 200."""
    alerts: list[dict[str, Any]] = []
    params: dict[str, Any] = {"status": status}
    if page_size is not None:
        params["page_size"] = page_size
    while True:
        response = get(api, "/alerts", **params)
        assert response.status == 200, response.data[:200]
        page = response.json()
        alerts.extend(page["alerts"])
        if page["next_page_token"] is None:
            return alerts
        params["page_token"] = page["next_page_token"]


@pytest.fixture(scope="module")
def api() -> Iterator[FakeAlertsApi]:
    """A small server without faults, shared by the read-only tests of this module."""
    with FakeAlertsApi(alerts_per_status=12, seed=3, large_every=5, large_bytes=50_000) as server:
        yield server


@pytest.fixture
def faulty() -> Iterator[FakeAlertsApi]:
    """A fresh server per test, for tests that change faults or count requests."""
    with FakeAlertsApi(alerts_per_status=5, large_every=0) as server:
        yield server


# --- data set ---


def test_same_seed_serves_byte_identical_pages_from_two_servers() -> None:
    options: dict[str, Any] = {
        "alerts_per_status": 8,
        "large_every": 4,
        "large_bytes": 20_000,
        "hostile_ids": True,
    }
    with (
        FakeAlertsApi(seed=11, **options) as one,
        FakeAlertsApi(seed=11, **options) as two,
        FakeAlertsApi(seed=12, **options) as other,
    ):
        for status in (1, 7, 20):
            pages = [get(server, "/alerts", status=status, page_size=3).data for server in (one, two, other)]
            assert pages[0] == pages[1]
            assert pages[0] != pages[2]
        assert one.expected_alerts() == two.expected_alerts()


DIGEST_PROBE = """
import hashlib
from fake_alerts_api.dataset import Dataset
data = Dataset({1: 3, 5: 20, 20: 7}, seed=42, large_every=6, large_bytes=30_000, hostile_ids=True)
print(hashlib.sha256(b"\\n".join(data)).hexdigest())
"""


@pytest.mark.parametrize("hash_seed", ["0", "12345"])
def test_data_set_is_byte_identical_in_another_process(hash_seed: str) -> None:
    data = Dataset({1: 3, 5: 20, 20: 7}, seed=42, large_every=6, large_bytes=30_000, hostile_ids=True)
    here = hashlib.sha256(b"\n".join(data)).hexdigest()
    result = subprocess.run(
        [sys.executable, "-c", DIGEST_PROBE],
        cwd=TOOLS,
        env={**os.environ, "PYTHONHASHSEED": hash_seed},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == here


@pytest.mark.parametrize("page_size", [1, 7, None, 1000])
def test_pages_cover_every_alert_of_a_status_exactly_once_in_order(page_size: int | None) -> None:
    counts = {1: 0, 2: 1, 3: 101, 4: 250}
    with FakeAlertsApi(alerts_per_status=counts, large_every=0, small_bytes=300) as server:
        expected = server.expected_alerts()
        for status, count in counts.items():
            alerts = fetch_status(server, status, page_size)
            ids = [alert["alert_id"] for alert in alerts]
            assert ids == [f"ALR-{status:02d}-{index:06d}" for index in range(count)]
            assert alerts == [expected[alert_id] for alert_id in ids]
        assert len(expected) == sum(counts.values())
        assert get(server, "/alerts", status=9).json() == {"alerts": [], "next_page_token": None}


def test_default_page_size_is_100_and_the_last_page_has_a_null_token() -> None:
    with FakeAlertsApi(alerts_per_status=150, large_every=0, small_bytes=300) as server:
        first = get(server, "/alerts", status=1).json()
        assert len(first["alerts"]) == 100
        assert isinstance(first["next_page_token"], str)
        last = get(server, "/alerts", status=1, page_token=first["next_page_token"]).json()
        assert len(last["alerts"]) == 50
        assert last["next_page_token"] is None


def test_every_large_every_th_alert_is_about_large_bytes_and_the_rest_small_bytes() -> None:
    with FakeAlertsApi(alerts_per_status={2: 20, 3: 20}, large_every=10) as server:
        sizes = {}
        for status in (2, 3):
            for alert in fetch_status(server, status):
                sizes[alert["alert_id"]] = len(json.dumps(alert, ensure_ascii=False).encode())
    large = {alert_id for alert_id, size in sizes.items() if size >= 190_000}
    assert large == {f"ALR-{status:02d}-{index:06d}" for status in (2, 3) for index in (9, 19)}
    assert all(size <= 201_000 for size in sizes.values())
    assert all(1_800 <= size <= 2_200 for alert_id, size in sizes.items() if alert_id not in large)


def test_alerts_have_the_documented_shape(api: FakeAlertsApi) -> None:
    for alert in fetch_status(api, 4):
        assert alert["alert_id"].startswith("ALR-04-")
        assert alert["status"] == 4
        assert datetime.fromisoformat(alert["created_at"]).tzinfo is not None
        assert alert["severity"] in {"critical", "high", "medium", "low", "info"}
        assert isinstance(alert["source"], str)
        assert isinstance(alert["details"], dict)
        assert isinstance(alert["details"]["labels"], dict)
        assert isinstance(alert["tags"], list)
        assert alert["events"]
        assert all(isinstance(event, dict) for event in alert["events"])


def test_hostile_ids_are_served_unique_and_intact() -> None:
    with FakeAlertsApi(alerts_per_status=5, large_every=0, hostile_ids=True) as server:
        served = [alert["alert_id"] for status in STATUSES for alert in fetch_status(server, status, 4)]
        expected = server.expected_alerts()
    assert len(served) == len(set(served)) == len(expected) == 100
    assert set(served) == set(expected)
    assert set(HOSTILE_IDS) <= set(served)
    for nasty in ("../../etc/passwd", "a/b", "x\ny", "tab\there", ".hidden", "nul\x00byte"):
        assert nasty in served
    assert any(len(alert_id) == 300 for alert_id in served)
    assert any(not alert_id.isascii() for alert_id in served)


def test_statuses_outside_1_to_20_are_rejected_when_building() -> None:
    with pytest.raises(ValueError, match=r"1\.\.20"):
        Dataset({0: 1, 21: 1})


# --- auth and validation ---


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
    ],
)
def test_missing_or_wrong_token_is_401_with_a_json_error(api: FakeAlertsApi, headers: dict[str, str]) -> None:
    response = HTTP.request("GET", f"{api.url}/alerts?status=1", headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"] == "unauthorized"


def test_scheme_is_case_insensitive(api: FakeAlertsApi) -> None:
    response = HTTP.request(
        "GET", f"{api.url}/alerts?status=1", headers={"Authorization": f"bearer {api.token}"}
    )
    assert response.status == 200


@pytest.mark.parametrize(
    "query",
    [
        "",
        "status=0",
        "status=21",
        "status=abc",
        "status=-1",
        "status=1&page_size=0",
        "status=1&page_size=1001",
        "status=1&page_size=ten",
        "status=1&page_token=not-a-token!",
        "status=1&page_token=MjoxMA",  # a valid token of status 2
        "status=1&page_token=MTo5OTk",  # status 1, offset 999: past the end
    ],
)
def test_invalid_parameters_are_400_with_a_json_error(api: FakeAlertsApi, query: str) -> None:
    response = HTTP.request(
        "GET", f"{api.url}/alerts?{query}", headers={"Authorization": f"Bearer {api.token}"}
    )
    assert response.status == 400
    body = response.json()
    assert body["error"] == "invalid_request"
    assert body["message"]


def test_unknown_paths_are_404(api: FakeAlertsApi) -> None:
    assert get(api, "/nope").status == 404


# --- faults ---


@pytest.mark.parametrize(("retry_after", "header"), [(2.0, "2"), (0.25, "0.25")])
def test_429_carries_retry_after_in_seconds(faulty: FakeAlertsApi, retry_after: float, header: str) -> None:
    faulty.set_faults(rate_429=1.0, retry_after=retry_after)
    response = get(faulty, "/alerts", status=1)
    assert response.status == 429
    assert response.headers["Retry-After"] == header
    assert response.json()["error"] == "rate_limited"


@pytest.mark.parametrize("max_faults", [0, 1, 3])
def test_a_page_is_faulted_at_most_max_faults_per_page_times(faulty: FakeAlertsApi, max_faults: int) -> None:
    faulty.set_faults(rate_500=1.0, max_faults_per_page=max_faults)
    first_page = [get(faulty, "/alerts", status=2, page_size=2).status for _ in range(max_faults + 2)]
    assert first_page == [500] * max_faults + [200, 200]
    token = get(faulty, "/alerts", status=2, page_size=2).json()["next_page_token"]
    # Another page has its own budget of faults.
    second_page = [
        get(faulty, "/alerts", status=2, page_size=2, page_token=token).status for _ in range(max_faults + 1)
    ]
    assert second_page == [500] * max_faults + [200]
    assert faulty.stats()["faults"].get("500", 0) == 2 * max_faults


def statuses_for(server: FakeAlertsApi, seed: int) -> list[int]:
    server.set_faults(rate_429=0.3, rate_500=0.3, max_faults_per_page=5, seed=seed)
    return [get(server, "/alerts", status=status).status for status in (1, 2, 3) for _ in range(6)]


def test_faults_repeat_for_the_same_seed_and_request_sequence(faulty: FakeAlertsApi) -> None:
    first = statuses_for(faulty, seed=5)
    assert set(first) == {200, 429, 500}
    assert statuses_for(faulty, seed=5) == first  # set_faults restarts the per-page counts
    with FakeAlertsApi(alerts_per_status=5, large_every=0) as other:
        assert statuses_for(other, seed=5) == first
        assert statuses_for(other, seed=6) != first


def test_malformed_fault_is_a_200_with_a_truncated_json_body(faulty: FakeAlertsApi) -> None:
    faulty.set_faults(malformed_rate=1.0, max_faults_per_page=1)
    broken = get(faulty, "/alerts", status=3)
    assert broken.status == 200
    assert broken.headers["Content-Type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.data)
    whole = get(faulty, "/alerts", status=3)
    assert whole.data.startswith(broken.data)
    assert len(whole.json()["alerts"]) == 5


def test_slow_fault_holds_the_answer_past_a_client_read_timeout(faulty: FakeAlertsApi) -> None:
    faulty.set_faults(slow_rate=1.0, slow_seconds=60, max_faults_per_page=1)
    impatient = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=0.1))
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        impatient.request(
            "GET", f"{faulty.url}/alerts?status=1", headers={"Authorization": f"Bearer {faulty.token}"}
        )
    assert get(faulty, "/alerts", status=1).status == 200  # the page's only fault is spent
    assert faulty.stats()["faults"] == {"slow": 1}
    # close() does not wait out the 60 s the first request is still sleeping.


def test_fault_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="add up"):
        FaultConfig(rate_429=0.6, rate_500=0.6)
    with pytest.raises(ValueError, match=">= 0"):
        FaultConfig(retry_after=-1)
    with FakeAlertsApi(alerts_per_status=1) as server, pytest.raises(TypeError):
        server.set_faults(rate_503=0.5)


# --- stats and the control endpoints ---


def test_stats_count_requests_responses_and_faults(faulty: FakeAlertsApi) -> None:
    faulty.set_faults(rate_429=1.0, max_faults_per_page=1)
    get(faulty, "/alerts", status=1)  # 429
    get(faulty, "/alerts", status=1)  # 200
    get(faulty, "/alerts", status=1, token="wrong")  # 401
    get(faulty, "/alerts", status=99)  # 400
    HTTP.request("GET", f"{faulty.url}/_stats")  # control endpoints are not counted
    assert faulty.stats() == {
        "requests": 4,
        "responses": {429: 1, 200: 1, 401: 1, 400: 1},
        "faults": {"429": 1},
    }


def test_faults_can_be_set_and_stats_read_over_http(faulty: FakeAlertsApi) -> None:
    response = HTTP.request("POST", f"{faulty.url}/_faults", json={"rate_500": 1, "max_faults_per_page": 1})
    assert response.status == 200
    assert response.json()["rate_500"] == 1
    assert get(faulty, "/alerts", status=1).status == 500
    assert get(faulty, "/alerts", status=1).status == 200

    stats = HTTP.request("GET", f"{faulty.url}/_stats").json()
    assert stats == {"requests": 2, "responses": {"500": 1, "200": 1}, "faults": {"500": 1}}

    HTTP.request("POST", f"{faulty.url}/_faults", json={})  # back to no faults
    assert get(faulty, "/alerts", status=2).status == 200


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1]", b'{"rate_503": 0.5}', b'{"rate_429": 2}', b'{"rate_429": "0.5"}', b'{"seed": 1.5}'],
)
def test_bad_fault_settings_over_http_are_400(faulty: FakeAlertsApi, body: bytes) -> None:
    response = HTTP.request("POST", f"{faulty.url}/_faults", body=body)
    assert response.status == 400
    assert response.json()["error"] == "invalid_faults"
    assert get(faulty, "/alerts", status=1).status == 200  # the previous settings stand


# --- command line ---


def test_command_line_serves_until_sigterm(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret\n")
    options = "--port 0 --alerts-per-status 3 --large-every 0 --hostile-ids"
    faults = "--rate-429 1 --retry-after 0.5 --max-faults-per-page 1"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fake_alerts_api",
            *options.split(),
            *faults.split(),
            "--token-file",
            str(token_file),
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
        assert url.startswith("http://127.0.0.1:")
        auth = {"Authorization": "Bearer s3cret"}
        first = HTTP.request("GET", f"{url}/alerts?status=1", headers=auth)
        assert (first.status, first.headers["Retry-After"]) == (429, "0.5")
        alerts = HTTP.request("GET", f"{url}/alerts?status=1", headers=auth).json()["alerts"]
        assert len(alerts) == 3

        HTTP.request("POST", f"{url}/_faults", json={"rate_500": 1.0})
        assert HTTP.request("GET", f"{url}/alerts?status=2", headers=auth).status == 500
        stats = HTTP.request("GET", f"{url}/_stats").json()
        assert stats["faults"] == {"429": 1, "500": 1}
        assert Counter(stats["responses"]) == Counter({"429": 1, "200": 1, "500": 1})
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
