"""A local fake of the external alerts API, with the faults a real one has, for tests and the local stack.

Contract: ``GET /alerts?status={1..20}&page_size={n}&page_token={t}`` with ``Authorization: Bearer
<token>`` answers ``{"alerts": [...], "next_page_token": "..." | null}``; no or a wrong token is 401,
a bad parameter 400 with a JSON error. Two control endpoints, which need no token and are not
counted: ``POST /_faults`` (JSON body: the fields of :class:`FaultConfig`) and ``GET /_stats``.

Faults are decided per page: the n-th request for a page (status, page_token) draws from a RNG keyed on
(fault seed, status, page_token, n), so the same request sequence gets the same faults in every run,
however other pages are interleaved. A page is faulted at most ``max_faults_per_page`` times, so a
client that tries ``max_faults_per_page + 1`` times always gets through.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fake_alerts_api.dataset import STATUSES, Dataset
from fake_http import FakeApi, FaultBudget, Request, Route, check_rates, choose, config_from_json, draw
from fake_http.server import format_seconds

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
FAULT_KINDS = ("429", "500", "malformed", "slow")
_CONTROL = frozenset({("POST", "/_faults"), ("GET", "/_stats")})


@dataclass(frozen=True)
class FaultConfig:
    """What the server does wrong, and how often; one fault at most per request."""

    rate_429: float = 0.0
    retry_after: float = 1.0
    """Seconds sent in the 429's ``Retry-After`` (an integer when whole, else a decimal)."""
    rate_500: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    """How long a slow response waits before answering normally."""
    malformed_rate: float = 0.0
    """A 200 whose JSON body is cut in half."""
    max_faults_per_page: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        check_rates((self.rate_429, self.rate_500, self.malformed_rate, self.slow_rate))
        if self.retry_after < 0 or self.slow_seconds < 0 or self.max_faults_per_page < 0:
            raise ValueError("retry_after, slow_seconds and max_faults_per_page must be >= 0")

    @classmethod
    def from_json(cls, data: Any) -> FaultConfig:
        """Build from a decoded JSON object; ``ValueError`` on unknown fields or wrong types."""
        return config_from_json(cls, data)

    def rates(self) -> tuple[tuple[str, float], ...]:
        return tuple(
            zip(FAULT_KINDS, (self.rate_429, self.rate_500, self.malformed_rate, self.slow_rate), strict=True)
        )

    def pick(self, status: int, page_token: str, attempt: int) -> str | None:
        """The fault (one of ``FAULT_KINDS``) for request number ``attempt`` of a page, or None."""
        return choose(draw(self.seed, status, page_token, attempt), self.rates())


