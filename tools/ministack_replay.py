"""Answer an AWS SDK's retry of a request the emulator already carried out with the first answer.

Every AWS SDK names one API call with an ``amz-sdk-invocation-id`` header, kept across that call's
retries, and numbers the attempts in ``amz-sdk-request: attempt=N``. When an answer is lost on its
way back (a connection cut after the server acted), the SDK sends the call again. A create that
already happened then fails: twice in CI, Terraform's ``CreateRole`` got 409 ``EntityAlreadyExists``
for the role its own first attempt had created, and the apply failed. (A packet capture showed the
Terraform provider's Go client closing the connection right after the answer's headers, before its
body: the client never saw an answer the server had sent. Attempt 2 comes 0.1 s later.)

This ASGI wrapper keeps the successful (2xx) answer of every mutating call (any method but GET,
HEAD and OPTIONS) for ten minutes: at most 4,096 calls and 64 MiB, and no answer over 1 MiB. A later
attempt of the same call (same invocation id, method, path and query) gets that answer again instead
of a second effect; a retry of an attempt that is still running waits for it. A failed first attempt
(4xx, 5xx, or no answer at all) is not kept, so its retry runs as the SDK meant it to. Each replay
and each retry is logged, so the log says which requests were retried and why.

It only depends on the ASGI interface, so it is tested in our own virtualenv
(tests/unit/test_ministack_replay.py); tools/ministack_server.py wraps ministack's app with it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_ATTEMPT = re.compile(rb"attempt=(\d+)")

log = logging.getLogger("ministack.replay")


@dataclass
class _Call:
    """One SDK call's first attempt seen here, and its answer once complete."""

    started: float
    done: asyncio.Event = field(default_factory=asyncio.Event)
    start: Message | None = None
    body: list[bytes] = field(default_factory=list)
    size: int = 0
    kept: bool = False


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return None


def _attempt(scope: Scope) -> int:
    match = _ATTEMPT.search(_header(scope, b"amz-sdk-request") or b"")
    return int(match.group(1)) if match else 1


_SERVICE = re.compile(rb"Credential=[^/]*/[^/]*/[^/]*/([^/]+)/")


def _describe(scope: Scope) -> str:
    """``METHOD service target-or-path``: the service from the SigV4 credential scope."""
    service = _SERVICE.search(_header(scope, b"authorization") or b"")
    target = _header(scope, b"x-amz-target")
    what = target.decode("latin-1") if target else scope.get("path", "")
    return f"{scope.get('method')} {service.group(1).decode('latin-1') if service else '?'} {what}"


class RetryReplay:
    """Wrap ``app`` so that a retried SDK call it already answered with 2xx is answered the same way."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        ttl: float = 600.0,
        max_calls: int = 4096,
        max_body: int = 1 << 20,
        max_bytes: int = 64 << 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.ttl = ttl
        self.max_calls = max_calls
        self.max_body = max_body
        self.max_bytes = max_bytes
        self.kept_bytes = 0
        """Bytes of the answers kept now: at most ``max_bytes``, the oldest answers go first."""
        self.clock = clock
        self.calls: OrderedDict[tuple[bytes, str, str, bytes], _Call] = OrderedDict()
        self.replayed = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or scope.get("method", "GET").upper() in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        invocation = _header(scope, b"amz-sdk-invocation-id")
        if not invocation:
            await self.app(scope, receive, send)
            return
        key = (
            invocation,
            str(scope.get("method")),
            str(scope.get("path")),
            bytes(scope.get("query_string", b"")),
        )
        self._expire()
        attempt = _attempt(scope)
        earlier = self.calls.get(key)
        if attempt > 1:
            if earlier is not None:
                running = not earlier.done.is_set()
                since = self.clock() - earlier.started
                await earlier.done.wait()
                if earlier.kept and earlier.start is not None:
                    self.replayed += 1
                    log.warning(
                        "replayed the answer of attempt 1 to %s (attempt %d, invocation %s, %.1f s after "
                        "attempt 1 began, which was %s): its first answer never reached the client",
                        _describe(scope),
                        attempt,
                        invocation.decode("latin-1"),
                        since,
                        "still running" if running else "answered",
                    )
                    await _drain(receive)
                    await send(dict(earlier.start))
                    await send({"type": "http.response.body", "body": b"".join(earlier.body)})
                    return
                log.warning(
                    "retry %d of %s (invocation %s): the earlier attempt answered %s; running it again",
                    attempt,
                    _describe(scope),
                    invocation.decode("latin-1"),
                    earlier.start.get("status") if earlier.start else "nothing",
                )
            else:
                log.warning(
                    "retry %d of %s (invocation %s): no earlier attempt arrived here; running it",
                    attempt,
                    _describe(scope),
                    invocation.decode("latin-1"),
                )
        call = _Call(started=self.clock())
        if earlier is not None:
            self._forget(key)
        self.calls[key] = call
        while len(self.calls) > self.max_calls:
            self._forget_oldest()

        async def keeping(message: Message) -> None:
            if message["type"] == "http.response.start":
                call.start = dict(message)
            elif message["type"] == "http.response.body" and call.size <= self.max_body:
                chunk = bytes(message.get("body", b""))
                call.size += len(chunk)
                call.body.append(chunk)
                if not message.get("more_body", False):
                    status = call.start.get("status", 0) if call.start else 0
                    call.kept = 200 <= status < 300 and call.size <= self.max_body
            await send(message)

        try:
            await self.app(scope, receive, keeping)
        finally:
            if call.kept and self.calls.get(key) is call:  # not forgotten while it ran
                self.kept_bytes += call.size
                while self.kept_bytes > self.max_bytes and self.calls:
                    self._forget_oldest()
            else:
                call.kept = False
                call.body.clear()
            call.done.set()

    def _forget(self, key: tuple[bytes, str, str, bytes]) -> None:
        if (gone := self.calls.pop(key)).kept:
            self.kept_bytes -= gone.size

    def _forget_oldest(self) -> None:
        self._forget(next(iter(self.calls)))

    def _expire(self) -> None:
        now = self.clock()
        while self.calls:
            oldest = next(iter(self.calls.values()))
            if now - oldest.started < self.ttl or not oldest.done.is_set():
                break
            self._forget_oldest()


async def _drain(receive: Receive) -> None:
    """Read the retried request's body, so the connection stays usable for the next request."""
    while True:
        message = await receive()
        if message.get("type") != "http.request" or not message.get("more_body", False):
            return
