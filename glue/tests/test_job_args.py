"""The Python-shell job's contract pieces: argument reading (AWS argv and ministack environment),
manifest validation and the names of the parts a re-run must delete."""

from __future__ import annotations

import json

import pytest

from ndjson_to_parquet_job import (
    JobError,
    ManifestError,
    argv_options,
    log_uri,
    output_location,
    parse_manifest,
    resolve_args,
    stale_part_keys,
)

MANIFEST_ID = "batch-20260201-120000-1a2b3c4d"
ARGS = {
    "manifest_path": f"s3://m/manifests/2026-02-01/{MANIFEST_ID}.json",
    "output_path": "s3://o/pipeline/output/merged-parquet-2026-02-01/",
    "manifest_id": MANIFEST_ID,
}


def _argv(values: dict[str, str]) -> list[str]:
    return [token for name, value in values.items() for token in (f"--{name}", value)]


# --- arguments -------------------------------------------------------------------------------


def test_aws_argv_with_glue_own_arguments_around_ours():
    argv = [
        "--job-bookmark-option",
        "job-bookmark-disable",
        "--scriptLocation",
        "s3://scripts/glue/ndjson_to_parquet_job.py",
        *_argv(ARGS),
        "--converter_package=s3://scripts/glue/ndjson_to_parquet_converter.zip",
        "--JOB_RUN_ID",
        "jr_abc",
    ]
    args = resolve_args(argv, {})
    assert {name: args[name] for name in ARGS} == ARGS
    assert args["converter_package"] == "s3://scripts/glue/ndjson_to_parquet_converter.zip"
    assert args["JOB_RUN_ID"] == "jr_abc"
    assert args["aws_endpoint_url"] is None


def test_ministack_environment_names_without_dashes():
    environ = {**ARGS, "aws_endpoint_url": "http://127.0.0.1:4566", "PATH": "/usr/bin"}
    args = resolve_args([], environ)
    assert {name: args[name] for name in ARGS} == ARGS
    assert args["aws_endpoint_url"] == "http://127.0.0.1:4566"


def test_argv_wins_over_environment_and_empty_values_fall_back():
    environ = {**ARGS, "manifest_id": "from-env", "output_path": "s3://env/out/"}
    args = resolve_args(["--manifest_id", "from-argv", "--output_path="], environ)
    assert args["manifest_id"] == "from-argv"
    assert args["output_path"] == "s3://env/out/"


def test_missing_arguments_are_named():
    with pytest.raises(JobError, match=r"missing job argument\(s\) --output_path, --manifest_id"):
        resolve_args(["--manifest_path", ARGS["manifest_path"]], {"manifest_id": ""})


def test_argv_flags_without_value_do_not_swallow_the_next_option():
    assert argv_options(["--verbose", "--manifest_id", "x", "positional", "--last"]) == {"manifest_id": "x"}
    assert argv_options(["--a", "1", "--a", "2"]) == {"a": "2"}


# --- manifest --------------------------------------------------------------------------------


def _manifest(**changes: object) -> dict:
    document = {
        "version": 1,
        "manifest_id": MANIFEST_ID,
        "date_prefix": "2026-02-01",
        "created_at": "2026-02-01T12:00:00+00:00",
        "reason": "full",
        "file_count": 2,
        "total_bytes": 3072,
        "files": [
            {
                "file_key": "data-001.ndjson",
                "uri": "s3://in/landing/ndjson/2026-02-01/data-001.ndjson",
                "size": 1024,
            },
            {"file_key": "b/data-002.ndjson", "uri": "s3://in/landing/ndjson/2026-02-01/b/data-002.ndjson"},
        ],
    }
    document.update(changes)
    return document


def test_contract_manifest_parses_in_file_order():
    manifest = parse_manifest(json.dumps(_manifest()).encode(), expected_id=MANIFEST_ID)
    assert manifest.manifest_id == MANIFEST_ID
    assert manifest.date_prefix == "2026-02-01"
    assert [f.file_key for f in manifest.files] == ["data-001.ndjson", "b/data-002.ndjson"]
    assert [f.size for f in manifest.files] == [1024, None]
    assert manifest.total_bytes == 1024


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"version": 2}, "version 2 is not supported"),
        ({"version": "1"}, "version '1' is not supported"),
        ({"version": True}, "version True is not supported"),
        ({"manifest_id": "batch-other"}, "the job was started for"),
        ({"manifest_id": "../escape"}, "not usable in object names"),
        ({"files": []}, "lists no files"),
        ({"files": [{"file_key": "a", "uri": "https://in/a"}]}, r"files\[0\].uri: not an s3:// URI"),
        ({"files": [{"file_key": "a", "uri": "s3://in/a"}] * 2, "file_count": 2}, "listed twice"),
        ({"files": [{"uri": "s3://in/a"}], "file_count": 1}, "file_key is missing"),
        ({"files": [{"file_key": "a", "uri": "s3://in/a", "size": -1}], "file_count": 1}, "not a byte count"),
        ({"file_count": 3}, "file_count is 3 but 2 files are listed"),
    ],
)
def test_invalid_manifests_are_refused_with_the_reason(changes: dict, message: str):
    with pytest.raises(ManifestError, match=message):
        parse_manifest(_manifest(**changes), expected_id=MANIFEST_ID)


def test_manifest_that_is_not_a_json_object():
    with pytest.raises(ManifestError, match="not JSON"):
        parse_manifest(b"{nope")
    with pytest.raises(ManifestError, match="not a JSON object"):
        parse_manifest(b"[1]")


# --- names -----------------------------------------------------------------------------------


def test_output_location_always_ends_in_a_folder():
    assert output_location("s3://o/pipeline/output/merged-parquet-2026-02-01") == (
        "o",
        "pipeline/output/merged-parquet-2026-02-01/",
    )
    assert output_location("s3://o") == ("o", "")
    with pytest.raises(JobError, match="not an s3:// URI"):
        output_location("/local/folder")


def test_stale_parts_are_this_manifests_parts_that_were_not_rewritten():
    prefix = "pipeline/output/merged-parquet-2026-02-01/"
    existing = [
        f"{prefix}batch-1-part-00000.parquet",
        f"{prefix}batch-1-part-00001.parquet",
        f"{prefix}batch-1-part-00002.parquet",
        f"{prefix}batch-10-part-00005.parquet",  # another manifest whose id starts alike
        f"{prefix}other/batch-1-part-00003.parquet",  # another folder
        f"{prefix}batch-2-part-00000.parquet",
    ]
    written = [f"{prefix}batch-1-part-00000.parquet"]
    assert stale_part_keys(existing, prefix, "batch-1", written) == [
        f"{prefix}batch-1-part-00001.parquet",
        f"{prefix}batch-1-part-00002.parquet",
    ]
    assert stale_part_keys(existing, prefix, "batch-1", existing) == []


def test_job_log_goes_next_to_the_manifests():
    assert log_uri(ARGS["manifest_path"], MANIFEST_ID) == f"s3://m/logs/glue/{MANIFEST_ID}.json"
