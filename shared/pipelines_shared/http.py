"""JSON over HTTP for partner APIs: one pooled urllib3 client, every call under the shared retry policy.

urllib3 comes with botocore in the Lambda runtime, so this adds nothing to a zip. Its own retries are
off: the one retry policy (:mod:`pipelines_shared.retry`) decides, from how each failure is classified:

- 429 and 5xx -> :class:`TransientHttpError` (a ``TransientError``; ``Retry-After`` becomes ``retry_after``)
- connection errors and timeouts, a 2xx whose body is not JSON -> ``TransientError``
- 401/403 -> :class:`AuthError`; any other status -> :class:`HttpError` (both ``PermanentError``)

Retries are logged by the policy with ``http_target`` (path and query; the token travels in a header and
is never logged). A client is thread-safe: share one between the threads of a pool.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC
from typing import Any
from urllib.parse import urlencode

import urllib3
from structlog.contextvars import bound_contextvars
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import LocationValueError

from pipelines_shared.retry import DEFAULT_POLICY, PermanentError, RetryPolicy, TransientError

BODY_EXCERPT_CHARS = 500


class HttpError(PermanentError):
    """The server refused the request with a status that asking again will not change."""

    def __init__(self, message: str, *, status: int, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class AuthError(HttpError):
    """401 or 403: the token is missing, wrong, expired or lacks the permission."""


class TransientHttpError(TransientError):
    """429 or 5xx: the server is busy or briefly broken; ``retry_after`` is its ``Retry-After``, if any."""

    def __init__(
        self, message: str, *, status: int, body: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.status = status
        self.body = body


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds (``"2"``, ``"0.5"``) or an HTTP-date.

    None when absent or unreadable; a date in the past gives 0. ``now`` (epoch seconds) is for tests.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # "-0000" means UTC with no claim about local time
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _excerpt(body: bytes) -> str:
    return body[:BODY_EXCERPT_CHARS].decode("utf-8", errors="replace")


class JsonHttpClient:
    """GET JSON from one API with a bearer token, pooled connections, timeouts and retries.

    ``token_provider`` is called once per attempt (so a rotated secret is picked up on the next try),
    possibly from several threads at once; pass ``pipelines_shared.settings.get_secret`` bound to an id.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token_provider: Callable[[], str] | None,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        retry_policy: RetryPolicy | None = None,
        pool_maxsize: int = 20,
        user_agent: str = "lambda-pipelines",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token_provider = token_provider
        self._policy = retry_policy or DEFAULT_POLICY
        self._headers = {
            "Accept": "application/json",
            "User-Agent": user_agent,
            **urllib3.make_headers(accept_encoding=True),
        }
        self._pool = urllib3.PoolManager(
            # block=True: threads beyond pool_maxsize wait for a free connection rather than opening
            # throwaway ones (which urllib3 discards with a warning after each use).
            maxsize=pool_maxsize,
            block=True,
            retries=False,
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
        )

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``base_url + path`` with ``params`` as the query and return the decoded JSON body.

        Raises :class:`AuthError`/:class:`HttpError` at once, or the last ``TransientError`` once the
        retry policy gives up.
        """
        target = "/" + path.lstrip("/")
        if params:
            target += ("&" if "?" in target else "?") + urlencode(params, doseq=True)
        # Bound for the duration of the call, so the retry policy's log lines say which request it retries.
        with bound_contextvars(http_method="GET", http_target=target):
            return self._policy.call(self._get_once, target)

    def _get_once(self, target: str) -> Any:
        headers = dict(self._headers)
        if self._token_provider is not None:
            headers["Authorization"] = f"Bearer {self._token_provider()}"
        try:
            response = self._pool.request("GET", self.base_url + target, headers=headers, redirect=False)
        except LocationValueError as error:  # a malformed URL fails the same way every time
            raise PermanentError(f"GET {target}: {error}") from error
        except Urllib3Error as error:  # refused, reset, timed out, body cut short
            raise TransientError(f"GET {target}: {type(error).__name__}: {error}") from error
        return self._decode(target, response)

    def _decode(self, target: str, response: urllib3.BaseHTTPResponse) -> Any:
        status = response.status
        if 200 <= status < 300:
            if status == 204:
                return None
            try:
                return json.loads(response.data)
            except ValueError as error:
                # The API promises JSON, so a success whose body does not parse was almost certainly cut
                # short on the way (a server or proxy giving up mid-body but framing what it had sent):
                # asking again is the remedy. A body that is never valid still fails every attempt.
                raise TransientError(f"GET {target}: HTTP {status}, body is not JSON: {error}") from error
        body = _excerpt(response.data)
        message = f"GET {target}: HTTP {status}: {body}"
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise TransientHttpError(message, status=status, body=body, retry_after=retry_after)
        if status in (401, 403):
            raise AuthError(message, status=status, body=body)
        raise HttpError(message, status=status, body=body)

    def close(self) -> None:
        """Close pooled connections (a Lambda keeps its client for the life of the container instead)."""
        self._pool.clear()

    def __enter__(self) -> JsonHttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def paginate(  # nosec B107  # token_key and token_param name a JSON key and a query parameter
    client: JsonHttpClient,
    path: str,
    params: Mapping[str, Any] | None,
    items_key: str,
    # Names of a JSON key and a query parameter, not secrets.
    token_key: str = "next_page_token",  # noqa: S107
    token_param: str = "page_token",  # noqa: S107
) -> Iterator[list[Any]]:
    """Yield the ``items_key`` list of each page, passing ``token_key`` back as ``token_param`` until it
    is null or empty. Each page is one ``get_json`` call, retried on its own.
    """
    query = dict(params or {})
    seen: set[str] = set()
    while True:
        page = client.get_json(path, query)
        items = page.get(items_key) if isinstance(page, dict) else None
        if not isinstance(items, list):
            raise PermanentError(f"GET {path}: a page without a {items_key!r} list")
        yield items
        token = page.get(token_key)
        if not token:
            return
        # A server that hands back a token it already gave would keep a Lambda paging until it times out.
        if token in seen:
            raise PermanentError(f"GET {path}: {token_key} {token!r} came back twice")
        seen.add(token)
        query[token_param] = token
