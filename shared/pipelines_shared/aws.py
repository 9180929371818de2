"""Cached boto3 clients that all share one botocore configuration.

Endpoints are not handled here: boto3 reads the standard ``AWS_ENDPOINT_URL`` (and the per-service
``AWS_ENDPOINT_URL_<SERVICE>``) variables itself, so the same code talks to AWS or to a local emulator.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config

ENV_CONNECT_TIMEOUT = "AWS_CLIENT_CONNECT_TIMEOUT"
ENV_READ_TIMEOUT = "AWS_CLIENT_READ_TIMEOUT"
ENV_MAX_POOL_CONNECTIONS = "AWS_CLIENT_MAX_POOL_CONNECTIONS"
# Standard botocore variable; we read it ourselves because an explicit `retries` in Config wins over it.
ENV_MAX_ATTEMPTS = "AWS_MAX_ATTEMPTS"

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 20.0
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_MAX_POOL_CONNECTIONS = 16

_lock = threading.Lock()
_session: boto3.session.Session | None = None
_clients: dict[tuple[str, str | None], Any] = {}


def _env_number(name: str, default: float, cast: type[int] | type[float]) -> Any:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = cast(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r} is not a valid {cast.__name__}") from None
    if value <= 0:
        raise ValueError(f"environment variable {name}={raw!r} must be positive")
    return value


def client_config() -> Config:
    """Return the botocore Config every client uses: standard retries and explicit timeouts from env."""
    return Config(
        retries={
            "mode": "standard",
            "total_max_attempts": _env_number(ENV_MAX_ATTEMPTS, DEFAULT_MAX_ATTEMPTS, int),
        },
        connect_timeout=_env_number(ENV_CONNECT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, float),
        read_timeout=_env_number(ENV_READ_TIMEOUT, DEFAULT_READ_TIMEOUT, float),
        # Stores fan conditional writes out over a thread pool; the default pool of 10 would make them queue.
        max_pool_connections=_env_number(ENV_MAX_POOL_CONNECTIONS, DEFAULT_MAX_POOL_CONNECTIONS, int),
    )


def client(service_name: str, *, region_name: str | None = None) -> Any:
    """Return the process-wide boto3 client for ``service_name``, creating it on first use."""
    global _session
    cache_key = (service_name, region_name)
    found = _clients.get(cache_key)
    if found is not None:
        return found
    # boto3 sessions are not thread-safe while they build clients; the clients themselves are.
    with _lock:
        found = _clients.get(cache_key)
        if found is None:
            if _session is None:
                _session = boto3.session.Session()
            # The stubs type client() per literal service name; this cache serves any name, as Any.
            found = _session.client(  # type: ignore[call-overload]  # a name the stubs cannot know
                service_name, region_name=region_name, config=client_config()
            )
            _clients[cache_key] = found
        return found


def reset_clients() -> None:
    """Forget cached clients and the session, so the next call re-reads env vars (tests, emulators)."""
    global _session
    with _lock:
        _clients.clear()
        _session = None
