"""JsonHttpClient against the fake alerts API: what is retried, how long it waits, what gives up at once.

The retry policy gets a recording sleep, so waits are asserted without being spent.
"""

from __future__ import annotations

import io
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import pytest
import structlog
import urllib3
from fake_alerts_api import STATUSES, FakeAlertsApi

from pipelines_shared.http import (
    AuthError,
    HttpError,
    JsonHttpClient,
    TransientHttpError,
    paginate,
    parse_retry_after,
)
from pipelines_shared.log import configure_logging
from pipelines_shared.retry import PermanentError, RetryPolicy, TransientError


class RecordedSleep:
    """Stands in for time.sleep: records each wait, returns at once; safe to share between threads."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(seconds)


@pytest.fixture
def sleep() -> RecordedSleep:
    return RecordedSleep()


@pytest.fixture
def api() -> Iterator[FakeAlertsApi]:
    with FakeAlertsApi(alerts_per_status=23, seed=1, large_every=10) as server:
        yield server


@pytest.fixture
def make_client(api: FakeAlertsApi, sleep: RecordedSleep) -> Iterator[Callable[..., JsonHttpClient]]:
    clients: list[JsonHttpClient] = []

    def make(*, max_attempts: int = 3, token: str | None = None, **options: Any) -> JsonHttpClient:
        policy = RetryPolicy(max_attempts=max_attempts, sleep=sleep)
        client = JsonHttpClient(
            api.url, token_provider=lambda: token or api.token, retry_policy=policy, **options
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def alerts_of(api: FakeAlertsApi, status: int) -> list[dict[str, Any]]:
    """The alerts of one status as the server holds them (cheaper than building all of expected_alerts)."""
    return [json.loads(alert) for alert in api.dataset.page(status, 0, api.dataset.counts[status])]


def test_paginate_returns_a_whole_status_page_by_page(
    api: FakeAlertsApi, make_client: Callable[..., JsonHttpClient]
) -> None:
    pages = list(paginate(make_client(), "/alerts", {"status": 4, "page_size": 5}, "alerts"))
    assert [len(page) for page in pages] == [5, 5, 5, 5, 3]
    assert [alert for page in pages for alert in page] == alerts_of(api, 4)
    assert api.stats()["requests"] == 5


def test_429_is_retried_after_at_least_retry_after(
    api: FakeAlertsApi, make_client: Callable[..., JsonHttpClient], sleep: RecordedSleep
) -> None:
    api.set_faults(rate_429=1.0, retry_after=2.5, max_faults_per_page=2)
    page = make_client().get_json("/alerts", {"status": 2})
    assert len(page["alerts"]) == 23
    assert len(sleep.waits) == 2
    assert all(wait >= 2.5 for wait in sleep.waits)
    assert api.stats()["responses"] == {429: 2, 200: 1}


def test_500s_are_retried_until_success(
    api: FakeAlertsApi, make_client: Callable[..., JsonHttpClient], sleep: RecordedSleep
) -> None:
    api.set_faults(rate_500=1.0, max_faults_per_page=2)
    assert make_client().get_json("/alerts", {"status": 1})["alerts"] == alerts_of(api, 1)
    assert api.stats()["responses"] == {500: 2, 200: 1}
    assert len(sleep.waits) == 2


def test_a_truncated_json_body_is_retried(
    api: FakeAlertsApi, make_client: Callable[..., JsonHttpClient]
) -> None:
    api.set_faults(malformed_rate=1.0, max_faults_per_page=1)
    assert make_client().get_json("/alerts", {"status": 3})["alerts"] == alerts_of(api, 3)
    assert api.stats()["faults"] == {"malformed": 1}
    assert api.stats()["requests"] == 2


def test_a_response_slower_than_read_timeout_is_transient(
    api: FakeAlertsApi, make_client: Callable[..., JsonHttpClient]
) -> None:
    api.set_faults(slow_rate=1.0, slow_seconds=60, max_faults_per_page=1)
    client = make_client(max_attempts=1, read_timeout=0.1)
    with pytest.raises(TransientError, match="ReadTimeoutError") as caught:
        client.get_json("/alerts", {"status": 1})
    assert isinstance(caught.value.__cause__, urllib3.exceptions.ReadTimeoutError)


def test_a_slow_response_within_read_timeout_is_answered(
    api: FakeAlertsApi, make_client: Callable[..., JsonHttpClient]
) -> None:
    api.set_faults(slow_rate=1.0, slow_seconds=0.05)
    assert len(make_client(max_attempts=1).get_json("/alerts", {"status": 1})["alerts"]) == 23
    assert api.stats()["faults"] == {"slow": 1}


def test_a_slow_response_is_retried_after_a_timeout(
    api: FakeAlertsApi, make_client: Callable[..., JsonHttpClient]
) -> None:
    api.set_faults(slow_rate=1.0, slow_seconds=60, max_faults_per_page=1)
    # 2 s: far below the fault's 60 s, far above a normal answer even on a loaded machine (0.1 s was
    # not: a first page took 116 ms at load 6, so the retry timed out too).
    assert len(make_client(read_timeout=2.0).get_json("/alerts", {"status": 5})["alerts"]) == 23
    assert api.stats()["requests"] == 2


def test_a_wrong_token_raises_auth_error_without_retrying(
    api: FakeAlertsApi, make_client: Callable[..., JsonHttpClient], sleep: RecordedSleep
) -> None:
    with pytest.raises(AuthError) as caught:
        make_client(token="not-the-token").get_json("/alerts", {"status": 1})
    assert caught.value.status == 401
    assert isinstance(caught.value, PermanentError)
    assert "not-the-token" not in str(caught.value)
    assert api.stats()["requests"] == 1
    assert sleep.waits == []


def test_no_token_provider_sends_no_authorization(api: FakeAlertsApi) -> None:
    with JsonHttpClient(api.url, token_provider=None) as client, pytest.raises(AuthError):
        client.get_json("/alerts", {"status": 1})


def test_other_4xx_raise_http_error_with_the_body_without_retrying(
    api: FakeAlertsApi, make_client: Callable[..., JsonHttpClient]
) -> None:
    with pytest.raises(HttpError) as caught:
        make_client().get_json("/alerts", {"status": 99})
    assert type(caught.value) is HttpError
    assert caught.value.status == 400
    assert "status must be" in caught.value.body
    assert api.stats()["requests"] == 1


def test_gives_up_after_max_attempts_with_the_last_transient_error(
    api: FakeAlertsApi, make_client: Callable[..., JsonHttpClient], sleep: RecordedSleep
) -> None:
    api.set_faults(rate_500=1.0, max_faults_per_page=10)
    with pytest.raises(TransientHttpError) as caught:
        make_client(max_attempts=3).get_json("/alerts", {"status": 1})
    assert caught.value.status == 500
    assert "injected fault" in caught.value.body
    assert api.stats()["requests"] == 3
    assert len(sleep.waits) == 2


def test_an_unreachable_server_is_transient(sleep: RecordedSleep) -> None:
    with FakeAlertsApi(alerts_per_status=1) as gone:
        url = gone.url
    client = JsonHttpClient(url, token_provider=None, retry_policy=RetryPolicy(max_attempts=2, sleep=sleep))
    with pytest.raises(TransientError, match="NewConnectionError"):
        client.get_json("/alerts")
    assert len(sleep.waits) == 1


def test_the_token_provider_is_asked_on_every_attempt(api: FakeAlertsApi, sleep: RecordedSleep) -> None:
    handed_out: list[str] = []

    def rotating_token() -> str:
        handed_out.append(api.token if not handed_out else "rotated")
        return handed_out[-1]

    client = JsonHttpClient(
        api.url, token_provider=rotating_token, retry_policy=RetryPolicy(max_attempts=3, sleep=sleep)
    )
    api.set_faults(rate_429=1.0, max_faults_per_page=1)
    with pytest.raises(AuthError):  # the retry after the 429 sent the new token
        client.get_json("/alerts", {"status": 1})
    assert handed_out == [api.token, "rotated"]
    assert api.stats()["responses"] == {429: 1, 401: 1}


def test_retries_are_logged_with_the_request_target_and_never_the_token(
    api: FakeAlertsApi, make_client: Callable[..., JsonHttpClient]
) -> None:
    stream = io.StringIO()
    configure_logging(stream=stream, level="INFO", json=True)
    try:
        api.set_faults(rate_429=1.0, max_faults_per_page=1)
        make_client().get_json("/alerts", {"status": 7, "page_size": 50})
    finally:
        structlog.reset_defaults()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    retries = [line for line in lines if line["message"] == "retrying after transient error"]
    assert len(retries) == 1
    assert retries[0]["http_target"] == "/alerts?status=7&page_size=50"
    assert retries[0]["http_method"] == "GET"
    assert api.token not in stream.getvalue()


def test_paginate_fetches_20_statuses_concurrently_under_faults(
    api: FakeAlertsApi, sleep: RecordedSleep
) -> None:
    api.set_faults(
        rate_429=0.2, retry_after=1.0, rate_500=0.2, malformed_rate=0.1, max_faults_per_page=2, seed=9
    )
    client = JsonHttpClient(
        api.url,
        token_provider=lambda: api.token,
        retry_policy=RetryPolicy(max_attempts=3, sleep=sleep),  # max_faults_per_page + 1
        pool_maxsize=8,  # fewer connections than threads: the pool makes the others wait
    )

    def fetch(status: int) -> list[dict[str, Any]]:
        pages = paginate(client, "/alerts", {"status": status, "page_size": 4}, "alerts")
        return [alert for page in pages for alert in page]

    with client, ThreadPoolExecutor(max_workers=len(STATUSES)) as pool:
        results = list(pool.map(fetch, STATUSES))

    served = Counter(alert["alert_id"] for alerts in results for alert in alerts)
    expected = api.expected_alerts()
    assert set(served) == set(expected)
    assert set(served.values()) == {1}
    assert [alert for alerts in results for alert in alerts] == list(expected.values())
    faults = api.stats()["faults"]
    assert set(faults) == {"429", "500", "malformed"}
    assert len(sleep.waits) == sum(faults.values())


class ScriptedClient:
    """Answers get_json with the given pages in turn and records the queries."""

    def __init__(self, *pages: Any) -> None:
        self.pages = list(pages)
        self.queries: list[dict[str, Any]] = []

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        self.queries.append(dict(params or {}))
        return self.pages.pop(0)


def test_paginate_passes_each_token_back_and_stops_on_an_empty_one() -> None:
    client = ScriptedClient(
        {"items": [1, 2], "cursor": "b"}, {"items": [3], "cursor": "c"}, {"items": [], "cursor": ""}
    )
    pages = list(paginate(client, "/things", {"q": "x"}, "items", token_key="cursor", token_param="after"))  # type: ignore[arg-type]
    assert pages == [[1, 2], [3], []]
    assert client.queries == [{"q": "x"}, {"q": "x", "after": "b"}, {"q": "x", "after": "c"}]


@pytest.mark.parametrize(
    "pages",
    [
        ({"items": [1], "next_page_token": "a"}, {"items": [2], "next_page_token": "a"}),
        ({"data": []},),
        ([1, 2],),
    ],
)
def test_paginate_refuses_a_repeated_token_or_a_page_without_items(pages: tuple[Any, ...]) -> None:
    with pytest.raises(PermanentError):
        list(paginate(ScriptedClient(*pages), "/things", None, "items"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("3", 3.0),
        ("0.5", 0.5),
        (" 2 ", 2.0),
        ("-4", 0.0),
        (format_datetime(datetime(2030, 1, 1, 0, 0, 10, tzinfo=UTC), usegmt=True), 10.0),
        ("Tue, 01 Jan 2030 00:00:10 -0000", 10.0),
        (format_datetime(datetime(2029, 12, 31, tzinfo=UTC), usegmt=True), 0.0),
        ("soon", None),
        ("nan", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after_reads_seconds_and_http_dates(header: str | None, seconds: float | None) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC).timestamp()
    assert parse_retry_after(header, now=now) == seconds
