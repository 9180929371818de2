"""The deployed shape on moto (buckets, tables, state machine, bus) and the handler on top of it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ndjson_fakes import moto_stack


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    with moto_stack(monkeypatch) as env:
        yield env


@pytest.fixture
def handler(stack: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """``lambda_handler`` with a fresh cold start: set env vars before the first call."""
    from manifest_builder import handler as module

    module.dependencies.cache_clear()  # a fresh cold start
    return module.lambda_handler
