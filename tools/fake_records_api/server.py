"""A local fake of the partner's records API (pipeline csv_to_api), with its rate limit and faults.

Contract: ``POST /v1/records`` with ``Authorization: Bearer <token>`` and ``Idempotency-Key: <file
id>:<row>``, body one JSON object (a CSV row). Answers: 201 ``{"id", "idempotency_key"}`` accepted;
200 the same when that key was accepted before (nothing stored twice); 400 body not a JSON object or a
missing/malformed key; 401 bad token; 422 (or 400) a row matching a reject rule; 429 with
``Retry-After`` over the rate limit; 500/502/503 or a reset connection when injected. Errors are
``{"error": {"code", "message"}}``.

Rate limit: at most ``rate_limit`` requests to ``/v1/records`` in any sliding second (0: no limit);
one more is answered 429 and does not count. ``Retry-After`` is the time until the window has room,
rounded up to a tenth of a second (``"0.3"``, ``"1"``).

Faults are decided per idempotency key: its n-th attempt draws from a RNG keyed on (seed, key, n), so
a request sequence gets the same faults in every run, and a key is faulted at most
``max_faults_per_key`` times. Reject rules are not faults: they answer every attempt the same.

Control endpoints (no token, never counted or limited): ``GET|POST /_faults`` (fields of
:class:`FaultConfig`), ``GET|POST /_config`` (``{"rate_limit": n}``), ``GET /_requests[?since=i]``,
``GET /_records[?since=i]``, ``GET /_stats``, ``POST /_reset`` (optional ``{"rate_limit": n}``).
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import json
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fake_http import FakeApi, FaultBudget, Request, Route, check_rates, config_from_json
from fake_http.server import format_seconds

PATH = "/v1/records"
KEY_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,128}:[1-9][0-9]*")
FAULT_KINDS = ("429", "500", "502", "503", "reset", "lost_answer", "slow")


@dataclass(frozen=True)
class RejectRule:
    """Rows whose ``field`` equals ``equals`` (JSON value) or matches ``pattern`` (``re.search`` on the
    value as text, JSON text for non-strings) are rejected with ``status`` and error ``code``."""

    field: str
    equals: Any = None
    pattern: str | None = None
    status: int = 422
    code: str = "rejected"

    def __post_init__(self) -> None:
        if not isinstance(self.field, str) or not self.field:
            raise ValueError("a reject rule needs a field name")
        if (self.pattern is None) == (self.equals is None):
            raise ValueError("a reject rule needs exactly one of equals and pattern")
        if self.pattern is not None:
            if not isinstance(self.pattern, str):
                raise ValueError("pattern must be a string")
            try:
                re.compile(self.pattern)
            except re.error as error:
                raise ValueError(f"pattern {self.pattern!r}: {error}") from None
        if self.status not in (400, 422):
            raise ValueError("a reject rule's status is 400 or 422")
        if not isinstance(self.code, str) or not self.code:
            raise ValueError("code must be a non-empty string")

    def matches(self, row: Mapping[str, Any]) -> bool:
        if self.field not in row:
            return False
        value = row[self.field]
        if self.pattern is not None:
            text = value if isinstance(value, str) else json.dumps(value)
            return re.search(self.pattern, text) is not None
        # JSON equality: true is not 1.
        return bool(value == self.equals) and isinstance(value, bool) == isinstance(self.equals, bool)


@dataclass(frozen=True)
class FaultConfig:
    """What the server does wrong, and how often; one fault at most per request."""

    rate_429: float = 0.0
    retry_after: float = 1.0
    """Seconds sent in an injected 429's ``Retry-After``."""
    rate_500: float = 0.0
    rate_502: float = 0.0
    rate_503: float = 0.0
    reset_rate: float = 0.0
    """The connection is reset (TCP RST) before the row is looked at: nothing stored."""
    lost_answer_rate: float = 0.0
    """The row is handled (stored, if it is accepted), then the connection is reset: the answer is lost,
    and the client's retry gets 200."""
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    """How long a slow answer waits before the row is handled as usual."""
    max_faults_per_key: int = 2
    seed: int = 0
    reject_rules: tuple[RejectRule, ...] = field(default=())

    def __post_init__(self) -> None:
        check_rates([rate for _, rate in self.rates()])
        if self.retry_after < 0 or self.slow_seconds < 0 or self.max_faults_per_key < 0:
            raise ValueError("retry_after, slow_seconds and max_faults_per_key must be >= 0")
        if not isinstance(self.reject_rules, list | tuple):
            raise ValueError("reject_rules must be a list")
        rules = []
        for rule in self.reject_rules:
            if isinstance(rule, RejectRule):
                rules.append(rule)
            elif isinstance(rule, dict):
                try:
                    rules.append(RejectRule(**rule))
                except TypeError as error:
                    raise ValueError(f"reject rule {rule}: {error}") from None
            else:
                raise ValueError("each reject rule is an object")
        object.__setattr__(self, "reject_rules", tuple(rules))

    @classmethod
    def from_json(cls, data: Any) -> FaultConfig:
        """Build from a decoded JSON object; ``ValueError`` on unknown fields or wrong types."""
        return config_from_json(cls, data)

    def rates(self) -> tuple[tuple[str, float], ...]:
        rates = (
            self.rate_429,
            self.rate_500,
            self.rate_502,
            self.rate_503,
            self.reset_rate,
            self.lost_answer_rate,
            self.slow_rate,
        )
        return tuple(zip(FAULT_KINDS, rates, strict=True))

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def busiest_second(times: Iterable[float], *, tolerance: float = 0.0) -> int:
    """The most requests in any window ``(t - 1 s, t]``, the window the limit is enforced on; an arrival
    within ``tolerance`` of ``t - 1 s`` counts as out of it (for send times on an exact lattice)."""
    ordered = sorted(times)
    best = left = 0
    for right, t in enumerate(ordered):
        while ordered[left] <= t - 1.0 + tolerance:
            left += 1
        best = max(best, right - left + 1)
    return best


