"""The manifest the builder writes is the manifest the Glue job reads.

The manifest core claims tracked files and writes their manifest to (moto) S3; those bytes go to the
Glue job's own parser (glue/jobs/ndjson_to_parquet_job.py: Python 3.9, no shared code), and then
the whole job runs on them with the arguments the state machine builds from the execution input.
Every document on the way is checked against docs/ndjson_to_parquet/schemas/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

import ndjson_to_parquet_job as glue
from contract_schemas import contract
from ndjson_asl import MODULE, definition, evaluate, terraform_local
from ndjson_fakes import (
    BUS,
    DAY,
    INPUT_BUCKET,
    MANIFEST_BUCKET,
    OUTPUT_BUCKET,
    FakeClock,
    FakeEvents,
    FakeSfn,
    make_core,
    pending_item,
)
from ndjson_to_parquet import contract as c
from ndjson_to_parquet import tracking as t
from pipelines_shared import aws
from pipelines_shared.tracking import TrackedItem
from pipelines_shared.tracking.memory import MemoryTrackingStore

MANIFEST = contract("ndjson_to_parquet", "manifest")
EXECUTION = contract("ndjson_to_parquet", "execution-input")
MANIFEST_READY = contract("ndjson_to_parquet", "manifest-ready-event")
GLUE_LOG = contract("ndjson_to_parquet", "glue-job-log")

# Landed out of key order, one below a sub-folder: the manifest sorts them by file_key.
LANDED = {
    "zeta.ndjson": b'{"id": 3, "late": "z"}\n',
    "alpha.jsonl": b'{"id": 1, "amount": 1.50}\n{"id": 2, "amount": -0}\n',
    "sub/mid.ndjson": b'{"name": "caf\\u00e9", "id": 4}\n',
}


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        aws.reset_clients()
        client = aws.client("s3")
        for bucket in (INPUT_BUCKET, MANIFEST_BUCKET, OUTPUT_BUCKET):
            client.create_bucket(Bucket=bucket)
        yield client
    aws.reset_clients()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def files(s3: Any, clock: FakeClock) -> MemoryTrackingStore:
    """The landed files, tracked pending as intake tracks them (size and ETag from S3)."""
    store = MemoryTrackingStore(clock=clock)
    for name, body in LANDED.items():
        put = s3.put_object(Bucket=INPUT_BUCKET, Key=f"landing/ndjson/{DAY}/{name}", Body=body)
        item = pending_item(DAY, name, len(body))
        store.create(TrackedItem(DAY, name, t.PENDING, {**item.attributes, t.ETAG: put["ETag"].strip('"')}))
    return store


def glue_arguments(execution_input: dict[str, Any]) -> list[str]:
    """The Arguments the StartGlueJob state builds from the execution input, as Glue's sys.argv."""
    start = definition()["States"]["StartGlueJob"]["Parameters"]
    arguments = evaluate(start["Arguments"], execution_input, {})
    return [token for name, value in arguments.items() for token in (name, value)]


def read(s3: Any, uri: str) -> bytes:
    bucket, key = c.parse_s3_uri(uri)
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def build_one(s3: Any, files: MemoryTrackingStore, clock: FakeClock, sfn: FakeSfn) -> dict[str, Any]:
    core = make_core(files, MemoryTrackingStore(clock=clock), s3, sfn=sfn, clock=clock, max_files=len(LANDED))
    assert len(core.build(DAY).created) == 1
    [started] = sfn.started
    execution_input = json.loads(started["input"])
    EXECUTION.assert_produced(execution_input)
    assert started["name"] == execution_input["manifest_id"]
    return execution_input


