"""A small toolkit for the repo's fake HTTP APIs: a threaded keep-alive server on 127.0.0.1 (optionally
HTTPS), request and answer helpers, bearer-token checks and deterministic, bounded fault draws.

A fake subclasses :class:`FakeApi`, returns ``{(method, path): handler}`` from ``routes()`` (or overrides
``dispatch``) and answers with ``request.send_json(...)``; see tools/fake_records_api for a whole one.
TLS certificates (``fake_http.tls``) need the ``cryptography`` package and are imported on their own.
"""

from fake_http.faults import FaultBudget, check_rates, choose, config_from_json, draw
from fake_http.server import HOST, FakeApi, Request, Route, authorized, format_seconds, new_token

__all__ = [
    "HOST",
    "FakeApi",
    "FaultBudget",
    "Request",
    "Route",
    "authorized",
    "check_rates",
    "choose",
    "config_from_json",
    "draw",
    "format_seconds",
    "new_token",
]
