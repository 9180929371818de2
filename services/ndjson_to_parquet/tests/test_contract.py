"""The NDJSON pipeline contract: names, S3 layout and messages, as docs/ndjson_to_parquet.md says."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ndjson_to_parquet import contract as c
from ndjson_to_parquet import tracking as t
from pipelines_shared.retry import PermanentError
from pipelines_shared.tracking.dynamodb import DynamoDBTrackingStore

NOW = datetime(2026, 2, 1, 12, 0, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("landing/ndjson/2026-02-01/data-001.ndjson", ("2026-02-01", "data-001.ndjson")),
        ("landing/ndjson/2026-02-01/sub/dir/x.jsonl", ("2026-02-01", "sub/dir/x.jsonl")),
        ("landing/ndjson/2024-02-29/leap.ndjson", ("2024-02-29", "leap.ndjson")),
    ],
)
def test_landing_keys_split_into_date_prefix_and_file_key(key, expected):
    parsed = c.parse_landing_key(key)
    assert (parsed.date_prefix, parsed.file_key) == expected
    assert parsed.key == key


@pytest.mark.parametrize(
    "key",
    [
        "landing/ndjson/2026-02-30/impossible-date.ndjson",
        "landing/ndjson/2026-2-01/short.ndjson",
        "landing/ndjson/20260201/compact.ndjson",
        "landing/ndjson/undated.ndjson",
        "landing/ndjson/2026-02-01/",
        "landing/other/2026-02-01/a.ndjson",
        "2026-02-01/a.ndjson",
    ],
)
def test_keys_outside_the_layout_are_rejected_as_permanent(key):
    with pytest.raises(c.InvalidLandingKey) as error:
        c.parse_landing_key(key)
    assert isinstance(error.value, PermanentError)


def test_quarantine_keys_mirror_the_landing_layout_and_undated_files_get_their_own_folder():
    assert c.quarantine_key("landing/ndjson/2026-02-01/sub/a.txt") == "quarantine/2026-02-01/sub/a.txt"
    assert c.quarantine_key("landing/ndjson/2026-13-01/a.ndjson") == "quarantine/undated/2026-13-01/a.ndjson"
    assert c.quarantine_key("landing/ndjson/loose.ndjson") == "quarantine/undated/loose.ndjson"
    assert c.quarantine_key("elsewhere/x.ndjson") == "quarantine/undated/elsewhere/x.ndjson"
    assert c.reason_key("quarantine/2026-02-01/a.txt") == "quarantine/2026-02-01/a.txt.reason.json"


def test_manifest_ids_carry_their_utc_second_and_are_unique():
    ids = {c.new_manifest_id(NOW) for _ in range(1000)}
    assert len(ids) == 1000
    manifest_id = c.new_manifest_id(NOW, token="1a2b3c4d")
    assert manifest_id == "batch-20260201-120005-1a2b3c4d"
    assert c.manifest_id_time(manifest_id) == NOW
    assert c.manifest_record_key(manifest_id) == "MANIFEST#batch-20260201-120005-1a2b3c4d"
    with pytest.raises(ValueError, match="token"):
        c.new_manifest_id(NOW, token="XYZ")
    for bad in ("batch-20261301-120000-1a2b3c4d", "batch-1-2-3", "run-20260201-120000-1a2b3c4d"):
        assert not c.is_manifest_id(bad)


def test_paths_follow_the_s3_layout():
    assert c.manifest_object_key("2026-02-01", "batch-x") == "manifests/2026-02-01/batch-x.json"
    assert c.output_path("out", "2026-02-01") == "s3://out/pipeline/output/merged-parquet-2026-02-01/"
    assert c.parse_s3_uri("s3://b/k/e/y.json") == ("b", "k/e/y.json")
    for bad in ("http://b/k", "s3://b", "s3:///k"):
        with pytest.raises(c.ContractError):
            c.parse_s3_uri(bad)


def _manifest() -> c.Manifest:
    return c.Manifest.build(
        "batch-20260201-120000-1a2b3c4d",
        "2026-02-01",
        datetime(2026, 2, 1, 12, 0, tzinfo=UTC),
        c.REASON_FULL,
        [
            c.ManifestFile(
                "data-002.ndjson", "s3://in/landing/ndjson/2026-02-01/data-002.ndjson", 1024, "e2"
            ),
            c.ManifestFile(
                "data-001.ndjson", "s3://in/landing/ndjson/2026-02-01/data-001.ndjson", 1024, "e1"
            ),
        ],
    )


def test_manifest_json_is_the_documented_shape_with_files_sorted():
    manifest = _manifest()
    data = json.loads(manifest.to_json())
    assert data == {
        "version": 1,
        "manifest_id": "batch-20260201-120000-1a2b3c4d",
        "date_prefix": "2026-02-01",
        "created_at": "2026-02-01T12:00:00+00:00",
        "reason": "full",
        "file_count": 2,
        "total_bytes": 2048,
        "files": [
            {
                "file_key": "data-001.ndjson",
                "uri": "s3://in/landing/ndjson/2026-02-01/data-001.ndjson",
                "size": 1024,
                "etag": "e1",
            },
            {
                "file_key": "data-002.ndjson",
                "uri": "s3://in/landing/ndjson/2026-02-01/data-002.ndjson",
                "size": 1024,
                "etag": "e2",
            },
        ],
    }
    assert c.Manifest.from_json(manifest.to_json()) == manifest


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(version=2), "version"),
        (lambda d: d.update(file_count=3), "file_count"),
        (lambda d: d.update(reason="because"), "reason"),
        (lambda d: d["files"].reverse(), "sorted"),
        (lambda d: d["files"].insert(1, dict(d["files"][0])), "twice"),
        (lambda d: d["files"][0].update(size="1024"), "size"),
        (lambda d: d.update(files=[]), "at least one|file_count"),
        (lambda d: d.pop("manifest_id"), "manifest_id"),
    ],
)
def test_a_manifest_that_breaks_the_contract_is_refused(change, message):
    data = json.loads(_manifest().to_json())
    change(data)
    with pytest.raises(c.InvalidManifest, match=message):
        c.Manifest.from_json(json.dumps(data))


def test_manifest_from_non_json_is_refused():
    with pytest.raises(c.InvalidManifest, match="not JSON"):
        c.Manifest.from_json(b"{nope")


def test_execution_input_round_trips_and_checks_its_keys():
    value = c.ExecutionInput(
        manifest_id="batch-20260201-120000-1a2b3c4d",
        date_prefix="2026-02-01",
        manifest_key="MANIFEST#batch-20260201-120000-1a2b3c4d",
        manifest_path="s3://m/manifests/2026-02-01/batch-20260201-120000-1a2b3c4d.json",
        file_count=2,
        total_bytes=2048,
        glue_job_name="ndjson-parquet-batch-job-dev",
        output_path="s3://o/pipeline/output/merged-parquet-2026-02-01/",
    )
    data = json.loads(value.to_json())
    assert data["version"] == 1
    assert set(data) == {
        "version",
        "manifest_id",
        "date_prefix",
        "manifest_key",
        "manifest_path",
        "file_count",
        "total_bytes",
        "glue_job_name",
        "output_path",
    }
    assert c.ExecutionInput.from_json(value.to_json()) == value
    data["manifest_key"] = "MANIFEST#other"
    with pytest.raises(c.InvalidExecutionInput, match="manifest_key"):
        c.ExecutionInput.from_json(data)


STATUS_EVENT = {
    "version": 1,
    "manifest_id": "batch-20260201-120000-1a2b3c4d",
    "date_prefix": "2026-02-01",
    "manifest_path": "s3://m/manifests/2026-02-01/batch-20260201-120000-1a2b3c4d.json",
    "outcome": "failed",
    "glue_job_run_id": "jr_1",
    "error": {"Error": "Glue.Failed", "Cause": "boom"},
}


def test_status_update_accepts_the_state_machines_error_object_as_text():
    update = c.StatusUpdate.from_event(STATUS_EVENT)
    assert update.outcome == "failed"
    assert json.loads(update.error) == {"Error": "Glue.Failed", "Cause": "boom"}
    assert c.StatusUpdate.from_event({**STATUS_EVENT, "glue_job_run_id": None, "error": None}).error is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"outcome": "done"}, "outcome"),
        ({"version": 7}, "version"),
        ({"manifest_path": "/tmp/x.json"}, "s3://"),
        ({"date_prefix": "yesterday"}, "date_prefix"),
        ({"manifest_id": 5}, "manifest_id"),
        ({"glue_job_run_id": 5}, "glue_job_run_id"),
    ],
)
def test_a_malformed_status_update_is_a_permanent_error(change, message):
    with pytest.raises(c.InvalidStatusUpdate, match=message) as error:
        c.StatusUpdate.from_event({**STATUS_EVENT, **change})
    assert isinstance(error.value, PermanentError)


def test_status_update_must_be_an_object():
    with pytest.raises(c.InvalidStatusUpdate, match="object"):
        c.StatusUpdate.from_event("not an event")


def test_quarantine_reason_json_is_the_documented_shape():
    reason = c.QuarantineReason(
        "s3://in/landing/ndjson/2026-02-01/a.txt", c.BAD_EXTENSION, "no", "2026-02-01T12:00:00+00:00"
    )
    assert json.loads(reason.to_json()) == {
        "version": 1,
        "source": "s3://in/landing/ndjson/2026-02-01/a.txt",
        "reason": "bad_extension",
        "detail": "no",
        "quarantined_at": "2026-02-01T12:00:00+00:00",
    }
    assert c.QuarantineReason.from_json(reason.to_json()) == reason
    with pytest.raises(c.InvalidQuarantineReason):
        c.QuarantineReason("s3://x/y", "smelly", "", "2026-02-01T12:00:00")


def test_shard_id_is_the_one_the_sharded_store_writes():
    store = t.file_store("table-never-created")
    for key in ("a.ndjson", "data-0001.ndjson", "sub/ü.jsonl"):
        assert store.stored_status(t.PENDING, key) == f"pending#{t.shard_id(key)}"
    assert store.status_shards == 10
    assert (store.partition_key, store.sort_key, store.ttl_attribute) == ("date_prefix", "file_key", "ttl")
    assert store.ttl_seconds == 30 * 24 * 3600
    manifests = t.manifest_store("table-never-created")
    assert isinstance(manifests, DynamoDBTrackingStore)
    assert manifests.status_shards == 0
    assert manifests.stored_status(t.MANIFEST_PENDING, "MANIFEST#x") == "pending"
