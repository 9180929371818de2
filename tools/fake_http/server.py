"""The HTTP server under every fake: threaded, HTTP/1.1 keep-alive, loopback only, optionally HTTPS.

A fake subclasses :class:`FakeApi`, sets up its own state, calls ``super().__init__(...)`` (which starts
serving) and answers requests in the handlers its :meth:`FakeApi.routes` names, or in an override of
:meth:`FakeApi.dispatch`. Handlers run on one thread per connection: they guard shared state with a lock.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import secrets
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
from collections.abc import Callable, Mapping
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

HOST = "127.0.0.1"

Route = Callable[["Request"], None]

# A fake never needs a request body bigger than this.
MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_LINE_BYTES = 65536
MAX_HEADERS = 100
_REASONS = {status.value: status.phrase for status in HTTPStatus}


class BadRequest(Exception):
    """The request cannot be read (bad framing); the connection is answered 400 and closed."""


class Request:
    """One request, its body already read, and the ways to answer it (once)."""

    def __init__(self, handler: _Handler) -> None:
        self._handler = handler
        url = urlsplit(handler.path)
        self.method: str = handler.command
        self.path: str = url.path
        self.query_string: str = url.query
        self.headers: Mapping[str, str] = handler.fields
        """Header names in lower case; the first of repeated headers."""
        self.status: int | None = None
        """The status answered, once :meth:`send` has run; None if there was no answer."""
        self.arrived: float = handler.arrived
        """When the request line was read (epoch seconds): before the body, the handler and any lock."""
        self.body: bytes = _read_body(handler)

    @property
    def query(self) -> dict[str, str]:
        """Query parameters, the last value of each (blank values kept)."""
        return {
            name: values[-1] for name, values in parse_qs(self.query_string, keep_blank_values=True).items()
        }

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        """The body as JSON; ``ValueError`` if it is not (an empty body is not)."""
        return json.loads(self.body)

    def send(
        self,
        status: int,
        body: bytes = b"",
        *,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        # Before the write: a client that has read the answer must find it counted already.
        self._handler.server.api.answered(self, status)
        _write_response(self._handler, status, body, content_type, headers or {})

    def send_json(self, status: int, value: Any, *, headers: Mapping[str, str] | None = None) -> None:
        self.send(status, json.dumps(value).encode(), headers=headers)

    def drop(self) -> None:
        """Answer nothing and close the connection once the handler returns (a server going away)."""
        self._handler.close_connection = True

    def reset(self) -> None:
        """Close the connection now with a TCP RST, without an answer (a crashed peer or proxy)."""
        handler = self._handler
        handler.close_connection = True
        connection = handler.connection
        with contextlib.suppress(OSError):
            # SO_LINGER on, 0 s: close() discards unsent data and sends RST instead of FIN.
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # rfile holds a reference to the socket (makefile): close it too, or close() leaves the fd open.
        handler.rfile.close()
        connection.close()


def _read_body(handler: _Handler) -> bytes:
    # Always read the whole body, so the next request on this keep-alive connection starts where it should.
    if "chunked" in handler.fields.get("transfer-encoding", "").lower():
        return _read_chunked(handler)
    length_header = handler.fields.get("content-length") or "0"
    if not length_header.isdigit() or int(length_header) > MAX_BODY_BYTES:
        raise BadRequest(f"bad Content-Length {length_header[:40]!r}")
    length = int(length_header)
    body = handler.rfile.read(length) if length else b""
    if len(body) < length:
        raise BadRequest("body shorter than Content-Length")
    return body


def _read_chunked(handler: _Handler) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        size_line = handler.rfile.readline(1024).split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise BadRequest("bad chunk size") from None
        total += size
        if total > MAX_BODY_BYTES:
            raise BadRequest("body too large")
        if size == 0:
            while handler.rfile.readline(8192) not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(parts)
        chunk = handler.rfile.read(size)
        if len(chunk) < size:
            raise BadRequest("chunk shorter than announced")
        parts.append(chunk)
        handler.rfile.readline(8)  # the CRLF after the chunk


_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    global _date_cache
    now = int(time.time())
    second, text = _date_cache
    if second != now:
        text = formatdate(now, usegmt=True)
        _date_cache = (now, text)
    return text


def _write_response(
    handler: _Handler, status: int, body: bytes, content_type: str, headers: Mapping[str, str]
) -> None:
    # One write for head and body: one TCP segment for a small answer, where send_response/end_headers
    # then a body would take two system calls and two segments.
    if handler.server.api.log_requests:
        handler.log_request(status, len(body))
    lines = [
        f"HTTP/1.1 {status} {_REASONS.get(status, '')}",
        f"Server: {handler.server.api.server_version}",
        f"Date: {_http_date()}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
    ]
    for name, value in headers.items():
        lines.append(f"{name}: {value}")
        if name.lower() == "connection" and value.lower() == "close":
            handler.close_connection = True
    if handler.close_connection and not any(name.lower() == "connection" for name in headers):
        lines.append("Connection: close")
    handler.wfile.write("\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the clients' connection pools expect
    timeout = 60  # closes idle keep-alive connections
    # An answer is one write, but a "100 Continue" then the answer are two: with Nagle's algorithm the
    # second would wait ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    server: _Server
    fields: dict[str, str]
    raw_requestline: bytes
    arrived: float

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def handle(self) -> None:
        if isinstance(self.connection, ssl.SSLSocket):
            # Here, on the connection's own thread, not in accept(): a client that connects and never
            # says hello would otherwise hold up the whole server.
            try:
                self.connection.do_handshake()
            except (ssl.SSLError, OSError):  # a client that does not trust our certificate, or left
                self.close_connection = True
                return
        super().handle()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def version_string(self) -> str:
        return self.server.api.server_version

    def parse_request(self) -> bool:
        # The standard parse_request hands the headers to the email package, which costs ~90 us a
        # request: a quarter of what a small request costs in all. This reads what the fakes need.
        self.arrived = time.time()  # the request line was just read
        self.command = ""
        self.request_version = self.default_request_version
        self.close_connection = True
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = self.requestline.split()
        if len(words) != 3 or words[2] not in ("HTTP/1.0", "HTTP/1.1"):
            self.send_error(HTTPStatus.BAD_REQUEST, f"Bad request line {self.requestline[:100]!r}")
            return False
        self.command, self.path, self.request_version = words
        fields: dict[str, str] = {}
        for _ in range(MAX_HEADERS + 1):
            line = self.rfile.readline(MAX_LINE_BYTES + 1)
            if line in (b"\r\n", b"\n", b""):
                break
            name, colon, value = str(line, "iso-8859-1").partition(":")
            if len(line) > MAX_LINE_BYTES or not colon or not name or name != name.strip():
                self.send_error(HTTPStatus.BAD_REQUEST, "Bad header line")
                return False
            fields.setdefault(name.lower(), value.strip())
        else:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers")
            return False
        self.fields = fields
        connection = fields.get("connection", "").lower()
        self.close_connection = connection == "close" or (
            self.request_version == "HTTP/1.0" and connection != "keep-alive"
        )
        if fields.get("expect", "").lower() == "100-continue":
            return self.handle_expect_100()
        return True

    def _serve(self) -> None:
        try:
            request = Request(self)
        except BadRequest as error:
            self.close_connection = True  # where the next request starts is unknown
            body = json.dumps({"error": {"code": "bad_request", "message": str(error)}}).encode()
            _write_response(self, 400, body, "application/json", {})
            return
        self.server.api.dispatch(request)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.api.log_requests:
            super().log_message(format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, api: FakeApi, port: int, ssl_context: ssl.SSLContext | None) -> None:
        self.api = api
        self.ssl_context = ssl_context
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((HOST, port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would resolve our own name (socket.getfqdn), which can stall on DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = HOST, self.server_address[1]

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = self.socket.accept()
        if self.ssl_context is not None:
            # The handshake waits for the connection's thread (_Handler.handle).
            connection = self.ssl_context.wrap_socket(
                connection, server_side=True, do_handshake_on_connect=False
            )
        return connection, address

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
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError | ssl.SSLError):
            return
        super().handle_error(request, client_address)


class FakeApi:
    """A fake HTTP API serving on 127.0.0.1 from a background thread; a context manager.

    Subclasses set their state up first, then call ``super().__init__``, which binds (``port=0``: any
    free port) and starts serving. With ``ssl_context`` (a server context holding the certificate) it
    serves HTTPS. ``token`` is what :meth:`authorized` compares against (``None``: a random one).
    """

    server_version = "FakeApi/1"
    """The ``Server`` header."""
    name = "fake-api"
    """Names the serving thread."""

    def __init__(
        self,
        *,
        port: int = 0,
        token: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        log_requests: bool = False,
    ) -> None:
        self._token = token or new_token()
        self.log_requests = log_requests
        self.closing = threading.Event()
        """Set by :meth:`close`: a handler waiting to answer slowly stops waiting."""
        self._routes = dict(self.routes())
        self._paths = {path for _, path in self._routes}
        self._server = _Server(self, port, ssl_context)
        self._scheme = "http" if ssl_context is None else "https"
        self._thread = threading.Thread(
            # A short poll interval: close() waits up to one interval for the serving loop to notice.
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.name}-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def routes(self) -> Mapping[tuple[str, str], Route]:
        """``(method, path) -> handler`` for the default :meth:`dispatch`; read once, at start."""
        return {}

    def dispatch(self, request: Request) -> None:
        """Answer one request: its route's handler, else 405 (a known path) or 404."""
        route = self._routes.get((request.method, request.path))
        if route is not None:
            route(request)
        elif request.path in self._paths:
            allowed = ", ".join(sorted(method for method, path in self._routes if path == request.path))
            self.send_error(request, 405, "method_not_allowed", f"use {allowed}", headers={"Allow": allowed})
        else:
            self.send_error(request, 404, "not_found", f"no such path {request.path}")

    def answered(self, request: Request, status: int) -> None:
        """Called as ``request`` is answered ``status``, before the answer is written (for counters)."""

    def error_body(self, status: int, code: str, message: str) -> Any:
        """The JSON of an error answer; fakes of APIs with another error shape override it."""
        return {"error": {"code": code, "message": message}}

    def send_error(
        self,
        request: Request,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        request.send_json(status, self.error_body(status, code, message), headers=headers)

    def authorized(self, request: Request, scheme: str = "Bearer") -> bool:
        """Whether ``Authorization`` is ``<scheme> <token>`` (the scheme in any case)."""
        return authorized(request.header("Authorization"), scheme, self._token)

    def pause(self, seconds: float) -> bool:
        """Wait ``seconds`` (a slow answer); False if the server began closing meanwhile."""
        return not self.closing.wait(seconds)

    @property
    def port(self) -> int:
        return self._server.server_port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234`` (no trailing slash)."""
        return f"{self._scheme}://{HOST}:{self.port}"

    @property
    def token(self) -> str:
        return self._token

    def close(self) -> None:
        """Stop serving and drop open connections; in-flight slow answers end without an answer."""
        if self.closing.is_set():
            return
        self.closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._server.drop_connections()
        self._thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def authorized(header: str | None, scheme: str, token: str) -> bool:
    """Whether an ``Authorization`` header is ``<scheme> <token>``, compared in constant time."""
    given_scheme, _, credentials = (header or "").partition(" ")
    return given_scheme.lower() == scheme.lower() and hmac.compare_digest(
        credentials.encode(), token.encode()
    )


def new_token() -> str:
    return secrets.token_urlsafe(24)


def format_seconds(seconds: float) -> str:
    """Seconds as ``Retry-After`` sends them: an integer when whole (``"2"``), else a decimal (``"0.25"``)."""
    return str(int(seconds)) if seconds == int(seconds) else str(seconds)
