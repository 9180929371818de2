"""Pipeline 001's core messages against their schemas (docs/ndjson_to_parquet/schemas/): what the
contract classes write validates; their parsers, and the Glue job's own manifest parser, take every
example and refuse what the schema refuses.

The Glue job parses manifests on its own (Python 3.9, no shared code) and checks what it uses:
version, manifest_id (usable in object names, equal to its --manifest_id argument), the files and
file_count. Fields it does not read (date_prefix, created_at, reason, total_bytes, sizes) it
ignores, which is why some cases below are the core parser's alone.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

import ndjson_to_parquet_job as glue
from contract_schemas import REMOVE, contract, variant
from ndjson_to_parquet import contract as c
from pipelines_shared.clock import utc_now

MANIFEST = contract("ndjson_to_parquet", "manifest")
EXECUTION = contract("ndjson_to_parquet", "execution-input")
STATUS_UPDATE = contract("ndjson_to_parquet", "status-update")
RESULT = contract("ndjson_to_parquet", "status-update-result")
QUARANTINE = contract("ndjson_to_parquet", "quarantine-reason")

CORE, GLUE = "core", "glue"
BOTH = (CORE, GLUE)
INPUT = "s3://ndjson-parquet-input-dev-123456789012/landing/ndjson/2026-02-01/"


# -- manifest --------------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", sorted(c.MANIFEST_REASONS))
def test_what_the_core_writes_as_a_manifest_validates(reason: str):
    files = [
        c.ManifestFile("b/second.jsonl", INPUT + "b/second.jsonl", 0),
        c.ManifestFile("first.ndjson", INPUT + "first.ndjson", 1024, "9a0364b9e99bb480dd25e1f0284c8555"),
    ]
    created = datetime(2026, 2, 1, 12, 0, 0, 123456, tzinfo=UTC)
    manifest = c.Manifest.build("batch-20260201-120000-1a2b3c4d", "2026-02-01", created, reason, files)
    MANIFEST.assert_produced(json.loads(manifest.to_json()))


@pytest.mark.parametrize("example", MANIFEST.examples)
def test_both_manifest_readers_take_every_example_alike(example: dict[str, Any]):
    raw = json.dumps(example).encode()
    core = c.Manifest.from_json(raw)
    job = glue.parse_manifest(raw, expected_id=example["manifest_id"])
    listed = [(f["file_key"], f["uri"], f["size"], f.get("etag", "")) for f in example["files"]]
    assert [(f.file_key, f.uri, f.size, f.etag) for f in core.files] == listed
    assert [(f.file_key, f.uri, f.size, f.etag) for f in job.files] == listed
    assert (core.manifest_id, core.date_prefix) == (job.manifest_id, job.date_prefix)
    assert job.total_bytes == core.total_bytes == example["total_bytes"]


M = MANIFEST.examples[0]
MANIFEST_INVALID: dict[str, tuple[Any, tuple[str, ...]]] = {
    "version 2": (variant(M, {"version": 2}), BOTH),
    "version as text": (variant(M, {"version": "1"}), BOTH),
    "version true": (variant(M, {"version": True}), BOTH),
    "no version": (variant(M, {"version": REMOVE}), BOTH),
    "manifest_id with a path": (variant(M, {"manifest_id": "../batch-20260201-120000-1a2b3c4d"}), BOTH),
    "manifest_id ending in a newline": (variant(M, {"manifest_id": M["manifest_id"] + "\n"}), BOTH),
    "manifest_id not batch-...": (variant(M, {"manifest_id": "nightly-20260201"}), (CORE,)),
    "date_prefix without zeros": (variant(M, {"date_prefix": "2026-2-1"}), (CORE,)),
    "no created_at": (variant(M, {"created_at": REMOVE}), (CORE,)),
    "created_at not a time": (variant(M, {"created_at": "yesterday"}), (CORE,)),
    "unknown reason": (variant(M, {"reason": "manual"}), (CORE,)),
    "no file_count": (variant(M, {"file_count": REMOVE}), (CORE,)),
    "file_count as text": (variant(M, {"file_count": "2"}), BOTH),
    "total_bytes as text": (variant(M, {"total_bytes": "3072"}), (CORE,)),
    "no files": (variant(M, {"files": REMOVE}), BOTH),
    "empty files": (variant(M, {"files": [], "file_count": 0, "total_bytes": 0}), BOTH),
    "a file that is not an object": (variant(M, {"files/0": "data-001.ndjson"}), BOTH),
    "an https uri": (variant(M, {"files/0/uri": "https://example.com/data-001.ndjson"}), BOTH),
    "an s3 uri without bucket": (variant(M, {"files/0/uri": "s3:///landing/ndjson/x.ndjson"}), BOTH),
    "an empty file_key": (variant(M, {"files/0/file_key": ""}), BOTH),
    "no file_key": (variant(M, {"files/0/file_key": REMOVE}), BOTH),
    "a negative size": (variant(M, {"files/0/size": -1}), BOTH),
    "a size as text": (variant(M, {"files/0/size": "1024"}), BOTH),
    "no size": (variant(M, {"files/0/size": REMOVE}), (CORE,)),
    "a numeric etag": (variant(M, {"files/0/etag": 5}), BOTH),
    "an array": ([M], BOTH),
}


def refused_by(raw: bytes, expected_id: str | None) -> set[str]:
    refused = set()
    try:
        c.Manifest.from_json(raw)
    except c.InvalidManifest:
        refused.add(CORE)
    try:
        glue.parse_manifest(raw, expected_id=expected_id)
    except glue.ManifestError:
        refused.add(GLUE)
    return refused


@pytest.mark.parametrize(
    ("case", "document", "readers"),
    [(case, *value) for case, value in MANIFEST_INVALID.items()],
    ids=list(MANIFEST_INVALID),
)
def test_the_schema_and_the_manifest_readers_refuse_the_same_manifests(case, document, readers):
    assert not MANIFEST.is_valid(document), f"the schema accepts {case}"
    # The Glue job is started for the manifest it reads: its --manifest_id is the document's.
    expected_id = document.get("manifest_id") if isinstance(document, dict) else None
    refused = refused_by(json.dumps(document).encode(), expected_id)
    assert refused >= set(readers), f"accepted by {sorted(set(readers) - refused)}"


BEYOND_THE_SCHEMA = {
    "a file listed twice": variant(
        M, {"files": [M["files"][0], M["files"][0]], "total_bytes": 2 * M["files"][0]["size"]}
    ),
    "file_count not the number of files": variant(M, {"file_count": 3}),
}


@pytest.mark.parametrize("document", BEYOND_THE_SCHEMA.values(), ids=list(BEYOND_THE_SCHEMA))
def test_rules_the_schema_cannot_say_are_kept_by_both_readers(document: dict[str, Any]):
    assert MANIFEST.is_valid(document)  # documented in the schema's description and the page
    assert refused_by(json.dumps(document).encode(), document["manifest_id"]) == set(BOTH)


def test_the_execution_input_names_the_record_of_its_own_manifest():
    other = variant(E, {"manifest_key": "MANIFEST#batch-20260201-120000-ffffffff"})
    assert EXECUTION.is_valid(other)  # a rule between two fields: the description says it
    with pytest.raises(c.InvalidExecutionInput):
        c.ExecutionInput.from_json(json.dumps(other))


def test_the_glue_job_refuses_a_manifest_of_another_run():
    with pytest.raises(glue.ManifestError, match="started for"):
        glue.parse_manifest(json.dumps(M), expected_id="batch-20260201-120000-ffffffff")


# -- execution input -------------------------------------------------------------------------------


def test_what_the_core_writes_as_execution_input_validates():
    value = c.ExecutionInput(
        manifest_id="batch-20260201-120000-1a2b3c4d",
        date_prefix="2026-02-01",
        manifest_key=c.manifest_record_key("batch-20260201-120000-1a2b3c4d"),
        manifest_path="s3://m-bucket/"
        + c.manifest_object_key("2026-02-01", "batch-20260201-120000-1a2b3c4d"),
        file_count=2,
        total_bytes=3072,
        glue_job_name="ndjson-parquet-spark-job-dev",
        output_path=c.output_path("o-bucket", "2026-02-01"),
    )
    EXECUTION.assert_produced(json.loads(value.to_json()))


@pytest.mark.parametrize("example", EXECUTION.examples)
def test_the_execution_input_parser_takes_every_example(example: dict[str, Any]):
    assert c.ExecutionInput.from_json(json.dumps(example)).to_dict() == example


E = EXECUTION.examples[0]
EXECUTION_INVALID = {
    "version 2": variant(E, {"version": 2}),
    "version true": variant(E, {"version": True}),
    "no manifest_key": variant(E, {"manifest_key": REMOVE}),
    "date_prefix not a date": variant(E, {"date_prefix": "today"}),
    "file_count as text": variant(E, {"file_count": "2"}),
    "manifest_path not in s3": variant(E, {"manifest_path": "/tmp/manifest.json"}),
    "output_path not in s3": variant(E, {"output_path": "/tmp/out/"}),
    "empty glue_job_name": variant(E, {"glue_job_name": ""}),
    "no glue_job_name": variant(E, {"glue_job_name": REMOVE}),
}


@pytest.mark.parametrize(("case", "document"), EXECUTION_INVALID.items(), ids=list(EXECUTION_INVALID))
def test_the_schema_and_the_execution_input_parser_refuse_the_same_inputs(case: str, document: Any):
    assert not EXECUTION.is_valid(document), f"the schema accepts {case}"
    with pytest.raises(c.InvalidExecutionInput):
        c.ExecutionInput.from_json(json.dumps(document))


# -- status update and its result ------------------------------------------------------------------


@pytest.mark.parametrize("example", STATUS_UPDATE.examples)
def test_the_status_updater_parses_every_example_event(example: dict[str, Any]):
    update = c.StatusUpdate.from_event(example)
    assert update.to_dict() == example


def test_an_event_without_run_id_and_error_reads_them_as_null():
    event = variant(STATUS_UPDATE.examples[0], {"glue_job_run_id": REMOVE, "error": REMOVE})
    assert STATUS_UPDATE.is_valid(event)
    update = c.StatusUpdate.from_event(event)
    assert (update.glue_job_run_id, update.error) == (None, None)


S = STATUS_UPDATE.examples[1]
STATUS_UPDATE_INVALID = {
    "version 2": variant(S, {"version": 2}),
    "version true": variant(S, {"version": True}),
    "no manifest_id": variant(S, {"manifest_id": REMOVE}),
    "manifest_id not batch-...": variant(S, {"manifest_id": "nightly"}),
    "date_prefix without dashes": variant(S, {"date_prefix": "20260201"}),
    "manifest_path not in s3": variant(S, {"manifest_path": "https://example.com/m.json"}),
    "outcome succeeded": variant(S, {"outcome": "succeeded"}),
    "no outcome": variant(S, {"outcome": REMOVE}),
    "numeric glue_job_run_id": variant(S, {"glue_job_run_id": 5}),
    "an array": [S],
}


@pytest.mark.parametrize(("case", "document"), STATUS_UPDATE_INVALID.items(), ids=list(STATUS_UPDATE_INVALID))
def test_the_schema_and_the_status_updater_refuse_the_same_events(case: str, document: Any):
    assert not STATUS_UPDATE.is_valid(document), f"the schema accepts {case}"
    with pytest.raises(c.InvalidStatusUpdate):
        c.StatusUpdate.from_event(document)


def test_an_error_object_is_kept_as_text_although_the_schema_wants_a_string():
    """A deliberate tolerance of the parser (Step Functions can hand over Catch's error object as
    is); the state machine itself always sends text, which test_state_machine_contracts checks."""
    event = variant(S, {"error": {"Error": "States.Timeout", "Cause": "late"}})
    assert not STATUS_UPDATE.is_valid(event)
    assert json.loads(c.StatusUpdate.from_event(event).error) == {"Error": "States.Timeout", "Cause": "late"}


def test_what_the_status_updater_answers_validates():
    result = c.StatusUpdateResult("batch-20260201-120000-1a2b3c4d", "failed", updated=3, already=1, skipped=1)
    RESULT.assert_produced(result.to_dict())


# -- quarantine reason -----------------------------------------------------------------------------


@pytest.mark.parametrize("reason", sorted(c.QUARANTINE_REASONS))
def test_what_the_core_writes_as_a_quarantine_reason_validates(reason: str):
    value = c.QuarantineReason(
        source=INPUT + "x.ndjson",
        reason=reason,
        detail="line 1: not an object",
        quarantined_at=datetime(2026, 2, 1, 12, 0, 5, tzinfo=UTC).isoformat(),
    )
    QUARANTINE.assert_produced(json.loads(value.to_json()))


def test_the_real_clocks_quarantine_time_is_one_the_schema_accepts():
    # manifest-builder's intake stamps quarantined_at with its clock's isoformat(); utc_now in AWS.
    value = c.QuarantineReason(
        source=INPUT + "x.ndjson", reason=c.EMPTY, detail="0 bytes", quarantined_at=utc_now().isoformat()
    )
    QUARANTINE.assert_produced(json.loads(value.to_json()))


@pytest.mark.parametrize("example", QUARANTINE.examples)
def test_the_quarantine_reason_parser_takes_every_example(example: dict[str, Any]):
    assert c.QuarantineReason.from_json(json.dumps(example)).to_dict() == example


Q = QUARANTINE.examples[0]
QUARANTINE_INVALID = {
    "version 2": variant(Q, {"version": 2}),
    "version true": variant(Q, {"version": True}),
    "unknown reason": variant(Q, {"reason": "virus"}),
    "no detail": variant(Q, {"detail": REMOVE}),
    "numeric detail": variant(Q, {"detail": 3}),
    "source not in s3": variant(Q, {"source": "landing/ndjson/2026-02-01/broken.ndjson"}),
    "quarantined_at not a time": variant(Q, {"quarantined_at": "yesterday"}),
}


@pytest.mark.parametrize(("case", "document"), QUARANTINE_INVALID.items(), ids=list(QUARANTINE_INVALID))
def test_the_schema_and_the_quarantine_reason_parser_refuse_the_same_documents(case: str, document: Any):
    assert not QUARANTINE.is_valid(document), f"the schema accepts {case}"
    with pytest.raises(c.InvalidQuarantineReason):
        c.QuarantineReason.from_json(json.dumps(document))
