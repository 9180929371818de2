"""manifest-builder's documented inputs and outputs (docs/ndjson_to_parquet/schemas/): the scheduled
flush Terraform sends and the days it names, and the quarantine reason it writes beside every file it
quarantines (moto S3 and DynamoDB)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from manifest_builder.builder import ManifestBuilder
from manifest_builder.intake import QUARANTINED, FileIntake
from manifest_builder.validation import Inspector, Limits

from contract_schemas import REMOVE, contract, variant
from ndjson_asl import MODULE
from ndjson_fakes import DAY, INPUT_BUCKET, QUARANTINE_BUCKET, TRACKING_TABLE, FakeClock, s3_event
from ndjson_to_parquet import contract as c
from ndjson_to_parquet import tracking as t
from pipelines_shared import aws
from pipelines_shared.retry import PermanentError

FLUSH = contract("ndjson_to_parquet", "flush-request")
QUARANTINE = contract("ndjson_to_parquet", "quarantine-reason")
NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)


class RecordingCore:
    """The manifest core's scheduled pass, recording the days it is asked to flush."""

    def __init__(self) -> None:
        self.days: list[str] = []

    def flush(self, date_prefix: str, *, should_stop: Any = None) -> Any:
        self.days.append(date_prefix)
        return Report(date_prefix)


class Report:
    def __init__(self, date_prefix: str) -> None:
        self.date_prefix = date_prefix

    def as_dict(self) -> dict[str, Any]:
        return {"date_prefix": self.date_prefix}


def flushed(event: Any) -> list[str]:
    """The days manifest-builder flushes for ``event`` (it raises for an event it refuses)."""
    core = RecordingCore()
    ManifestBuilder(intake=None, core=core, lookback_days=2, clock=lambda: NOW).handle(event, None)  # type: ignore[arg-type]
    return core.days


def test_the_schedule_terraform_creates_sends_a_documented_flush():
    schedule = (MODULE / "functions.tf").read_text().split('resource "aws_scheduler_schedule" "flush"')[1]
    literal = re.search(r"input\s*=\s*jsonencode\(\{\s*(\w+)\s*=\s*\"(\w+)\"\s*\}\)", schedule)
    assert literal is not None, 'the flush schedule\'s input is no longer jsonencode({ name = "value" })'
    sent = {literal.group(1): literal.group(2)}
    FLUSH.assert_produced(sent)
    assert flushed(sent) == ["2026-02-01", "2026-01-31", "2026-01-30"]


@pytest.mark.parametrize("example", FLUSH.examples)
def test_manifest_builder_flushes_the_days_every_example_names(example: dict[str, Any]):
    assert flushed(example) == example.get("date_prefixes", ["2026-02-01", "2026-01-31", "2026-01-30"])


F = FLUSH.examples[1]
FLUSH_INVALID = {
    "another action": variant(F, {"action": "flsh"}),
    "no action": variant(F, {"action": REMOVE}),
    "one day as text": variant(F, {"date_prefixes": "2026-01-30"}),
    "a day without dashes": variant(F, {"date_prefixes": ["20260130"]}),
    "a day ending in a newline": variant(F, {"date_prefixes": ["2026-01-30\n"]}),
    "an array": [F],
}


@pytest.mark.parametrize(("case", "document"), FLUSH_INVALID.items(), ids=list(FLUSH_INVALID))
def test_the_schema_and_manifest_builder_refuse_the_same_flushes(case: str, document: Any):
    assert not FLUSH.is_valid(document), f"the schema accepts {case}"
    with pytest.raises(PermanentError):
        flushed(document)


@pytest.mark.usefixtures("stack")
@pytest.mark.parametrize(
    ("name", "body", "day"),
    [("notes.txt", b"{}\n", DAY), ("csv.ndjson", b"a,b\n", DAY), ("loose.ndjson", b"{}\n", "")],
)
def test_every_quarantined_file_gets_a_documented_reason(name: str, body: bytes, day: str):
    s3 = aws.client("s3")
    key = f"landing/ndjson/{day}/{name}" if day else f"landing/ndjson/{name}"
    s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=body)
    intake = FileIntake(
        s3=s3,
        files=t.file_store(TRACKING_TABLE),
        inspector=Inspector(s3, Limits(max_file_bytes=10_000_000)),
        quarantine_bucket=QUARANTINE_BUCKET,
        clock=FakeClock(),
    )
    (result,) = intake.handle_message(s3_event(key))
    assert result.outcome == QUARANTINED
    written = s3.get_object(Bucket=QUARANTINE_BUCKET, Key=c.reason_key(c.quarantine_key(key)))["Body"].read()
    QUARANTINE.assert_produced(json.loads(written))
    assert c.QuarantineReason.from_json(written).reason == result.reason
