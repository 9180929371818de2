"""A local fake of a Splunk HTTP Event Collector (HEC), served over HTTPS with a throwaway CA.

Contract: ``POST /services/collector/event`` (also ``/services/collector`` and
``/services/collector/event/1.0``) with ``Authorization: Splunk <token>``; the body is one or more JSON
event objects back to back (Splunk's batch format, whitespace or newlines between them allowed,
``Content-Encoding: gzip`` too), each with ``"event"`` and optionally ``time``, ``host``, ``source``,
``sourcetype``, ``index``, ``fields``. Answers, as Splunk words them:

- 200 ``{"text": "Success", "code": 0}``: every event of the batch is stored;
- 401 ``{"text": "Token is required", "code": 2}`` without the header, ``{"text": "Invalid token",
  "code": 4}`` with a wrong one (real Splunk answers the latter with 403);
- 400 ``{"text": "No data", "code": 5}``, ``{"text": "Invalid data format", "code": 6}``, ``{"text":
  "Event field is required", "code": 12}`` or ``{"text": "Event field cannot be blank", "code": 13}``,
  with ``"invalid-event-number"`` (0-based) where one event is at fault; nothing of the batch is stored;
- 503 ``{"text": "Server is busy", "code": 9}`` when injected.

Faults are decided per batch: the n-th attempt of a body (by its SHA-256) draws from a RNG keyed on
(seed, digest, n), and a batch is faulted at most ``max_faults_per_batch`` times.

Control endpoints (no token, not counted): ``GET|POST /_faults``, ``GET /_events[?since=i]``,
``GET /_stats``, ``POST /_reset``. ``GET /services/collector/health`` answers as Splunk's does.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import threading
import zlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fake_http import FakeApi, FaultBudget, Request, Route, check_rates, config_from_json
from fake_http.tls import Certificates, make_certificates

COLLECTOR_PATHS = ("/services/collector", "/services/collector/event", "/services/collector/event/1.0")
FAULT_KINDS = ("503", "slow")
_STRING_FIELDS = ("host", "source", "sourcetype", "index")


@dataclass(frozen=True)
class FaultConfig:
    """What the collector does wrong, and how often; one fault at most per request."""

    rate_503: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    """How long a slow answer waits before the batch is handled as usual."""
    max_faults_per_batch: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        check_rates((self.rate_503, self.slow_rate))
        if self.slow_seconds < 0 or self.max_faults_per_batch < 0:
            raise ValueError("slow_seconds and max_faults_per_batch must be >= 0")

    @classmethod
    def from_json(cls, data: Any) -> FaultConfig:
        """Build from a decoded JSON object; ``ValueError`` on unknown fields or wrong types."""
        return config_from_json(cls, data)

    def rates(self) -> tuple[tuple[str, float], ...]:
        return (("503", self.rate_503), ("slow", self.slow_rate))


class InvalidBatch(ValueError):
    """A batch HEC refuses: ``text`` and ``code`` as Splunk sends them, the 0-based event at fault."""

    def __init__(self, text: str, code: int, event_number: int | None = None) -> None:
        super().__init__(text)
        self.text, self.code, self.event_number = text, code, event_number

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"text": self.text, "code": self.code}
        if self.event_number is not None:
            body["invalid-event-number"] = self.event_number
        return body


def parse_batch(data: bytes) -> list[dict[str, Any]]:
    """The events of a HEC body (JSON objects back to back); :class:`InvalidBatch` if HEC would refuse it."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidBatch("Invalid data format", 6) from None
    decoder = json.JSONDecoder()
    events: list[dict[str, Any]] = []
    position, end = 0, len(text)
    while True:
        while position < end and text[position] in " \t\r\n":
            position += 1
        if position == end:
            break
        number = len(events)
        try:
            event, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            raise InvalidBatch("Invalid data format", 6, number) from None
        _check_event(event, number)
        events.append(event)
    if not events:
        raise InvalidBatch("No data", 5)
    return events


