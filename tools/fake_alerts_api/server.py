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
import contextlib
import dataclasses
import hmac
import json
import random
import re
import secrets
import socket
import socketserver
import sys
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fake_alerts_api.dataset import STATUSES, Dataset

HOST = "127.0.0.1"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
FAULT_KINDS = ("429", "500", "malformed", "slow")


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
        rates = (self.rate_429, self.rate_500, self.malformed_rate, self.slow_rate)
        if any(not 0 <= rate <= 1 for rate in rates) or sum(rates) > 1:
            raise ValueError("fault rates must be within 0..1 and add up to at most 1")
        if self.retry_after < 0 or self.slow_seconds < 0 or self.max_faults_per_page < 0:
            raise ValueError("retry_after, slow_seconds and max_faults_per_page must be >= 0")

    @classmethod
    def from_json(cls, data: Any) -> FaultConfig:
        """Build from a decoded JSON object; ``ValueError`` on unknown fields or wrong types."""
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        fields = {field.name: field.type for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ValueError(f"unknown fields {unknown}; known: {sorted(fields)}")
        for name, value in data.items():
            wanted = (int,) if fields[name] == "int" else (int, float)
            if isinstance(value, bool) or not isinstance(value, wanted):
                raise ValueError(f"{name} must be a number")
        return cls(**data)

    def pick(self, status: int, page_token: str, attempt: int) -> str | None:
        """The fault (one of ``FAULT_KINDS``) for request number ``attempt`` of a page, or None."""
        draw = random.Random(f"{self.seed}/{status}/{page_token}/{attempt}").random()  # noqa: S311
        bound = 0.0
        for kind, rate in zip(
            FAULT_KINDS, (self.rate_429, self.rate_500, self.malformed_rate, self.slow_rate), strict=True
        ):
            bound += rate
            if draw < bound:
                return kind
        return None


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


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
    server_version = "FakeAlertsApi/1"
    timeout = 60  # closes idle keep-alive connections
    # Headers and body go out in two writes; with Nagle's algorithm each response would then wait ~40 ms
    # for the client's delayed ACK.
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def do_GET(self) -> None:
        self.server.api._dispatch(self)

    def do_POST(self) -> None:
        self.server.api._dispatch(self)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.api.log_requests:
            super().log_message(format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, api: FakeAlertsApi, port: int) -> None:
        self.api = api
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((HOST, port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would resolve our own name (socket.getfqdn), which can stall on DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = HOST, self.server_address[1]

    def track(self, connection: socket.socket, *, add: bool) -> None:
        with self._connections_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def drop_connections(self) -> None:
        """Shut down keep-alive connections, whose threads would otherwise wait for the client."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (its read timeout) has closed the socket we are writing to: expected.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class FakeAlertsApi:
    """The fake API running in a background thread on 127.0.0.1; a context manager.

    ``alerts_per_status`` is one count for all 20 statuses or a dict status -> count. Every
    ``large_every``-th alert of a status (0 for none) is ``large_bytes`` long, the others ``small_bytes``.
    """

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
        self._token = token or secrets.token_urlsafe(24)
        self.log_requests = log_requests
        self._lock = threading.Lock()
        self._faults = FaultConfig()
        self._attempts: Counter[tuple[int, str]] = Counter()
        self._page_faults: Counter[tuple[int, str]] = Counter()
        self._requests = 0
        self._responses: Counter[int] = Counter()
        self._faults_injected: Counter[str] = Counter()
        self._closing = threading.Event()
        self._server = _Server(self, port)
        self._thread = threading.Thread(
            # A short poll interval: close() waits up to one interval for the serving loop to notice.
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-alerts-api-{self.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234`` (no trailing slash)."""
        return f"http://{HOST}:{self.port}"

    @property
    def token(self) -> str:
        return self._token

    def set_faults(self, **settings: Any) -> FaultConfig:
        """Replace the fault configuration (fields of :class:`FaultConfig`; omitted ones take defaults).

        Per-page request and fault counts restart, so a test's request sequence starts from attempt 1.
        """
        config = FaultConfig(**settings)
        with self._lock:
            self._faults = config
            self._attempts.clear()
            self._page_faults.clear()
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

    def close(self) -> None:
        """Stop serving and drop open connections; in-flight slow responses end without an answer."""
        if self._closing.is_set():
            return
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._server.drop_connections()
        self._thread.join()

    def __enter__(self) -> FakeAlertsApi:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- request handling (handler threads) ---

    def _dispatch(self, handler: _Handler) -> None:
        url = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        # Always read the body, so the next request on this keep-alive connection starts where it should.
        body = handler.rfile.read(length) if length else b""
        if url.path == "/_faults" and handler.command == "POST":
            self._post_faults(handler, body)
        elif url.path == "/_stats" and handler.command == "GET":
            self._send(handler, 200, json.dumps(self.stats()).encode(), counted=False)
        else:
            with self._lock:
                self._requests += 1
            if url.path != "/alerts":
                self._send_error(handler, 404, "not_found", f"no such path {url.path}")
            elif handler.command != "GET":
                self._send_error(handler, 405, "method_not_allowed", "use GET")
            else:
                self._get_alerts(handler, url.query)

    def _post_faults(self, handler: _Handler, body: bytes) -> None:
        try:
            config = FaultConfig.from_json(json.loads(body or b"{}"))
        except ValueError as error:  # JSONDecodeError is a ValueError too
            self._send_error(handler, 400, "invalid_faults", str(error), counted=False)
            return
        self.set_faults(**dataclasses.asdict(config))
        self._send(handler, 200, json.dumps(dataclasses.asdict(config)).encode(), counted=False)

    def _authorized(self, header: str | None) -> bool:
        scheme, _, credentials = (header or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(credentials.encode(), self._token.encode())

    def _get_alerts(self, handler: _Handler, query: str) -> None:
        if not self._authorized(handler.headers.get("Authorization")):
            headers = {"WWW-Authenticate": 'Bearer realm="alerts"'}
            self._send_error(handler, 401, "unauthorized", "missing or invalid bearer token", headers=headers)
            return
        try:
            status, page_size, page_token, offset = self._parse(query)
        except _BadRequest as error:
            self._send_error(handler, 400, "invalid_request", str(error))
            return

        fault, faults = self._draw_fault(status, page_token)
        if fault == "429":
            retry_after = faults.retry_after
            seconds = str(int(retry_after)) if retry_after == int(retry_after) else str(retry_after)
            self._send_error(handler, 429, "rate_limited", "slow down", headers={"Retry-After": seconds})
            return
        if fault == "500":
            self._send_error(handler, 500, "internal_error", "injected fault")
            return
        if fault == "slow" and self._closing.wait(faults.slow_seconds):
            handler.close_connection = True  # shutting down: leave without an answer
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
        self._send(handler, 200, body)

    def _parse(self, query: str) -> tuple[int, int, str, int]:
        params = {name: values[-1] for name, values in parse_qs(query, keep_blank_values=True).items()}
        status = _int_param(params, "status", None)
        if status not in STATUSES:
            raise _BadRequest(f"status must be an integer 1..{STATUSES[-1]}")
        page_size = _int_param(params, "page_size", DEFAULT_PAGE_SIZE)
        if not 1 <= page_size <= MAX_PAGE_SIZE:
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
        page = (status, page_token)
        with self._lock:
            config = self._faults
            self._attempts[page] += 1
            if self._page_faults[page] >= config.max_faults_per_page:
                return None, config
            fault = config.pick(status, page_token, self._attempts[page])
            if fault is not None:
                self._page_faults[page] += 1
                self._faults_injected[fault] += 1
            return fault, config

    def _send_error(
        self,
        handler: _Handler,
        code: int,
        error: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        counted: bool = True,
    ) -> None:
        body = json.dumps({"error": error, "message": message}).encode()
        self._send(handler, code, body, headers=headers, counted=counted)

    def _send(
        self,
        handler: _Handler,
        code: int,
        body: bytes,
        *,
        headers: Mapping[str, str] | None = None,
        counted: bool = True,
    ) -> None:
        if counted:
            with self._lock:
                self._responses[code] += 1
        handler.send_response(code)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)


def _int_param(params: Mapping[str, str], name: str, default: int | None) -> int | None:
    value = params.get(name)
    if value is None:
        return default
    if not re.fullmatch(r"\d{1,9}", value):
        raise _BadRequest(f"{name} must be an integer")
    return int(value)
