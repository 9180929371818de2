"""The emulator's answer to a retried SDK call (tools/ministack_replay.py), on a fake ASGI app."""

from __future__ import annotations

import asyncio
from typing import Any

from ministack_replay import RetryReplay


class CreateOnce:
    """An app whose POST creates a name once: the second create is a 409, as ministack's IAM does."""

    def __init__(self, *, fail_first: int = 0, gate: asyncio.Event | None = None, body: bytes = b"") -> None:
        self.names: set[str] = set()
        self.calls = 0
        self.fail_first = fail_first
        self.gate = gate
        self.body = body

    async def __call__(self, scope, receive, send) -> None:
        self.calls += 1
        request = await receive()
        name = request.get("body", b"").decode()
        if self.gate is not None:
            await self.gate.wait()
        if self.calls <= self.fail_first:
            status, body = 500, b"InternalError"
        elif name in self.names:
            status, body = 409, b"EntityAlreadyExists"
        else:
            self.names.add(name)
            status, body = 200, self.body or f"created {name}".encode()
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"x-n", str(self.calls).encode())]}
        )
        await send({"type": "http.response.body", "body": body})


def scope(
    *, attempt: int | None, invocation: str | None = "inv-1", method: str = "POST", path: str = "/"
) -> dict:
    headers = []
    if invocation is not None:
        headers.append((b"amz-sdk-invocation-id", invocation.encode()))
    if attempt is not None:
        headers.append((b"amz-sdk-request", f"attempt={attempt}; max=25".encode()))
    return {"type": "http", "method": method, "path": path, "query_string": b"", "headers": headers}


async def call(app: Any, request_scope: dict, body: bytes = b"role-a") -> tuple[int, bytes, dict]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(request_scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], payload, dict(start["headers"])


def run(coroutine):
    return asyncio.run(coroutine)


def in_turn(app: Any, *requests: tuple[dict, bytes]) -> list[tuple[int, bytes, dict]]:
    """Each (scope, body) answered before the next is sent; the answers in order."""

    async def scenario() -> list[tuple[int, bytes, dict]]:
        return [await call(app, request_scope, body) for request_scope, body in requests]

    return asyncio.run(scenario())


def test_a_retry_of_a_create_that_happened_gets_the_first_answer_not_409():
    inner = CreateOnce()
    app = RetryReplay(inner)

    first, retry = in_turn(app, (scope(attempt=1), b"role-a"), (scope(attempt=2), b"role-a"))
    assert first[:2] == (200, b"created role-a")
    assert retry == first  # the same status, body and headers
    assert inner.calls == 1  # no second effect
    assert app.replayed == 1


def test_a_new_call_with_the_same_body_is_not_a_retry():
    inner = CreateOnce()
    app = RetryReplay(inner)

    answers = in_turn(
        app,
        (scope(attempt=1, invocation="inv-1"), b"role-a"),
        (scope(attempt=1, invocation="inv-2"), b"role-a"),
    )
    assert answers[1][0] == 409  # a second CreateRole by name is a conflict, as in AWS
    assert inner.calls == 2


def test_a_retry_of_a_failed_attempt_runs_again():
    inner = CreateOnce(fail_first=1)
    app = RetryReplay(inner)

    first, retry = in_turn(app, (scope(attempt=1), b"role-a"), (scope(attempt=2), b"role-a"))
    assert first[0] == 500
    assert retry[:2] == (200, b"created role-a")
    assert inner.calls == 2


def test_a_retry_waits_for_an_attempt_still_running_then_gets_its_answer():
    gate = asyncio.Event()
    inner = CreateOnce(gate=gate)
    app = RetryReplay(inner)

    async def scenario():
        first = asyncio.create_task(call(app, scope(attempt=1)))
        await asyncio.sleep(0)
        retry = asyncio.create_task(call(app, scope(attempt=2)))
        await asyncio.sleep(0)
        assert not retry.done()  # it waits for attempt 1
        gate.set()
        return await first, await retry

    first, retry = run(scenario())
    assert first == retry
    assert first[0] == 200
    assert inner.calls == 1


def test_reads_and_calls_without_sdk_headers_pass_through():
    inner = CreateOnce()
    app = RetryReplay(inner)

    async def scenario():
        await call(app, scope(attempt=1, method="GET"))
        get_retry = await call(app, scope(attempt=2, method="GET"))
        await call(app, scope(attempt=None, invocation=None), body=b"role-b")
        bare = await call(app, scope(attempt=None, invocation=None), body=b"role-b")
        return get_retry, bare

    get_retry, bare = run(scenario())
    assert get_retry[0] == 409  # a GET is never replayed: reading twice is harmless
    assert bare[0] == 409
    assert inner.calls == 4
    assert not app.calls


def test_a_large_answer_is_not_kept_and_its_retry_runs_again():
    inner = CreateOnce(body=b"x" * 2048)
    app = RetryReplay(inner, max_body=1024)

    async def scenario():
        await call(app, scope(attempt=1))
        return await call(app, scope(attempt=2))

    assert run(scenario())[0] == 409
    assert inner.calls == 2


def test_answers_are_forgotten_after_the_ttl_and_beyond_the_bound():
    now = [0.0]
    inner = CreateOnce()
    app = RetryReplay(inner, ttl=600, max_calls=2, clock=lambda: now[0])

    async def scenario():
        await call(app, scope(attempt=1, invocation="a"), body=b"a")
        await call(app, scope(attempt=1, invocation="b"), body=b"b")
        await call(app, scope(attempt=1, invocation="c"), body=b"c")
        assert len(app.calls) == 2  # the oldest, "a", is gone
        now[0] = 601
        await call(app, scope(attempt=1, invocation="d"), body=b"d")
        assert len(app.calls) == 1  # "b" and "c" expired

    run(scenario())


def test_the_answers_kept_never_hold_more_than_max_bytes():
    inner = CreateOnce(body=b"x" * 400)
    app = RetryReplay(inner, max_bytes=1000)
    in_turn(app, *((scope(attempt=1, invocation=name), name.encode()) for name in "abcd"))
    assert app.kept_bytes == 800  # two answers of 400 bytes: the oldest two went
    assert len(app.calls) == 2
    (retry,) = in_turn(app, (scope(attempt=2, invocation="a"), b"a"))
    assert retry[0] == 409  # "a" was forgotten: its retry runs again
    (kept,) = in_turn(app, (scope(attempt=2, invocation="d"), b"d"))
    assert kept[0] == 200
    assert app.replayed == 1


def test_an_answer_forgotten_while_its_call_ran_is_neither_counted_nor_replayed():
    gate = asyncio.Event()
    inner = CreateOnce(gate=gate)
    app = RetryReplay(inner, max_calls=1)

    async def scenario() -> None:
        slow = asyncio.create_task(call(app, scope(attempt=1, invocation="slow"), b"slow"))
        await asyncio.sleep(0)
        gate.set()
        await call(app, scope(attempt=1, invocation="next"), b"next")  # pushes "slow" out
        await slow

    asyncio.run(scenario())
    assert list(app.calls) == [(b"next", "POST", "/", b"")]
    assert app.kept_bytes == len(b"created next")