def _check_event(event: Any, number: int) -> None:
    if not isinstance(event, dict):
        raise InvalidBatch("Invalid data format", 6, number)
    if "event" not in event:
        raise InvalidBatch("Event field is required", 12, number)
    if event["event"] in ("", None):
        raise InvalidBatch("Event field cannot be blank", 13, number)
    when = event.get("time")
    if when is not None:
        numeric = isinstance(when, int | float) and not isinstance(when, bool)
        if not numeric and not (isinstance(when, str) and _is_number(when)):
            raise InvalidBatch("Invalid data format", 6, number)
    if any(name in event and not isinstance(event[name], str) for name in _STRING_FIELDS):
        raise InvalidBatch("Invalid data format", 6, number)
    if "fields" in event and not isinstance(event["fields"], dict):
        raise InvalidBatch("Invalid data format", 6, number)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class FakeSplunkHec(FakeApi):
    """The fake collector serving HTTPS on 127.0.0.1 from a background thread; a context manager.

    ``cert_dir`` holds (or gets) the throwaway CA and the server's certificate; clients verify against
    :attr:`ca_pem` / :attr:`ca_file`.
    """

    server_version = "Splunkd"
    name = "fake-splunk-hec"

    def __init__(
        self,
        cert_dir: Path,
        *,
        token: str | None = None,
        port: int = 0,
        log_requests: bool = False,
    ) -> None:
        self.certificates: Certificates = make_certificates(Path(cert_dir))
        self._lock = threading.Lock()
        self._faults = FaultConfig()
        self._budget = FaultBudget()
        self._events: list[dict[str, Any]] = []
        self._requests = 0
        self._batches = 0
        self._responses: Counter[int] = Counter()
        self._faults_injected: Counter[str] = Counter()
        super().__init__(
            port=port,
            token=token,
            ssl_context=self.certificates.server_context(),
            log_requests=log_requests,
        )

    @property
    def ca_pem(self) -> str:
        """The CA certificate (PEM) to verify this server with (urllib3: ``ca_cert_data=``)."""
        return self.certificates.ca_pem

    @property
    def ca_file(self) -> Path:
        return self.certificates.ca_file

    def set_faults(self, **settings: Any) -> FaultConfig:
        """Replace the fault configuration (fields of :class:`FaultConfig`; omitted ones take defaults).

        Per-batch attempt and fault counts restart.
        """
        config = FaultConfig(**settings)
        with self._lock:
            self._faults = config
            self._budget.clear()
        return config

    def events(self, since: int = 0) -> list[dict[str, Any]]:
        """Every stored event, as sent, in the order received."""
        with self._lock:
            return self._events[since:]

    def stats(self) -> dict[str, Any]:
        """Requests to the collector, answers by status, faults by kind, batches and events stored."""
        with self._lock:
            return {
                "requests": self._requests,
                "responses": dict(self._responses),
                "faults": dict(self._faults_injected),
                "batches": self._batches,
                "events": len(self._events),
            }

    def reset(self) -> None:
        """Forget events, faults and counts."""
        with self._lock:
            self._faults = FaultConfig()
            self._budget.clear()
            self._events.clear()
            self._requests = self._batches = 0
            self._responses.clear()
            self._faults_injected.clear()

    # --- request handling (handler threads) ---

    def routes(self) -> Mapping[tuple[str, str], Route]:
        routes: dict[tuple[str, str], Route] = {("POST", path): self._post_events for path in COLLECTOR_PATHS}
        routes[("GET", "/services/collector/health")] = lambda request: request.send_json(
            200, {"text": "HEC is healthy", "code": 17}
        )
        routes[("GET", "/_faults")] = lambda request: request.send_json(200, dataclasses.asdict(self._faults))
        routes[("POST", "/_faults")] = self._post_faults
        routes[("GET", "/_events")] = self._get_events
        routes[("GET", "/_stats")] = lambda request: request.send_json(200, self.stats())
        routes[("POST", "/_reset")] = self._post_reset
        return routes

    def error_body(self, status: int, code: str, message: str) -> Any:
        return {"text": message, "code": status}

    def _post_events(self, request: Request) -> None:
        with self._lock:
            self._requests += 1
        header = request.header("Authorization")
        if not header:
            self._answer(request, 401, {"text": "Token is required", "code": 2})
            return
        if not self.authorized(request, scheme="Splunk"):
            self._answer(request, 401, {"text": "Invalid token", "code": 4})
            return
        fault, config = self._draw_fault(request.body)
        if fault == "503":
            self._answer(request, 503, {"text": "Server is busy", "code": 9})
            return
        if fault == "slow" and not self.pause(config.slow_seconds):
            request.drop()  # shutting down: leave without an answer
            return
        try:
            events = parse_batch(_decompressed(request))
        except InvalidBatch as error:
            self._answer(request, 400, error.body())
            return
        with self._lock:
            self._events.extend(events)
            self._batches += 1
        self._answer(request, 200, {"text": "Success", "code": 0})

    def _draw_fault(self, body: bytes) -> tuple[str | None, FaultConfig]:
        digest = hashlib.sha256(body).hexdigest()
        with self._lock:
            config = self._faults
            fault = self._budget.pick(
                (digest,), seed=config.seed, rates=config.rates(), limit=config.max_faults_per_batch
            )
            if fault is not None:
                self._faults_injected[fault] += 1
            return fault, config

    def _answer(self, request: Request, status: int, body: Any) -> None:
        with self._lock:
            self._responses[status] += 1
        request.send_json(status, body)

    def _post_faults(self, request: Request) -> None:
        try:
            config = FaultConfig.from_json(json.loads(request.body or b"{}"))
        except ValueError as error:  # JSONDecodeError is a ValueError too
            request.send_json(400, {"text": f"invalid faults: {error}", "code": 400})
            return
        self.set_faults(**dataclasses.asdict(config))
        request.send_json(200, dataclasses.asdict(config))

    def _get_events(self, request: Request) -> None:
        since = request.query.get("since", "0")
        if not since.isdigit():
            request.send_json(400, {"text": "since must be an integer >= 0", "code": 400})
            return
        events = self.events(int(since))
        request.send_json(200, {"events": events, "next": int(since) + len(events)})

    def _post_reset(self, request: Request) -> None:
        self.reset()
        request.send_json(200, {"text": "Success", "code": 0})


def _decompressed(request: Request) -> bytes:
    if (request.header("Content-Encoding") or "").lower() != "gzip":
        return request.body
    try:
        return gzip.decompress(request.body)
    except (OSError, EOFError, zlib.error):
        raise InvalidBatch("Invalid data format", 6) from None
