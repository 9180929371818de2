"""Splunk HTTP Event Collector client: request bodies POSTed over one pooled, kept-alive, verified TLS
connection, under the shared retry policy.

Failures are classified as in :mod:`pipelines_shared.http`: 429 and 5xx (HEC answers 503 when its queues
are full), connection errors and timeouts are transient and retried (``Retry-After`` honoured); 400
(bad index, bad data), 401/403 (token) and a certificate that fails verification are permanent. The
token travels in the ``Authorization`` header only and is never logged, nor part of any repr or error.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any

import urllib3
from structlog.contextvars import bound_contextvars
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import LocationParseError, LocationValueError
from urllib3.exceptions import SSLError as Urllib3SSLError

from pipelines_shared.http import AuthError, HttpError, TransientHttpError, parse_retry_after
from pipelines_shared.retry import DEFAULT_POLICY, PermanentError, RetryPolicy, TransientError
from pipelines_shared.settings import SettingsError, get_secret_json

EVENT_PATH = "/services/collector/event"
BODY_EXCERPT_CHARS = 500


@dataclass(frozen=True)
class HecConfig:
    """The HEC secret: ``{"url": "https://host:8088", "token": "...", "index"?: "...", "ca_cert"?: PEM}``.

    With ``ca_cert`` the server's certificate must chain to that CA; without, to the system trust store.
    """

    url: str
    token: str = field(repr=False)
    index: str | None = None
    ca_cert: str | None = field(default=None, repr=False)

    @classmethod
    def from_secret(cls, secret: Any, *, secret_id: str) -> HecConfig:
        """Validate a decoded secret; the error names what is wrong, never a value."""
        if not isinstance(secret, dict):
            raise SettingsError(f"secret {secret_id!r} is not a JSON object")
        url, token, index, ca_cert = (secret.get(key) or None for key in ("url", "token", "index", "ca_cert"))
        problems = []
        # Plain http would send the token in the clear: there is no setting that allows it.
        if not (isinstance(url, str) and _is_https_url(url)):
            problems.append("url must be an https:// URL")
        if not isinstance(token, str):
            problems.append("token must be a non-empty string")
        if not isinstance(index, str | None):
            problems.append("index must be a string")
        if not (ca_cert is None or _is_pem_ca(ca_cert)):
            problems.append("ca_cert must hold PEM certificates")
        if problems or not isinstance(url, str) or not isinstance(token, str):
            raise SettingsError(f"secret {secret_id!r}: " + "; ".join(problems))
        return cls(url=url, token=token, index=index, ca_cert=ca_cert)


def _is_https_url(value: str) -> bool:
    try:
        parsed = urllib3.util.parse_url(value)
    except LocationParseError:
        return False
    return parsed.scheme == "https" and bool(parsed.host)


def _is_pem_ca(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=value)
    except (ssl.SSLError, ValueError):
        return False
    return True


def _certificate_rejected(error: BaseException) -> bool:
    """Whether a TLS failure is the server's certificate failing verification (not a handshake cut short)."""
    pending: list[Any] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen or not isinstance(current, BaseException):
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return True
        pending.extend([current.__cause__, current.__context__, *current.args])
    return False


class HecClient:
    """POSTs request bodies of stacked HEC events to ``<url>/services/collector/event``."""

    def __init__(
        self,
        config: HecConfig,
        *,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        retry_policy: RetryPolicy | None = None,
        user_agent: str = "lambda-pipelines csv-log-forwarder",
    ) -> None:
        self.config = config
        self.url = config.url.rstrip("/") + EVENT_PATH
        self._policy = retry_policy or DEFAULT_POLICY
        self._headers = {
            "Authorization": f"Splunk {config.token}",
            "Content-Type": "application/json",
            "User-Agent": user_agent,
        }
        self._pool = urllib3.PoolManager(
            # One connection: bodies go one after another, and a warm container keeps it open for the
            # next invocation, saving the TLS handshake.
            maxsize=1,
            block=True,
            retries=False,
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            cert_reqs="CERT_REQUIRED",
            # None: urllib3 loads the system trust store.
            ca_cert_data=config.ca_cert,
        )

    def send(self, body: bytes) -> None:
        """POST ``body``; return once HEC accepted it, raise the permanent or last transient error."""
        with bound_contextvars(http_method="POST", http_target=EVENT_PATH, body_bytes=len(body)):
            self._policy.call(self._post_once, body)

    def _post_once(self, body: bytes) -> None:
        try:
            response = self._pool.request("POST", self.url, body=body, headers=self._headers, redirect=False)
        except LocationValueError as error:
            raise PermanentError(f"POST {EVENT_PATH}: {error}") from error
        except Urllib3SSLError as error:
            if _certificate_rejected(error):
                raise PermanentError(
                    f"POST {EVENT_PATH}: TLS certificate verification failed: {error}"
                ) from error
            raise TransientError(f"POST {EVENT_PATH}: TLS: {error}") from error
        except Urllib3Error as error:  # refused, reset, timed out, answer cut short
            raise TransientError(f"POST {EVENT_PATH}: {type(error).__name__}: {error}") from error
        status = response.status
        if 200 <= status < 300:
            return
        excerpt = response.data[:BODY_EXCERPT_CHARS].decode("utf-8", errors="replace")
        message = f"POST {EVENT_PATH}: HTTP {status}: {excerpt}"
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise TransientHttpError(message, status=status, body=excerpt, retry_after=retry_after)
        if status in (401, 403):
            raise AuthError(message, status=status, body=excerpt)
        raise HttpError(message, status=status, body=excerpt)

    def close(self) -> None:
        self._pool.clear()


class SecretHecClient:
    """A :class:`HecClient` for whatever the HEC secret says now: kept while the secret stays the same, so
    a warm container reuses its connection; rebuilt when it changes.

    The secret is read through the settings cache at :meth:`refresh`, once per invocation. A 401/403
    reads it afresh once: after a rotation the cached token is the old one, and failing until the cache
    expires would send every invocation meanwhile to the DLQ.
    """

    def __init__(
        self,
        secret_id: str,
        *,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self.secret_id = secret_id
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._policy = retry_policy
        self._client: HecClient | None = None

    def refresh(self, *, max_age: float | None = None) -> HecConfig:
        """Read the secret (cached unless ``max_age``), switch clients if it changed; return its config."""
        config = self._read(max_age)
        self._client_for(config)
        return config

    def send(self, body: bytes) -> None:
        client = self._client if self._client is not None else self._client_for(self._read(None))
        try:
            client.send(body)
        except AuthError:
            fresh = self._read(0)
            if fresh == client.config:
                raise
            self._client_for(fresh).send(body)

    def _read(self, max_age: float | None) -> HecConfig:
        secret = get_secret_json(self.secret_id, max_age=max_age)
        return HecConfig.from_secret(secret, secret_id=self.secret_id)

    def _client_for(self, config: HecConfig) -> HecClient:
        if self._client is None or self._client.config != config:
            if self._client is not None:
                self._client.close()
            self._client = HecClient(
                config,
                connect_timeout=self._connect_timeout,
                read_timeout=self._read_timeout,
                retry_policy=self._policy,
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
