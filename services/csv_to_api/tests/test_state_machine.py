"""The file state machine's shape: what a failure does at each step (the same ASL runs locally and in AWS)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ASL = Path(__file__).resolve().parents[3] / "terraform" / "modules" / "csv_to_api" / "file.asl.json"


def definition() -> dict[str, Any]:
    text = re.sub(r"\$\{[a-z_]+\}", "1", ASL.read_text())
    return json.loads(text)


def test_chunks_are_staggered_bounded_and_resumed() -> None:
    states = definition()["States"]
    send = states["SendChunks"]
    assert send["Type"] == "Map"
    assert send["ResultPath"] is None  # chunk results never grow the execution's state
    inner = send["ItemProcessor"]["States"]
    assert inner["Stagger"] == {"Type": "Wait", "SecondsPath": "$.chunk.wait_seconds", "Next": "Call"}
    assert inner["MoreRows"]["Choices"][0]["Next"] == "Resume"
    assert inner["Resume"]["Next"] == "Call"
    assert inner["Resume"]["Parameters"]["resume.$"] == "$.result.r.resume"


def test_throttling_is_waited_out_and_an_exhausted_chunk_is_parked_as_a_destination_record() -> None:
    call = definition()["States"]["SendChunks"]["ItemProcessor"]["States"]["Call"]
    throttle = call["Retry"][0]
    assert "Lambda.TooManyRequestsException" in throttle["ErrorEquals"]
    assert throttle["MaxAttempts"] >= 30
    assert throttle["JitterStrategy"] == "FULL"
    # A dead function process is not backpressure: its own, short retrier (the root sets how short).
    assert "Lambda.Unknown" not in throttle["ErrorEquals"]
    (unknown,) = [retrier for retrier in call["Retry"] if "Lambda.Unknown" in retrier["ErrorEquals"]]
    assert unknown["ErrorEquals"] == ["Lambda.Unknown"]
    assert '"MaxAttempts": ${unknown_attempts}' in ASL.read_text()
    assert call["Catch"][0]["Next"] == "ParkChunk"
    park = definition()["States"]["SendChunks"]["ItemProcessor"]["States"]["ParkChunk"]
    body = park["Parameters"]["MessageBody"]
    assert body["requestContext"]["condition"] == "RetriesExhausted"
    assert body["requestPayload"]["report_after"] is True
    assert set(body["requestPayload"]) == {
        "file.$",
        "feed.$",
        "header.$",
        "chunk.$",
        "resume",
        "report_after",
    }
    assert park["Next"] == "ChunkDone"  # the file reports failed; the other chunks go on


def test_plan_and_report_failures_are_recorded_before_the_execution_fails() -> None:
    states = definition()["States"]
    for name in ("Plan", "SendChunks", "Report"):
        assert states[name]["Catch"][0]["Next"] == "RecordFailure"
    assert states["RecordFailure"]["Next"] == "Failed"
    assert states["Failed"]["Type"] == "Fail"
