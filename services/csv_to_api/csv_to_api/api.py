"""The partner's records API: ``POST {base}/v1/records``, one row per request (docs/csv_to_api.md).

One pooled urllib3 client per process: connections are kept alive and shared by the caller's threads.
:meth:`RecordsApi.post` makes exactly one attempt and classifies the answer; the caller decides about
retries (it must take a new send time from the shared limiter for each attempt).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error

from pipelines_shared.http import parse_retry_after

PATH = "/v1/records"


class Answer(StrEnum):
    ACCEPTED = "accepted"  # 201
    ALREADY_ACCEPTED = "already_accepted"  # 200: the key was accepted before; no second effect
    REJECTED = "rejected"  # 400, 422 and any other 4xx but 401/403/408/409/429: never retried
    RATE_LIMITED = "rate_limited"  # 429
    UNAUTHORIZED = "unauthorized"  # 401/403: the token may have been rotated
    TRANSIENT = "transient"  # 5xx, 408, 409, connection errors, timeouts, a cut-off answer


@dataclass(frozen=True, slots=True)
class Response:
    answer: Answer
    status: int = 0
    detail: str = ""
    retry_after: float | None = None
    latency_ms: float = 0.0
    """From the send to the answer read (not the limiter's wait before it)."""


class RecordsApi:
    def __init__(
        self,
        base_url: str,
        *,
        token_provider: Callable[[], str],
        connections: int = 8,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
    ) -> None:
        self.url = base_url.rstrip("/") + PATH
        self._token_provider = token_provider
        self._pool = urllib3.PoolManager(
            maxsize=connections,
            block=True,
            retries=False,
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
        )

    def post(
        self, idempotency_key: str, body: bytes, *, before_send: Callable[[], object] | None = None
    ) -> Response:
        """One attempt. ``before_send`` (the limiter's wait) runs after the token is read and the headers
        built, so that only the send itself follows the send time: a token read that goes to Secrets
        Manager must not hold a request past its time."""
        headers = {
            "Authorization": f"Bearer {self._token_provider()}",
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            "User-Agent": "lambda-pipelines-csv-api-caller",
        }
        if before_send is not None:
            before_send()
        started = time.perf_counter()
        try:
            response = self._pool.request("POST", self.url, body=body, headers=headers, redirect=False)
        except Urllib3Error as error:  # refused, reset, timed out, answer cut short
            detail = f"{type(error).__name__}: {error}"[:300]
            return Response(Answer.TRANSIENT, detail=detail, latency_ms=_since(started))
        answer = classify(response.status, response.data, response.headers.get("Retry-After"))
        return dataclasses.replace(answer, latency_ms=_since(started))

    def close(self) -> None:
        self._pool.clear()


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def classify(status: int, data: bytes, retry_after: str | None) -> Response:
    detail = _error_detail(data)
    if status == 201:
        return Response(Answer.ACCEPTED, status)
    if status == 200:
        return Response(Answer.ALREADY_ACCEPTED, status)
    if status == 429:
        return Response(Answer.RATE_LIMITED, status, detail, parse_retry_after(retry_after))
    if status in (401, 403):
        return Response(Answer.UNAUTHORIZED, status, detail)
    if status >= 500 or status in (408, 409) or status < 200 or 200 < status < 400:
        return Response(Answer.TRANSIENT, status, detail, parse_retry_after(retry_after))
    return Response(Answer.REJECTED, status, detail)


def _error_detail(data: bytes) -> str:
    """``code: message`` from ``{"error": {"code", "message"}}``, else the body's start."""
    try:
        error = json.loads(data).get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict):
        return f"{error.get('code', '')}: {error.get('message', '')}"[:500]
    if isinstance(error, str):
        return error[:500]
    return data[:300].decode("utf-8", errors="replace")
