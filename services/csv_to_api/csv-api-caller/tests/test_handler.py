"""A redriven chunk (invoked asynchronously, no state machine around it) that stops before its deadline
goes on in a new invocation of itself, and one that made no progress fails instead of looping."""

from __future__ import annotations

import json
from typing import Any

import pytest
from csv_api_caller.handler import _resume_later
from csv_to_api.caller import ChunkFailed, ChunkResult
from csv_to_api.contract import Resume

ARN = "arn:aws:lambda:us-east-1:123456789012:function:lambda-pipelines-csv-api-caller-test"
EVENT = {
    "file": {"bucket": "b", "key": "incoming/x.csv", "etag": "e", "size": 10, "file_id": "f"},
    "feed": "default",
    "header": ["a"],
    "chunk": {"index": 3, "start": 2, "end": 10, "first_row": 1, "rows": 4, "wait_seconds": 0},
    "resume": None,
    "report_after": True,
}


class RecordingLambda:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **arguments: Any) -> dict[str, Any]:
        self.calls.append(arguments)
        return {"StatusCode": 202}


def test_an_incomplete_redriven_chunk_invokes_itself_from_where_it_stopped() -> None:
    client = RecordingLambda()
    stopped = ChunkResult(3, False, Resume(offset=6, row=3), {"accepted": 2})
    _resume_later(client, ARN, EVENT, None, stopped)
    (call,) = client.calls
    assert (call["FunctionName"], call["InvocationType"]) == (ARN, "Event")
    payload = json.loads(call["Payload"])
    assert payload == {
        **EVENT,
        "resume": {"offset": 6, "row": 3},
    }  # still report_after: it reports at the end


def test_a_resumed_invocation_that_made_progress_goes_on_and_one_that_did_not_fails() -> None:
    client = RecordingLambda()
    _resume_later(client, ARN, EVENT, Resume(6, 3), ChunkResult(3, False, Resume(8, 4), {}))
    assert json.loads(client.calls[0]["Payload"])["resume"] == {"offset": 8, "row": 4}
    with pytest.raises(ChunkFailed, match="no row done since row 4"):
        _resume_later(client, ARN, EVENT, Resume(8, 4), ChunkResult(3, False, Resume(8, 4), {}))
    assert len(client.calls) == 1
