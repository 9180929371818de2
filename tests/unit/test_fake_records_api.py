"""The fake records API keeps the partner's contract: idempotent writes, its rate limit, reject rules and
faults that repeat exactly and let a patient client through.

Spoken to over raw HTTP (urllib3, no retries), so these tests do not depend on the pipeline's client.
"""

from __future__ import annotations

import json
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import urllib3

from fake_records_api import FakeRecordsApi, FaultConfig, RejectRule, busiest_second

TOOLS = Path(__file__).resolve().parents[2] / "tools"
HTTP = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=10))


def post(
    api: FakeRecordsApi,
    key: str | None,
    row: Any = None,
    *,
    token: str | None = "",
    body: bytes | None = None,
    http: urllib3.PoolManager = HTTP,
) -> urllib3.BaseHTTPResponse:
    """POST a row with the server's token unless ``token`` is given (None: no Authorization header)."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token or api.token}"
    if key is not None:
        headers["Idempotency-Key"] = key
    data = body if body is not None else json.dumps({"name": "a"} if row is None else row).encode()
    return http.request("POST", f"{api.url}/v1/records", body=data, headers=headers)


def control(api: FakeRecordsApi, method: str, path: str, **kwargs: Any) -> Any:
    response = HTTP.request(method, api.url + path, **kwargs)
    assert response.status == 200, response.data[:300]
    return response.json()


@pytest.fixture
def api() -> Iterator[FakeRecordsApi]:
    with FakeRecordsApi() as server:
        yield server


# --- auth and the idempotency key ---


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", "Basic dXNlcjpwYXNz", "Bearer", "Token {token}"]
)
def test_a_missing_or_wrong_token_is_401(api: FakeRecordsApi, authorization: str | None) -> None:
    headers = {"Idempotency-Key": "f:1"}
    if authorization is not None:
        headers["Authorization"] = authorization.format(token=api.token)
    response = HTTP.request("POST", f"{api.url}/v1/records", body=b'{"a": "1"}', headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == "unauthorized"
    assert api.records() == []


@pytest.mark.parametrize(
    "key",
    [None, "", "f", "f:", ":1", "f:0", "f:01", "f:-1", "f:1x", "f:1:2", "a b:1", "fé:1", "x" * 129 + ":1"],
)
def test_a_missing_or_malformed_idempotency_key_is_400(api: FakeRecordsApi, key: str | None) -> None:
    headers = {"Authorization": f"Bearer {api.token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    response = HTTP.request("POST", f"{api.url}/v1/records", body=b'{"a": "1"}', headers=headers)
    assert response.status == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_idempotency_key"
    assert error["message"]
    assert api.records() == []


@pytest.mark.parametrize("key", ["orders_2024-01-01.csv:1", "a:9876543210", "x" * 128 + ":7", "F.-_9:12"])
def test_well_formed_keys_are_accepted(api: FakeRecordsApi, key: str) -> None:
    response = post(api, key)
    assert response.status == 201
    assert response.json()["idempotency_key"] == key


# --- idempotent writes ---


def test_a_key_is_accepted_once_then_answered_200_with_the_same_id(api: FakeRecordsApi) -> None:
    first = post(api, "file-1:1", {"name": "a", "amount": 12.5, "active": True})
    again = post(api, "file-1:1", {"name": "changed"})
    other = post(api, "file-1:2", {"name": "b"})
    assert first.status == 201
    assert again.status == 200
    assert again.json() == first.json() == {"id": first.json()["id"], "idempotency_key": "file-1:1"}
    assert other.status == 201
    assert other.json()["id"] != first.json()["id"]
    records = api.records()
    assert [(record["key"], record["body"]) for record in records] == [
        ("file-1:1", {"name": "a", "amount": 12.5, "active": True}),  # the first body, typed as sent
        ("file-1:2", {"name": "b"}),
    ]
    assert control(api, "GET", "/_records")["records"] == records


def test_concurrent_posts_of_one_key_store_it_once(api: FakeRecordsApi) -> None:
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: post(api, "race:1").status, range(16)))
    assert sorted(statuses) == [200] * 15 + [201]
    assert len(api.records()) == 1


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"not json", b"", b"{", b"null"])
def test_a_body_that_is_not_one_json_object_is_400(api: FakeRecordsApi, body: bytes) -> None:
    response = post(api, "f:1", body=body)
    assert response.status == 400
    assert response.json()["error"]["code"] == "invalid_body"
    assert api.records() == []


# --- reject rules ---


RULES = [
    {"field": "country", "equals": "XX", "status": 422, "code": "unknown_country"},
    {"field": "amount", "pattern": "^-", "status": 400, "code": "negative_amount"},
    {"field": "vip", "equals": True, "status": 422, "code": "no_vips"},
]


@pytest.mark.parametrize(
    ("row", "status", "code"),
    [
        ({"country": "XX"}, 422, "unknown_country"),
        ({"amount": "-3.50"}, 400, "negative_amount"),
        ({"amount": -3.5}, 400, "negative_amount"),  # a typed value is matched as its JSON text
        ({"vip": True}, 422, "no_vips"),
        ({"country": "FR", "amount": "3"}, 201, None),
        ({"vip": 1}, 201, None),  # JSON equality: 1 is not true
        ({"country": "xx"}, 201, None),
    ],
)
def test_rows_matching_a_reject_rule_are_rejected_on_every_attempt(
    api: FakeRecordsApi, row: dict[str, Any], status: int, code: str | None
) -> None:
    control(api, "POST", "/_faults", json={"reject_rules": RULES})
    statuses = [post(api, "f:1", row) for _ in range(4)]
    if code is None:
        assert [response.status for response in statuses] == [201, 200, 200, 200]
        return
    assert {response.status for response in statuses} == {status}
    assert {response.json()["error"]["code"] for response in statuses} == {code}
    assert api.records() == []


def test_reject_rules_are_validated() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        RejectRule(field="a")
    with pytest.raises(ValueError, match="exactly one"):
        RejectRule(field="a", equals="x", pattern="y")
    with pytest.raises(ValueError, match="400 or 422"):
        RejectRule(field="a", equals="x", status=409)
    with pytest.raises(ValueError, match="pattern"):
        FaultConfig(reject_rules=({"field": "a", "pattern": "("},))  # type: ignore[arg-type]


# --- faults ---


@pytest.mark.parametrize("max_faults", [0, 1, 3])
def test_a_key_is_faulted_at_most_max_faults_per_key_times(api: FakeRecordsApi, max_faults: int) -> None:
    api.set_faults(rate_503=1.0, max_faults_per_key=max_faults)
    first = [post(api, "f:1").status for _ in range(max_faults + 2)]
    assert first == [503] * max_faults + [201, 200]
    second = [post(api, "f:2").status for _ in range(max_faults + 1)]  # a key of its own budget
    assert second == [503] * max_faults + [201]
    assert api.stats()["faults"].get("503", 0) == 2 * max_faults


def statuses_for(api: FakeRecordsApi, seed: int) -> list[int]:
    control(api, "POST", "/_faults", json={"rate_500": 0.2, "rate_502": 0.2, "rate_429": 0.2, "seed": seed})
    return [post(api, f"file:{row}").status for row in (1, 2, 3, 4) for _ in range(4)]


def test_faults_repeat_for_the_same_seed_and_request_sequence(api: FakeRecordsApi) -> None:
    first = statuses_for(api, seed=5)
    assert {200, 201} < set(first) <= {200, 201, 429, 500, 502}
    assert len(set(first) - {200, 201}) >= 2
    assert statuses_for(api, seed=5) == [200 if status == 201 else status for status in first]
    with FakeRecordsApi() as other:
        assert statuses_for(other, seed=5) == first
        other.reset()
        assert statuses_for(other, seed=6) != first


def test_an_injected_429_carries_retry_after(api: FakeRecordsApi) -> None:
    api.set_faults(rate_429=1.0, retry_after=0.25, max_faults_per_key=1)
    response = post(api, "f:1")
    assert response.status == 429
    assert response.headers["Retry-After"] == "0.25"
    assert response.json()["error"]["code"] == "rate_limited"
    assert post(api, "f:1").status == 201


def test_a_reset_connection_is_a_protocol_error_and_stores_nothing(api: FakeRecordsApi) -> None:
    api.set_faults(reset_rate=1.0, max_faults_per_key=1)
    with pytest.raises(urllib3.exceptions.ProtocolError) as caught:
        post(api, "f:1")
    assert isinstance(caught.value.args[-1], ConnectionResetError)
    assert api.records() == []
    assert post(api, "f:1").status == 201
    assert [entry["status"] for entry in api.requests()] == [None, 201]
    assert api.stats()["resets"] == 1


def test_a_lost_answer_stores_the_row_and_the_retry_gets_200(api: FakeRecordsApi) -> None:
    api.set_faults(lost_answer_rate=1.0, max_faults_per_key=1)
    with pytest.raises(urllib3.exceptions.ProtocolError):
        post(api, "f:1")
    retry = post(api, "f:1")
    assert retry.status == 200
    assert [record["key"] for record in api.records()] == ["f:1"]


def test_a_slow_answer_outlasts_a_client_read_timeout(api: FakeRecordsApi) -> None:
    api.set_faults(slow_rate=1.0, slow_seconds=60, max_faults_per_key=1)
    impatient = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=0.2))
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        post(api, "f:1", http=impatient)
    assert post(api, "f:1").status == 201  # the key's one fault is spent; nothing was stored meanwhile
    # close() does not wait out the 60 s the first request is still sleeping.


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1]",
        b'{"rate_504": 0.5}',
        b'{"rate_500": 0.6, "rate_503": 0.6}',
        b'{"rate_500": "0.5"}',
        b'{"max_faults_per_key": 1.5}',
        b'{"reject_rules": {"field": "a"}}',
        b'{"reject_rules": [{"field": "a", "equals": "x", "status": 500}]}',
        b'{"reject_rules": [{"field": "a", "equals": "x", "colour": "red"}]}',
    ],
)
def test_bad_fault_settings_are_400_and_the_previous_ones_stand(api: FakeRecordsApi, body: bytes) -> None:
    api.set_faults(rate_500=1.0, max_faults_per_key=1)
    response = HTTP.request("POST", f"{api.url}/_faults", body=body)
    assert response.status == 400
    assert response.json()["error"]["code"] == "invalid_faults"
    assert [post(api, "f:1").status for _ in range(2)] == [500, 201]


def test_fault_settings_read_back_over_http(api: FakeRecordsApi) -> None:
    settings = {"rate_502": 0.5, "reject_rules": [{"field": "a", "pattern": "x"}]}
    written = control(api, "POST", "/_faults", json=settings)
    assert control(api, "GET", "/_faults") == written
    assert written["rate_502"] == 0.5
    assert written["reject_rules"] == [
        {"field": "a", "equals": None, "pattern": "x", "status": 422, "code": "rejected"}
    ]


# --- rate limit ---


def test_no_second_ever_holds_more_than_the_limit(api: FakeRecordsApi) -> None:
    limit = 20
    control(api, "POST", "/_config", json={"rate_limit": limit})
    deadline = time.monotonic() + 1.6
    retry_afters: list[str] = []

    def hammer(client: int) -> None:
        http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=10))
        row = 0
        while time.monotonic() < deadline:
            row += 1
            response = post(api, f"client{client}:{row}", http=http)
            if response.status == 429:
                retry_afters.append(response.headers["Retry-After"])

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(hammer, range(4)))

    requests = control(api, "GET", "/_requests")["requests"]
    counted = [entry["t"] for entry in requests if entry["status"] != 429]
    assert len(counted) >= limit  # the limit is reachable, not just never passed
    assert len(requests) > len(counted)  # and it was pushed against
    busiest = max(sum(1 for t in counted if start - 1 < t <= start) for start in counted)
    assert busiest <= limit
    assert retry_afters
    for value in retry_afters:
        assert 0 < float(value) <= 1
        assert value == "1" or (len(value) == 3 and value.startswith("0.")), value
    assert api.stats()["rate_limited"] == len(requests) - len(counted)


def test_answers_429_do_not_count_toward_the_limit(api: FakeRecordsApi) -> None:
    api.set_rate_limit(3)
    assert [post(api, f"f:{row}").status for row in (1, 2, 3)] == [201] * 3
    first = api.requests()[0]["t"]
    # Knock every 50 ms: were the 429s counted, they would keep the window full for ever.
    answers = []
    while time.time() < first + 2:
        response = post(api, "f:4")
        answers.append(response)
        if response.status != 429:
            break
        time.sleep(0.05)
    assert answers[-1].status == 201
    assert len(answers) > 5
    assert all(response.json()["error"]["code"] == "rate_limited" for response in answers[:-1])
    accepted_at = api.requests()[-1]["t"]
    assert first + 1 <= accepted_at < first + 1.3  # as soon as the first request left the window


def test_control_endpoints_are_neither_counted_nor_limited(api: FakeRecordsApi) -> None:
    api.set_rate_limit(1)
    assert post(api, "f:1").status == 201
    for _ in range(5):
        control(api, "GET", "/_stats")
        control(api, "GET", "/_records")
        control(api, "GET", "/_requests")
    assert api.stats()["requests"] == 1


def test_the_rate_limit_changes_at_runtime(api: FakeRecordsApi) -> None:
    assert control(api, "GET", "/_config") == {"rate_limit": 0}
    assert control(api, "POST", "/_config", json={"rate_limit": 2}) == {"rate_limit": 2}
    assert [post(api, f"f:{row}").status for row in (1, 2, 3)] == [201, 201, 429]
    control(api, "POST", "/_config", json={"rate_limit": 0})
    assert post(api, "f:3").status == 201
    for bad in ({"rate_limit": -1}, {"rate_limit": 1.5}, {"rate_limit": True}, {}, {"limit": 3}):
        assert HTTP.request("POST", f"{api.url}/_config", json=bad).status == 400


# --- the request log, records, stats and reset ---


def test_requests_are_logged_in_arrival_order_with_their_answers(api: FakeRecordsApi) -> None:
    before = time.time()
    post(api, "f:1", {"n": 1})
    post(api, "f:1", {"n": 1})
    post(api, "f:2", token="wrong")
    post(api, "f:3", body=b"not json")
    requests = control(api, "GET", "/_requests")["requests"]
    assert [(entry["key"], entry["status"], entry["body"]) for entry in requests] == [
        ("f:1", 201, {"n": 1}),
        ("f:1", 200, {"n": 1}),
        ("f:2", 401, {"name": "a"}),
        ("f:3", 400, "not json"),
    ]
    times = [entry["t"] for entry in requests]
    assert before <= times[0] <= times[1] <= times[2] <= times[3] <= time.time()
    page = control(api, "GET", "/_requests?since=2")
    assert page == {"requests": requests[2:], "next": 4}
    assert control(api, "GET", "/_requests?since=4") == {"requests": [], "next": 4}
    assert HTTP.request("GET", f"{api.url}/_requests?since=x").status == 400
    records = control(api, "GET", "/_records")["records"]
    assert [(record["key"], record["body"]) for record in records] == [("f:1", {"n": 1})]
    assert records[0]["t"] == times[0]


def test_a_request_is_stamped_when_it_arrives_not_when_its_body_is_done(api: FakeRecordsApi) -> None:
    """The limit's window and the log use the time the request line was read: a thread that waits for
    the GIL or the lock (many connections at once) must not move its request into a later second."""
    body = json.dumps({"n": 1}).encode()
    head = (
        f"POST /v1/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api.token}\r\n"
        f"Idempotency-Key: f:1\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", int(api.url.rsplit(":", 1)[1])), timeout=5) as connection:
        sent = time.time()
        connection.sendall(head)
        time.sleep(0.3)  # the body comes later: the stamp must not wait for it
        connection.sendall(body)
        assert connection.recv(4096).startswith(b"HTTP/1.1 201")
    (entry,) = control(api, "GET", "/_requests")["requests"]
    assert sent <= entry["t"] < sent + 0.2


def test_stats_count_answers_by_status(api: FakeRecordsApi) -> None:
    api.set_faults(rate_500=1.0, max_faults_per_key=1)
    post(api, "f:1")  # 500
    post(api, "f:1")  # 201
    post(api, "f:1")  # 200
    post(api, None)  # 400
    stats = control(api, "GET", "/_stats")
    assert stats["requests"] == 4
    assert stats["responses"] == {"500": 1, "201": 1, "200": 1, "400": 1}
    assert stats["faults"] == {"500": 1}
    assert stats["records"] == 1


def test_reset_forgets_everything_and_restores_the_start_rate_limit() -> None:
    with FakeRecordsApi(rate_limit=50) as api:
        api.set_rate_limit(1)
        api.set_faults(rate_500=1.0)
        post(api, "f:1")
        assert control(api, "POST", "/_reset") == {"rate_limit": 50}
        assert api.requests() == api.records() == []
        assert control(api, "GET", "/_faults") == json.loads(json.dumps(FaultConfig().to_json()))
        assert control(api, "GET", "/_stats")["responses"] == {}
        assert post(api, "f:1").status == 201  # no fault, and the key is new again
        assert control(api, "POST", "/_reset", json={"rate_limit": 7}) == {"rate_limit": 7}
        assert api.rate_limit == 7


def test_unknown_paths_and_methods(api: FakeRecordsApi) -> None:
    assert HTTP.request("GET", f"{api.url}/v2/records").status == 404
    wrong_method = HTTP.request("GET", f"{api.url}/v1/records")
    assert wrong_method.status == 405
    assert wrong_method.headers["Allow"] == "POST"


def test_keep_alive_survives_errors_and_bodies(api: FakeRecordsApi) -> None:
    pool = urllib3.HTTPConnectionPool("127.0.0.1", api.port, maxsize=1, retries=False)
    for row in range(1, 30):
        key = f"f:{row}" if row % 3 else "bad key"
        response = pool.request(
            "POST",
            "/v1/records",
            body=json.dumps({"row": row, "pad": "x" * row * 50}).encode(),
            headers={"Authorization": f"Bearer {api.token}", "Idempotency-Key": key},
        )
        assert response.status == (201 if row % 3 else 400)
    assert pool.num_connections == 1


def test_a_chunked_body_is_read_whole(api: FakeRecordsApi) -> None:
    headers = {"Authorization": f"Bearer {api.token}", "Idempotency-Key": "f:1"}
    pieces = iter([b'{"name": ', b'"chunked", ', b'"n": 1}'])
    response = HTTP.request("POST", f"{api.url}/v1/records", body=pieces, headers=headers, chunked=True)
    assert response.status == 201
    assert api.records()[0]["body"] == {"name": "chunked", "n": 1}


@pytest.mark.parametrize("length", ["-1", "abc", "99999999999"])
def test_a_bad_content_length_is_400_and_closes_the_connection(api: FakeRecordsApi, length: str) -> None:
    with socket.create_connection(("127.0.0.1", api.port), timeout=5) as sock:
        sock.sendall(f"POST /v1/records HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n{{}}".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"Connection: close" in answer
    assert api.requests() == []


# --- command line ---


def test_command_line_serves_until_sigterm(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret\n")
    rule = json.dumps({"field": "country", "equals": "XX", "code": "unknown_country"})
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fake_records_api",
            "--port",
            "0",
            "--token-file",
            str(token_file),
            "--rate-limit",
            "100",
            "--rate-500",
            "1",
            "--max-faults-per-key",
            "1",
            "--reject-rule",
            rule,
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
        headers = {"Authorization": "Bearer s3cret", "Idempotency-Key": "f:1"}
        statuses = [
            HTTP.request("POST", f"{url}/v1/records", json={"country": "FR"}, headers=headers).status
            for _ in range(3)
        ]
        assert statuses == [500, 201, 200]
        rejected = HTTP.request(
            "POST", f"{url}/v1/records", json={"country": "XX"}, headers={**headers, "Idempotency-Key": "f:2"}
        )
        assert rejected.status == 500  # f:2's one fault first
        rejected = HTTP.request(
            "POST", f"{url}/v1/records", json={"country": "XX"}, headers={**headers, "Idempotency-Key": "f:2"}
        )
        assert (rejected.status, rejected.json()["error"]["code"]) == (422, "unknown_country")
        assert HTTP.request("GET", f"{url}/_config").json() == {"rate_limit": 100}
        stats = HTTP.request("GET", f"{url}/_stats").json()
        assert Counter(stats["responses"]) == Counter({"500": 2, "201": 1, "200": 1, "422": 1})
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr


def test_close_returns_promptly_with_clients_connected(api: FakeRecordsApi) -> None:
    pool = urllib3.HTTPConnectionPool("127.0.0.1", api.port, maxsize=2, retries=False)
    assert pool.request("GET", "/_stats").status == 200  # a kept-alive connection, idle in the server
    started = time.monotonic()
    closer = threading.Thread(target=api.close)
    closer.start()
    closer.join(5)
    assert not closer.is_alive()
    assert time.monotonic() - started < 2


def test_busiest_second_counts_the_window_the_limit_is_enforced_on() -> None:
    assert busiest_second([]) == 0
    assert busiest_second([0.0, 0.5, 0.99, 1.0, 1.5]) == 3  # (0.0, 1.0] holds 0.5, 0.99 and 1.0
    assert busiest_second([0.0, 1.0, 2.0]) == 1  # a request exactly 1 s earlier is out of the window
    lattice = [i / 3 for i in range(10)]  # 0, 1/3, 2/3, 1.0000000000000002 ... in floating point
    assert busiest_second(lattice, tolerance=1e-9) == 3