class _SlidingWindow:
    """Arrival times of the requests that count, sorted; not locked (the caller is).

    Arrivals are stamped before their thread takes the lock, so they may come here a little out of
    order: a request is admitted only if every one-second window ``(a - 1, a]`` holding it, including
    windows that end at later arrivals already counted, stays within the limit.
    """

    SLACK = 0.5
    """How far out of order an arrival may come, in seconds: older times are kept that much longer."""

    def __init__(self) -> None:
        self._times: list[float] = []

    def admit(self, now: float, limit: int) -> float | None:
        """Count a request at ``now`` and return None, or return the seconds until there is room."""
        times = self._times
        del times[: bisect.bisect_right(times, now - 1.0 - self.SLACK)]
        if limit <= 0:
            times.clear()  # no limit: nothing to remember
            return None
        later = times[bisect.bisect_right(times, now) : bisect.bisect_left(times, now + 1.0)]
        for end in (now, *later):
            first = bisect.bisect_right(times, end - 1.0)
            held = bisect.bisect_right(times, end) - first
            if held >= limit:
                # Room comes when all but limit - 1 of that window's requests have left it.
                return max(0.001, times[first + held - limit] + 1.0 - now)
        bisect.insort(times, now)
        return None

    def release(self, now: float) -> None:
        """Uncount the request counted at ``now`` (it was answered 429 after all)."""
        with contextlib.suppress(ValueError):  # already out of the window
            self._times.remove(now)

    def clear(self) -> None:
        self._times.clear()


@dataclass
class _Entry:
    t: float
    key: str | None
    body: Any
    status: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"t": self.t, "key": self.key, "status": self.status, "body": self.body}