def encode_page_token(status: int, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{status}:{offset}".encode()).decode().rstrip("=")


def decode_page_token(token: str, status: int) -> int | None:
    """The offset a token of ``status`` points at, or None if it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    match = re.fullmatch(r"(\d+):(\d+)", text)
    if not match or int(match[1]) != status:
        return None
    return int(match[2])


class _BadRequest(Exception):
    pass


class FakeAlertsApi(FakeApi):
    """The fake API running in a background thread on 127.0.0.1; a context manager.

    ``alerts_per_status`` is one count for all 20 statuses or a dict status -> count. Every
    ``large_every``-th alert of a status (0 for none) is ``large_bytes`` long, the others ``small_bytes``.
    """

    server_version = "FakeAlertsApi/1"
    name = "fake-alerts-api"

    def __init__(
        self,
        alerts_per_status: int | Mapping[int, int] = 100,
        *,
        seed: int = 0,
        token: str | None = None,
        port: int = 0,
        large_every: int = 10,
        large_bytes: int = 200_000,
        small_bytes: int = 2_000,
        hostile_ids: bool = False,
        log_requests: bool = False,
    ) -> None:
        self.dataset = Dataset(
            alerts_per_status,
            seed=seed,
            large_every=large_every,
            large_bytes=large_bytes,
            small_bytes=small_bytes,
            hostile_ids=hostile_ids,
        )
        self._lock = threading.Lock()
        self._faults = FaultConfig()
        self._budget = FaultBudget()
        self._requests = 0
        self._responses: Counter[int] = Counter()
        self._faults_injected: Counter[str] = Counter()
        super().__init__(port=port, token=token, log_requests=log_requests)

    def set_faults(self, **settings: Any) -> FaultConfig:
        """Replace the fault configuration (fields of :class:`FaultConfig`; omitted ones take defaults).

        Per-page request and fault counts restart, so a test's request sequence starts from attempt 1.
        """
        config = FaultConfig(**settings)
        with self._lock:
            self._faults = config
            self._budget.clear()
        return config

    def stats(self) -> dict[str, Any]:
        """Requests to the API (not the control endpoints), responses by status code, faults by kind."""
        with self._lock:
            return {
                "requests": self._requests,
                "responses": dict(self._responses),
                "faults": dict(self._faults_injected),
            }

    def expected_alerts(self) -> dict[str, dict[str, Any]]:
        """The whole data set, alert_id -> alert, as the API serves it."""
        alerts = (json.loads(body) for body in self.dataset)
        return {alert["alert_id"]: alert for alert in alerts}

    # --- request handling (handler threads) ---

    def routes(self) -> Mapping[tuple[str, str], Route]:
        return {("GET", "/alerts"): self._get_alerts}

    def dispatch(self, request: Request) -> None:
        # The control endpoints are neither counted nor part of the API: any other request is.
        if (request.method, request.path) == ("POST", "/_faults"):
            self._post_faults(request)
            return
        if (request.method, request.path) == ("GET", "/_stats"):
            request.send_json(200, self.stats())
            return
        with self._lock:
            self._requests += 1
        super().dispatch(request)

    def answered(self, request: Request, status: int) -> None:
        if (request.method, request.path) in _CONTROL:
            return
        with self._lock:
            self._responses[status] += 1

    def error_body(self, status: int, code: str, message: str) -> Any:
        return {"error": code, "message": message}

    def _post_faults(self, request: Request) -> None:
        try:
            config = FaultConfig.from_json(json.loads(request.body or b"{}"))
        except ValueError as error:  # JSONDecodeError is a ValueError too
            self.send_error(request, 400, "invalid_faults", str(error))
            return
        self.set_faults(**dataclasses.asdict(config))
        request.send_json(200, dataclasses.asdict(config))

    def _get_alerts(self, request: Request) -> None:
        if not self.authorized(request):
            headers = {"WWW-Authenticate": 'Bearer realm="alerts"'}
            self.send_error(request, 401, "unauthorized", "missing or invalid bearer token", headers=headers)
            return
        try:
            status, page_size, page_token, offset = self._parse(request.query)
        except _BadRequest as error:
            self.send_error(request, 400, "invalid_request", str(error))
            return

        fault, faults = self._draw_fault(status, page_token)
        if fault == "429":
            headers = {"Retry-After": format_seconds(faults.retry_after)}
            self.send_error(request, 429, "rate_limited", "slow down", headers=headers)
            return
        if fault == "500":
            self.send_error(request, 500, "internal_error", "injected fault")
            return
        if fault == "slow" and not self.pause(faults.slow_seconds):
            request.drop()  # shutting down: leave without an answer
            return

        count = self.dataset.counts[status]
        alerts = self.dataset.page(status, offset, page_size)
        end = offset + len(alerts)
        next_token = encode_page_token(status, end) if end < count else None
        body = b"".join(
            (b'{"alerts": [', b", ".join(alerts), b'], "next_page_token": ', json.dumps(next_token).encode())
        )
        body += b"}"
        if fault == "malformed":
            # Any proper prefix of a JSON object is invalid JSON; Content-Length matches what is sent.
            body = body[: len(body) // 2]
        request.send(200, body)

    def _parse(self, params: Mapping[str, str]) -> tuple[int, int, str, int]:
        status = _int_param(params, "status", None)
        if status is None or status not in STATUSES:
            raise _BadRequest(f"status must be an integer 1..{STATUSES[-1]}")
        page_size = _int_param(params, "page_size", DEFAULT_PAGE_SIZE)
        if page_size is None or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise _BadRequest(f"page_size must be an integer 1..{MAX_PAGE_SIZE}")
        page_token = params.get("page_token", "")
        offset = 0
        if page_token:
            decoded = decode_page_token(page_token, status)
            if decoded is None or not 0 < decoded < self.dataset.counts[status]:
                raise _BadRequest("page_token is not valid for this status")
            offset = decoded
        return status, page_size, page_token, offset

    def _draw_fault(self, status: int, page_token: str) -> tuple[str | None, FaultConfig]:
        with self._lock:
            config = self._faults
            fault = self._budget.pick(
                (status, page_token), seed=config.seed, rates=config.rates(), limit=config.max_faults_per_page
            )
            if fault is not None:
                self._faults_injected[fault] += 1
            return fault, config


def _int_param(params: Mapping[str, str], name: str, default: int | None) -> int | None:
    value = params.get(name)
    if value is None:
        return default
    if not re.fullmatch(r"\d{1,9}", value):
        raise _BadRequest(f"{name} must be an integer")
    return int(value)
