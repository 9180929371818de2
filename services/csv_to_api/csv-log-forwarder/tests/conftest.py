"""Subscription events as CloudWatch Logs delivers them, and a fake Splunk HEC over HTTPS."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

LOG_GROUP = "/aws/lambda/lambda-pipelines-csv-api-caller-test"
LOG_STREAM = "2026/11/23/[$LATEST]0123456789abcdef0123456789abcdef"
FIRST_TIMESTAMP = 1_795_435_200_123


def log_events(messages: Sequence[str], *, first_timestamp: int = FIRST_TIMESTAMP) -> list[dict[str, Any]]:
    """Log events with ids of one length, a millisecond apart."""
    return [
        {"id": f"3{i:055d}", "timestamp": first_timestamp + i, "message": message}
        for i, message in enumerate(messages)
    ]


def encode_payload(payload: Any) -> dict[str, Any]:
    """The Lambda event for a decoded subscription payload: base64(gzip(JSON))."""
    data = base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()
    return {"awslogs": {"data": data}}


@pytest.fixture
def subscription_event() -> Callable[..., dict[str, Any]]:
    """``subscription_event(messages, **fields)``: a DATA_MESSAGE holding ``messages`` in order; ``fields``
    replace or add payload fields (``messageType="CONTROL_MESSAGE"``, ``logGroup=...``)."""

    def build(messages: Sequence[str], **fields: Any) -> dict[str, Any]:
        payload = {
            "messageType": "DATA_MESSAGE",
            "owner": "123456789012",
            "logGroup": LOG_GROUP,
            "logStream": LOG_STREAM,
            "subscriptionFilters": ["lambda-pipelines-csv-logs-test"],
            "logEvents": log_events(messages),
        }
        return encode_payload({**payload, **fields})

    return build


@pytest.fixture(scope="session")
def cert_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two directories, each for its own throwaway CA: the fake's, and one that did not sign it."""
    return tmp_path_factory.mktemp("hec-ca"), tmp_path_factory.mktemp("other-ca")


@pytest.fixture
def hec(cert_dirs: tuple[Path, Path]) -> Iterator[Any]:
    from fake_splunk_hec import FakeSplunkHec

    with FakeSplunkHec(cert_dir=cert_dirs[0], token="hec-token-1f2e3d") as server:
        yield server