class FakeRecordsApi(FakeApi):
    """The fake records API running in a background thread on 127.0.0.1; a context manager.

    ``rate_limit`` is requests per second to ``/v1/records`` (0: none); ``POST /_reset`` returns to it.
    """

    server_version = "FakeRecordsApi/1"
    name = "fake-records-api"

    def __init__(
        self,
        *,
        token: str | None = None,
        port: int = 0,
        rate_limit: int = 0,
        log_requests: bool = False,
    ) -> None:
        if rate_limit < 0:
            raise ValueError("rate_limit must be >= 0")
        self.start_rate_limit = rate_limit
        self._lock = threading.Lock()
        self._rate_limit = rate_limit
        self._window = _SlidingWindow()
        self._faults = FaultConfig()
        self._budget = FaultBudget()
        self._requests: list[_Entry] = []
        self._records: dict[str, dict[str, Any]] = {}
        self._responses: Counter[int] = Counter()
        self._faults_injected: Counter[str] = Counter()
        self._resets = 0
        self._rate_limited = 0
        super().__init__(port=port, token=token, log_requests=log_requests)

    # --- the Python side of the control endpoints ---

    def set_faults(self, **settings: Any) -> FaultConfig:
        """Replace the fault configuration (fields of :class:`FaultConfig`; omitted ones take defaults).

        Per-key attempt and fault counts restart, so a test's request sequence starts from attempt 1.
        """
        config = FaultConfig(**settings)
        with self._lock:
            self._faults = config
            self._budget.clear()
        return config

    @property
    def rate_limit(self) -> int:
        return self._rate_limit

    def set_rate_limit(self, rate_limit: int) -> None:
        """Change the limit now; requests already in the window still count against the new one."""
        if isinstance(rate_limit, bool) or not isinstance(rate_limit, int) or rate_limit < 0:
            raise ValueError("rate_limit must be an integer >= 0")
        with self._lock:
            self._rate_limit = rate_limit

    def reset(self, rate_limit: int | None = None) -> None:
        """Forget requests, records, faults and counts; the rate limit goes back to its start value."""
        limit = self.start_rate_limit if rate_limit is None else rate_limit
        self.set_rate_limit(limit)
        with self._lock:
            self._window.clear()
            self._faults = FaultConfig()
            self._budget.clear()
            self._requests.clear()
            self._records.clear()
            self._responses.clear()
            self._faults_injected.clear()
            self._resets = self._rate_limited = 0

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        """Every request to ``/v1/records`` from the ``since``-th on, in arrival order: ``{"t", "key",
        "status", "body"}``, the status None for a reset connection (or an answer not yet sent)."""
        with self._lock:
            return [entry.to_json() for entry in self._requests[since:]]

    def records(self, since: int = 0) -> list[dict[str, Any]]:
        """The accepted rows ``{"key", "body", "t", "id"}``, in the order they were accepted."""
        with self._lock:
            return [dict(record) for record in list(self._records.values())[since:]]

    def stats(self) -> dict[str, Any]:
        """Requests to ``/v1/records``, answers by status, resets, faults by kind, records stored."""
        with self._lock:
            return {
                "requests": len(self._requests),
                "responses": dict(self._responses),
                "resets": self._resets,
                "rate_limited": self._rate_limited,
                "faults": dict(self._faults_injected),
                "records": len(self._records),
                "rate_limit": self._rate_limit,
            }

    # --- request handling (handler threads) ---

    def routes(self) -> Mapping[tuple[str, str], Route]:
        return {
            ("POST", PATH): self._post_record,
            ("GET", "/_faults"): lambda request: request.send_json(200, self._faults.to_json()),
            ("POST", "/_faults"): self._post_faults,
            ("GET", "/_config"): lambda request: request.send_json(200, {"rate_limit": self._rate_limit}),
            ("POST", "/_config"): self._post_config,
            ("GET", "/_requests"): self._get_requests,
            ("GET", "/_records"): self._get_records,
            ("GET", "/_stats"): lambda request: request.send_json(200, self.stats()),
            ("POST", "/_reset"): self._post_reset,
        }

    def _post_record(self, request: Request) -> None:
        key = request.header("Idempotency-Key")
        body = _decode(request.body)
        with self._lock:
            # Its arrival, not the time this thread got the lock: with many connections, threads queue
            # for the GIL and the lock, and stamping them here would bunch evenly spaced requests.
            # One clock for the log and the window: /_requests shows what was limited.
            now = request.arrived
            entry = _Entry(now, key, body)
            self._requests.append(entry)
            config = self._faults
            wait = self._window.admit(now, self._rate_limit)
            verdict = "limit" if wait is not None else self._check(request, key, config)
            if verdict == "limit":
                self._rate_limited += 1
            elif verdict == "429":
                self._window.release(now)  # a 429 does not count, injected or not
        if wait is not None:
            retry_after = max(0.1, math.ceil(wait * 10 - 1e-9) / 10)
            self._answer_error(entry, request, 429, "rate_limited", "over the rate limit", retry_after)
        elif verdict == "401":
            headers = {"WWW-Authenticate": 'Bearer realm="records"'}
            message = "missing or invalid bearer token"
            self._answer_error(entry, request, 401, "unauthorized", message, headers=headers)
        elif verdict == "400" or key is None:
            message = "Idempotency-Key must be <file id>:<row>, the file id [A-Za-z0-9._-]{1,128}, row >= 1"
            self._answer_error(entry, request, 400, "invalid_idempotency_key", message)
        elif verdict == "429":
            self._answer_error(entry, request, 429, "rate_limited", "injected fault", config.retry_after)
        elif verdict in ("500", "502", "503"):
            self._answer_error(entry, request, int(verdict), "server_error", "injected fault")
        elif verdict == "reset":
            self._reset(request)
        elif verdict == "slow" and not self.pause(config.slow_seconds):
            request.drop()  # shutting down: leave without an answer
        else:
            self._handle_row(entry, request, key, body, config, lost_answer=verdict == "lost_answer")

    def _check(self, request: Request, key: str | None, config: FaultConfig) -> str | None:
        """Under the lock: "401"/"400" for a bad token or key, else the fault drawn for this attempt."""
        if not self.authorized(request):
            return "401"
        if key is None or not KEY_PATTERN.fullmatch(key):
            return "400"
        fault = self._budget.pick(
            (key,), seed=config.seed, rates=config.rates(), limit=config.max_faults_per_key
        )
        if fault is not None:
            self._faults_injected[fault] += 1
        return fault

    def _handle_row(
        self, entry: _Entry, request: Request, key: str, body: Any, config: FaultConfig, *, lost_answer: bool
    ) -> None:
        if not isinstance(body, dict):
            self._answer_error(entry, request, 400, "invalid_body", "the body must be one JSON object")
            return
        for rule in config.reject_rules:
            if rule.matches(body):
                message = f"field {rule.field!r} is not acceptable"
                self._answer_error(entry, request, rule.status, rule.code, message)
                return
        with self._lock:
            record = self._records.get(key)
            status = 200 if record is not None else 201
            if record is None:
                record = {"key": key, "body": body, "t": entry.t, "id": f"rec_{len(self._records) + 1:08d}"}
                self._records[key] = record
        if lost_answer:
            self._reset(request)
            return
        self._answer(entry, request, status, {"id": record["id"], "idempotency_key": key})

    def _answer(
        self,
        entry: _Entry,
        request: Request,
        status: int,
        value: Any,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        with self._lock:
            entry.status = status
            self._responses[status] += 1
        request.send_json(status, value, headers=headers)

    def _answer_error(
        self,
        entry: _Entry,
        request: Request,
        status: int,
        code: str,
        message: str,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        all_headers = dict(headers or {})
        if retry_after is not None:
            all_headers["Retry-After"] = format_seconds(retry_after)
        self._answer(entry, request, status, self.error_body(status, code, message), all_headers)

    def _reset(self, request: Request) -> None:
        with self._lock:
            self._resets += 1
        request.reset()

    def _post_faults(self, request: Request) -> None:
        try:
            config = FaultConfig.from_json(json.loads(request.body or b"{}"))
        except ValueError as error:  # JSONDecodeError is a ValueError too
            self.send_error(request, 400, "invalid_faults", str(error))
            return
        self.set_faults(**{f.name: getattr(config, f.name) for f in dataclasses.fields(config)})
        request.send_json(200, config.to_json())

    def _post_config(self, request: Request) -> None:
        try:
            self.set_rate_limit(_rate_limit_from(request.body, required=True) or 0)
        except ValueError as error:
            self.send_error(request, 400, "invalid_config", str(error))
            return
        request.send_json(200, {"rate_limit": self._rate_limit})

    def _post_reset(self, request: Request) -> None:
        try:
            rate_limit = _rate_limit_from(request.body, required=False)
            self.reset(rate_limit)
        except ValueError as error:
            self.send_error(request, 400, "invalid_reset", str(error))
            return
        request.send_json(200, {"rate_limit": self._rate_limit})

    def _get_requests(self, request: Request) -> None:
        since = _since(request)
        if since is None:
            self.send_error(request, 400, "invalid_request", "since must be an integer >= 0")
            return
        requests = self.requests(since)
        request.send_json(200, {"requests": requests, "next": since + len(requests)})

    def _get_records(self, request: Request) -> None:
        since = _since(request)
        if since is None:
            self.send_error(request, 400, "invalid_request", "since must be an integer >= 0")
            return
        records = self.records(since)
        request.send_json(200, {"records": records, "next": since + len(records)})


def _decode(body: bytes) -> Any:
    """The body as JSON, else as text (what /_requests shows of it)."""
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", errors="replace")


def _since(request: Request) -> int | None:
    value = request.query.get("since", "0")
    return int(value) if value.isdigit() else None


def _rate_limit_from(body: bytes, *, required: bool) -> int | None:
    data = json.loads(body) if body.strip() else {}
    if not isinstance(data, dict) or set(data) - {"rate_limit"}:
        raise ValueError('expected {"rate_limit": <requests per second, 0 for none>}')
    if "rate_limit" not in data:
        if required:
            raise ValueError("rate_limit is required")
        return None
    value = data["rate_limit"]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("rate_limit must be an integer >= 0")
    return int(value)