def test_the_glue_job_reads_the_manifest_the_builder_wrote(s3, files, clock):
    execution_input = build_one(s3, files, clock, FakeSfn())
    raw = read(s3, execution_input["manifest_path"])
    MANIFEST.assert_produced(json.loads(raw))

    parsed = glue.parse_manifest(raw, expected_id=execution_input["manifest_id"])
    assert [f.file_key for f in parsed.files] == sorted(LANDED)
    for entry in parsed.files:
        head = s3.head_object(Bucket=INPUT_BUCKET, Key=f"landing/ndjson/{DAY}/{entry.file_key}")
        assert entry.uri == c.s3_uri(INPUT_BUCKET, f"landing/ndjson/{DAY}/{entry.file_key}")
        assert (entry.size, entry.etag) == (head["ContentLength"], head["ETag"].strip('"'))
    assert parsed.total_bytes == execution_input["total_bytes"] == sum(map(len, LANDED.values()))
    assert (parsed.manifest_id, parsed.date_prefix) == (execution_input["manifest_id"], DAY)
    assert len(parsed.files) == execution_input["file_count"]


def test_the_glue_job_converts_the_manifest_with_the_state_machines_arguments(s3, files, clock):
    execution_input = build_one(s3, files, clock, FakeSfn())
    args = glue.resolve_args([*glue_arguments(execution_input), "--JOB_RUN_ID", "jr_1"], {})
    assert (args["manifest_path"], args["output_path"], args["manifest_id"]) == (
        execution_input["manifest_path"],
        execution_input["output_path"],
        execution_input["manifest_id"],
    )
    glue.run(args, s3)

    log = json.loads(read(s3, glue.log_uri(args["manifest_path"], args["manifest_id"])))
    GLUE_LOG.assert_produced(log)
    assert (log["status"], log["rows"], log["input_files"]) == ("succeeded", 4, 3)
    # Columns in first-appearance order over the files in manifest (file_key) order.
    assert log["columns"] == ["id", "amount", "name", "late"]
    assert all(part.startswith(execution_input["output_path"]) for part in log["output_files"])
    for part in log["output_files"]:
        assert read(s3, part)[:4] == b"PAR1"


def test_a_file_replaced_after_manifesting_fails_the_run_with_a_documented_log(s3, files, clock):
    execution_input = build_one(s3, files, clock, FakeSfn())
    s3.put_object(Bucket=INPUT_BUCKET, Key=f"landing/ndjson/{DAY}/zeta.ndjson", Body=b'{"id": "new"}\n')
    args = glue.resolve_args(glue_arguments(execution_input), {})
    with pytest.raises(glue.JobError, match="changed since it was manifested"):
        glue.run(args, s3)
    log = json.loads(read(s3, glue.log_uri(args["manifest_path"], args["manifest_id"])))
    GLUE_LOG.assert_produced(log)
    assert log["status"] == "failed"
    assert "zeta.ndjson" in log["error"]


def test_a_manifest_announced_on_the_bus_is_the_event_the_rule_matches(s3, files, clock):
    events = FakeEvents()
    core = make_core(
        files,
        MemoryTrackingStore(clock=clock),
        s3,
        events=events,
        clock=clock,
        max_files=len(LANDED),
        start_mode="eventbridge",
        event_bus_name=BUS,
    )
    [manifest_id] = core.build(DAY).created
    [entry] = events.entries
    assert entry["EventBusName"] == BUS
    delivered = {
        "version": "0",
        "id": "0d079340-135a-c8c6-95c2-41fb8f496c53",
        "detail-type": entry["DetailType"],
        "source": entry["Source"],
        "account": "123456789012",
        "time": "2026-02-01T12:00:01Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": json.loads(entry["Detail"]),
    }
    MANIFEST_READY.assert_produced(delivered)
    assert delivered["detail"]["manifest_id"] == manifest_id
    # The rule Terraform creates matches this source and detail-type and passes the detail on as the
    # execution input.
    assert (entry["Source"], entry["DetailType"]) == (
        terraform_local("event_source"),
        terraform_local("event_type"),
    )
    assert 'input_path = "$.detail"' in (MODULE / "orchestration.tf").read_text()
