"""NDJSON to Parquet (seed 001) end to end on the local stack, driven through S3 alone.

200 NDJSON files land under landing/ndjson/<today>/ (3 of them malformed in their first lines) ->
S3 notifications -> SQS -> manifest-builder (full manifests at the local root's 50 files; the rest
by an orphan flush, invoked directly as the schedule would) -> Step Functions -> Glue -> Parquet
whose rows are the valid input, every value its original JSON text; the malformed files in
quarantine with a reason; every file completed#N, every MANIFEST completed, the DLQ empty. Then a
file that is valid in its first lines but broken further down: the Glue run fails, its files are
failed#N, its MANIFEST failed, and the failure alert arrives on the pipeline's SNS topic.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import boto3
import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.e2e

FILES = 200
MALFORMED = {  # file index -> (first bytes, quarantine reason code)
    17: (b'{"id": "broken", "seq": \n{"id": "x"}\n', "not_json"),
    101: (b'[1, 2, 3]\n{"id": "x"}\n', "not_object"),
    163: (b'{"id": "\xff\xfe latin-1, not UTF-8"}\n', "not_utf8"),
}
ORPHAN_AFTER_SECONDS = 10  # terraform/environments/local: ndjson_parquet.orphan_after_seconds

# (key, JSON text as written, the text the converter must keep: strings decoded, the rest as
# written, null as a Parquet null).
VALUES: list[tuple[str, str, str | None]] = [
    ("amount", "1.50", "1.50"),
    ("negative_zero", "-0", "-0"),
    ("huge", "1E+300", "1E+300"),
    ("precise", "0.1000000000000000055511151231257827", "0.1000000000000000055511151231257827"),
    ("big_decimal", "12345678901234567890.123456789", "12345678901234567890.123456789"),
    ("flag", "true", "true"),
    ("off", "false", "false"),
    ("nothing", "null", None),
    ("text", r'"caf\u00e9 \"quoted\" \\ back\nslash"', 'café "quoted" \\ back\nslash'),
    ("emoji", r'"\ud83d\ude00 ok"', "\U0001f600 ok"),
    ("raw_utf8", '"naïve 日本"', "naïve 日本"),
    ("empty", '""', ""),
    ("nested", '{"a": [1, 2.50, "x"], "b": {"c": null}}', '{"a": [1, 2.50, "x"], "b": {"c": null}}'),
    ("items", '[1, "two", 3.0e2, true]', '[1, "two", 3.0e2, true]'),
    ("empty_object", "{}", "{}"),
    ("empty_array", "[]", "[]"),
]


@dataclass
class LandedFile:
    index: int
    file_key: str
    body: bytes
    rows: dict[str, dict[str, str | None]] = field(default_factory=dict)  # id -> expected texts
    columns: list[str] = field(default_factory=list)  # top-level keys, first appearance
    reason: str | None = None  # quarantine reason code of a malformed file


def _line(pairs: list[tuple[str, str]], spaced: bool) -> str:
    if spaced:
        return "{ " + " ,  ".join(f'"{key}" :  {text}' for key, text in pairs) + " }"
    return "{" + ",".join(f'"{key}":{text}' for key, text in pairs) + "}"


def valid_file(index: int, file_key: str, rows: int = 8) -> LandedFile:
    """Rows of varied values; keys come and go between rows and files, whitespace varies."""
    landed = LandedFile(index, file_key, b"")
    lines = []
    for row in range(rows):
        row_id = f"{index:03d}-{row:02d}"
        pairs = [("id", json.dumps(row_id)), ("seq", str(index * 100 + row))]
        pairs += [(k, text) for n, (k, text, _) in enumerate(VALUES) if (index + row + n) % 4 != 0]
        if row % 3 == 1:
            pairs.append((f"file_{index % 7}", json.dumps(f"only in some files ({index})")))
        expected_by_key = {k: expected for k, _, expected in VALUES}
        landed.rows[row_id] = {
            k: (row_id if k == "id" else expected_by_key.get(k, json.loads(t) if t.startswith('"') else t))
            for k, t in pairs
        }
        for key, _ in pairs:
            if key not in landed.columns:
                landed.columns.append(key)
        lines.append(_line(pairs, spaced=(index + row) % 2 == 0))
    if index % 9 == 0:
        lines.insert(6, "")  # a blank line past the builder's first-lines check
    newline = "\r\n" if index % 25 == 0 else "\n"
    text = newline.join(lines) + ("" if index % 11 == 0 else newline)  # some without a last newline
    landed.body = text.encode()
    return landed


@pytest.fixture(scope="module")
def deployed(deployed_stack) -> dict:
    outputs = deployed_stack["ndjson_to_parquet"]
    assert outputs, "the local root deploys the NDJSON to Parquet pipeline"
    return {**outputs, "today": datetime.now(UTC).strftime("%Y-%m-%d"), "run": uuid.uuid4().hex[:8]}


@pytest.fixture
def ndjson(deployed) -> Iterator[dict]:
    """The pipeline's entry points, with the circuit breaker reset (closed): earlier runs' injected failures
    must not hold this test's manifests back, nor this test's the next ones."""
    _reset_breaker(deployed)
    yield deployed
    _reset_breaker(deployed)


def _reset_breaker(pipeline: dict) -> None:
    """The operator's reset (contract: BREAKER/RESET): outcomes before it no longer count."""
    boto3.client("dynamodb").put_item(
        TableName=pipeline["metrics_table"],
        Item={
            "pk": {"S": "BREAKER"},
            "sk": {"S": "RESET"},
            "reset_at": {"S": datetime.now(UTC).isoformat()},
        },
    )


def _put_all(pipeline: dict, files: list[LandedFile]) -> None:
    s3 = boto3.client("s3")

    def put(landed: LandedFile) -> None:
        key = f"landing/ndjson/{pipeline['today']}/{landed.file_key}"
        s3.put_object(Bucket=pipeline["input_bucket"], Key=key, Body=landed.body)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, files))


def _records(pipeline: dict, folder: str) -> dict[str, dict]:
    """File records of one run folder, by file_key, with the status shard suffix dropped."""
    dynamodb = boto3.client("dynamodb")
    found: dict[str, dict] = {}
    for page in dynamodb.get_paginator("query").paginate(
        TableName=pipeline["tracking_table"],
        KeyConditionExpression="date_prefix = :day AND begins_with(file_key, :folder)",
        ExpressionAttributeValues={":day": {"S": pipeline["today"]}, ":folder": {"S": f"{folder}/"}},
        ConsistentRead=True,
    ):
        for item in page["Items"]:
            record = {name: next(iter(value.values())) for name, value in item.items()}
            record["state"] = record["status"].rsplit("#", 1)[0]
            found[record["file_key"]] = record
    return found


def _manifest_record(pipeline: dict, manifest_id: str) -> dict:
    item = boto3.client("dynamodb").get_item(
        TableName=pipeline["tracking_table"],
        Key={"date_prefix": {"S": pipeline["today"]}, "file_key": {"S": f"MANIFEST#{manifest_id}"}},
        ConsistentRead=True,
    )["Item"]
    return {name: next(iter(value.values())) for name, value in item.items()}


def _flush(pipeline: dict) -> dict:
    response = boto3.client("lambda").invoke(
        FunctionName=pipeline["functions"]["manifest_builder"],
        Payload=json.dumps({"action": "flush", "date_prefixes": [pipeline["today"]]}).encode(),
    )
    payload = response["Payload"].read()
    assert "FunctionError" not in response, payload
    return json.loads(payload or b"{}")


def _land_and_process(pipeline: dict, files: list[LandedFile], folder: str, wait_for, final: set[str]):
    """Land the files, wait until each is tracked, flush the rest into manifests (as the schedule
    would), and wait until every file reached one of the ``final`` states."""
    _put_all(pipeline, files)
    wait_for(lambda: len(_records(pipeline, folder)) == len(files), 120, f"{len(files)} files tracked", 2)

    def none_pending() -> bool:
        if not any(r["state"] == "pending" for r in _records(pipeline, folder).values()):
            return True
        _flush(pipeline)  # cuts a partial manifest once the oldest file waited ORPHAN_AFTER_SECONDS
        return False

    wait_for(none_pending, 120, "the orphan flush to put every pending file in a manifest", 3)
    return wait_for(
        lambda: (
            (records := _records(pipeline, folder))
            and all(r["state"] in final for r in records.values())
            and records
        ),
        300,
        f"every file {' or '.join(sorted(final))}",
        2,
    )


def _parquet_rows(pipeline: dict, manifest_id: str) -> tuple[list[str], list[dict]]:
    """Columns and rows of a manifest's Parquet parts (contract: <id>-part-NNNNN.parquet from 00000)."""
    s3 = boto3.client("s3")
    prefix = f"pipeline/output/merged-parquet-{pipeline['today']}/{manifest_id}-part-"
    keys = sorted(
        obj["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=pipeline["output_bucket"], Prefix=prefix
        )
        for obj in page.get("Contents", [])
    )
    assert keys, f"no Parquet for {manifest_id}"
    assert [key[len(prefix) :] for key in keys] == [f"{n:05d}.parquet" for n in range(len(keys))]
    columns, rows = None, []
    for key in keys:
        table = pq.read_table(
            io.BytesIO(s3.get_object(Bucket=pipeline["output_bucket"], Key=key)["Body"].read())
        )
        assert all(str(t) == "string" for t in table.schema.types), table.schema
        assert columns in (None, table.column_names)
        columns = table.column_names
        rows.extend(table.to_pylist())
    meta = pq.read_metadata(
        io.BytesIO(s3.get_object(Bucket=pipeline["output_bucket"], Key=keys[0])["Body"].read())
    )
    assert {meta.row_group(0).column(i).compression for i in range(meta.num_columns)} == {"SNAPPY"}
    return columns, rows


def test_files_become_parquet_and_malformed_files_are_quarantined(ndjson, wait_for, queue_counts):
    folder = f"e2e-{ndjson['run']}"
    files = []
    for index in range(FILES):
        extension = ".jsonl" if index % 10 == 3 else ".ndjson"
        file_key = f"{folder}/part-{index:03d}{extension}"
        if index in MALFORMED:
            body, reason = MALFORMED[index]
            files.append(LandedFile(index, file_key, body, reason=reason))
        else:
            files.append(valid_file(index, file_key))
    by_key = {landed.file_key: landed for landed in files}
    valid = [landed for landed in files if landed.reason is None]

    records = _land_and_process(ndjson, files, folder, wait_for, final={"completed", "failed"})

    # The malformed files: failed#N with their reason, copied as-is to quarantine beside a reason JSON.
    s3 = boto3.client("s3")
    failed = {key: record for key, record in records.items() if record["state"] == "failed"}
    assert sorted(failed) == sorted(landed.file_key for landed in files if landed.reason)
    for key, record in failed.items():
        landed = by_key[key]
        assert record["reason"] == landed.reason
        quarantined = f"quarantine/{ndjson['today']}/{key}"
        assert record["quarantine_path"] == f"s3://{ndjson['quarantine_bucket']}/{quarantined}"
        assert (
            s3.get_object(Bucket=ndjson["quarantine_bucket"], Key=quarantined)["Body"].read() == landed.body
        )
        reason = json.loads(
            s3.get_object(Bucket=ndjson["quarantine_bucket"], Key=f"{quarantined}.reason.json")["Body"].read()
        )
        assert reason["version"] == 1
        assert reason["reason"] == landed.reason
        assert reason["source"] == f"s3://{ndjson['input_bucket']}/landing/ndjson/{ndjson['today']}/{key}"
        assert reason["detail"]
        assert datetime.fromisoformat(reason["quarantined_at"])

    # Every valid file completed#N in a manifest that completed with the same Glue run.
    manifests: dict[str, list[str]] = {}
    for landed in valid:
        record = records[landed.file_key]
        assert record["state"] == "completed", record
        manifests.setdefault(record["manifest_id"], []).append(landed.file_key)
    assert len(manifests) >= 4  # 197 files, 50 per full manifest: three full ones and an orphan flush
    reasons = set()
    expected_rows: dict[str, dict[str, str | None]] = {}
    actual_rows: dict[str, dict[str, str | None]] = {}
    for manifest_id, keys in manifests.items():
        manifest = _manifest_record(ndjson, manifest_id)
        assert manifest["status"] == "completed"
        assert int(manifest["file_count"]) == len(keys)
        assert {records[key]["glue_job_run_id"] for key in keys} == {manifest["glue_job_run_id"]}
        reasons.add(manifest["reason"])
        body = json.loads(
            s3.get_object(
                Bucket=ndjson["manifest_bucket"], Key=f"manifests/{ndjson['today']}/{manifest_id}.json"
            )["Body"].read()
        )
        assert [f["file_key"] for f in body["files"]] == sorted(keys)

        # Columns: the union of the manifest's keys in order of first appearance (files by file_key).
        expected_columns: list[str] = []
        for key in sorted(keys):
            expected_columns += [c for c in by_key[key].columns if c not in expected_columns]
        columns, rows = _parquet_rows(ndjson, manifest_id)
        assert columns == expected_columns
        for row in rows:
            assert row["id"] not in actual_rows, f"row {row['id']} written twice"
            actual_rows[row["id"]] = {k: v for k, v in row.items() if v is not None}
        for key in keys:
            for row_id, expected in by_key[key].rows.items():
                expected_rows[row_id] = {k: v for k, v in expected.items() if v is not None}
    assert reasons >= {"full", "orphan_flush"}
    assert len(actual_rows) == len(expected_rows) == 8 * len(valid)
    assert [row_id for row_id in expected_rows if actual_rows.get(row_id) != expected_rows[row_id]] == []

    assert wait_for(lambda: queue_counts(ndjson["queue_url"]) == (0, 0), 60, "an empty file-events queue")
    assert queue_counts(ndjson["dlq_url"]) == (0, 0)


def test_a_glue_failure_fails_the_files_and_alerts(ndjson, wait_for, queue_counts, sns_inbox, lp):
    inbox = sns_inbox(ndjson["alerts_topic_arn"])
    folder = f"e2e-{ndjson['run']}-glue-failure"
    broken = valid_file(500, f"{folder}/late-error.ndjson", rows=10)
    lines = broken.body.decode().split("\n")
    lines[8] = '{"id": "500-08", "seq": '  # valid first lines: only the Glue job reads this far
    broken.body = "\n".join(lines).encode()

    # And a file of another kind in the landing folder: quarantined with its reason, not ignored.
    stray = LandedFile(501, f"{folder}/notes.csv", b"id,amount\n1,1.50\n", reason="bad_extension")

    records = _land_and_process(ndjson, [broken, stray], folder, wait_for, final={"failed"})

    assert records[stray.file_key]["reason"] == "bad_extension"
    assert "manifest_id" not in records[stray.file_key]
    record = records[broken.file_key]
    manifest_id = record["manifest_id"]
    assert record["error"]
    manifest = _manifest_record(ndjson, manifest_id)
    assert manifest["status"] == "failed"
    assert manifest["error"].startswith("Glue.FAILED")
    assert record["glue_job_run_id"] == manifest["glue_job_run_id"]
    execution = boto3.client("stepfunctions").describe_execution(
        executionArn=f"{ndjson['state_machine_arn'].replace(':stateMachine:', ':execution:')}:{manifest_id}"
    )
    assert execution["status"] == "FAILED"  # the ExecutionsFailed alarm counts it

    alerts = wait_for(
        lambda: [m for m in inbox.messages() if manifest_id in m.get("Subject", "")], 60, "the failure alert"
    )
    assert len(alerts) == 1
    message = alerts[0]["Message"]
    for text in (
        manifest_id,
        ndjson["today"],
        manifest["glue_job_run_id"],
        "Glue.FAILED",
        ndjson["glue_jobs"]["batch"],
    ):
        assert text in message
    assert re.search(r"\(1 files, \d+ bytes\)", message)
    # Nothing of it was written: the converter leaves no partial output behind.
    listed = boto3.client("s3").list_objects_v2(
        Bucket=ndjson["output_bucket"],
        Prefix=f"pipeline/output/merged-parquet-{ndjson['today']}/{manifest_id}",
    )
    assert listed.get("KeyCount", 0) == 0
    assert queue_counts(ndjson["dlq_url"]) == (0, 0)

    # The operator's view and rerun (`lp`, the local root's outputs): the failed manifest and its file
    # are listed with why; a dry run starts nothing; a rerun starts the same input again, and, the
    # file being still broken, fails again the same way.
    code, failed = lp("ndjson", "manifests", "--date", ndjson["today"], "--status", "failed")
    assert code == 0, failed
    [row] = [m for m in failed if m["manifest"] == manifest_id]
    assert (row["files"], row["glue_run"]) == (1, manifest["glue_job_run_id"])
    assert row["error"] == manifest["error"]
    code, files = lp("ndjson", "files", "--date", ndjson["today"], "--status", "failed")
    assert code == 0, files
    assert {f["file"]: f["reason"] for f in files}[stray.file_key] == "bad_extension"
    assert {f["file"]: f["manifest"] for f in files}[broken.file_key] == manifest_id
    code, dry = lp("ndjson", "reprocess", manifest_id, "--date", ndjson["today"])
    assert code == 0, dry
    assert dry["would"].startswith("start a new execution")
    code, rerun = lp("ndjson", "reprocess", manifest_id, "--date", ndjson["today"], "--yes")
    assert code == 0, rerun
    sfn = boto3.client("stepfunctions")
    rerun_execution = wait_for(
        lambda: (
            (found := sfn.describe_execution(executionArn=rerun["execution"]))["status"] != "RUNNING"
            and found
        ),
        300,
        "the rerun to end",
    )
    assert rerun_execution["status"] == "FAILED"
    assert json.loads(rerun_execution["input"]) == json.loads(execution["input"])  # the same manifest input
    again = _manifest_record(ndjson, manifest_id)
    assert again["status"] == "failed"
    assert again["glue_job_run_id"] != manifest["glue_job_run_id"]  # a new Glue run, not a replay
    unknown = f"{manifest_id[:-8]}00000000"
    code, refused = lp("ndjson", "reprocess", unknown, "--date", ndjson["today"], "--yes")
    assert code == 1
    assert "no manifest" in refused


@pytest.fixture
def with_feature_flags(ndjson) -> Iterator[dict]:
    """The local root re-applied with both Phase 3 flags on; the default graph is restored after."""
    from devstack import terraform

    terraform.apply(
        capture=True,
        overrides={"ndjson_to_parquet_stream_manifests": "true", "ndjson_to_parquet_eventbridge": "true"},
    )
    try:
        outputs = terraform.outputs()["ndjson_to_parquet"]
        assert outputs["functions"].get("stream_creator"), "the stream creator is deployed"
        yield {**ndjson, **outputs}
    finally:
        terraform.apply(capture=True)


def test_stream_manifests_and_manifest_ready_route(with_feature_flags, wait_for, queue_counts):
    """Flags on: the builder only validates and tracks; the DynamoDB stream's creator cuts the full
    manifest, and each manifest is announced as ManifestReady on the bus, whose rule starts the
    state machine (the builder never calls StartExecution in this mode)."""
    pipeline = with_feature_flags
    folder = f"e2e-{pipeline['run']}-flags"
    files = [valid_file(600 + n, f"{folder}/flag-{n:02d}.ndjson", rows=3) for n in range(60)]
    by_key = {landed.file_key: landed for landed in files}

    records = _land_and_process(pipeline, files, folder, wait_for, final={"completed"})

    manifests: dict[str, list[str]] = {}
    for key, record in records.items():
        manifests.setdefault(record["manifest_id"], []).append(key)
    reasons = {manifest_id: _manifest_record(pipeline, manifest_id)["reason"] for manifest_id in manifests}
    assert "stream" in reasons.values(), reasons  # 50 files: a full manifest cut by the stream creator
    assert set(reasons.values()) <= {"stream", "orphan_flush"}, reasons

    sfn = boto3.client("stepfunctions")
    started_by_rule = {}
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=pipeline["state_machine_arn"]):
        for execution in page["executions"]:
            if execution["name"] in manifests:
                pytest.fail(f"{execution['name']} was started by name (StartExecution), not by the rule")
            detail = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
            if detail.get("manifest_id") in manifests:
                started_by_rule[detail["manifest_id"]] = execution["status"]
    assert started_by_rule == dict.fromkeys(manifests, "SUCCEEDED")

    rows = {}
    for manifest_id in manifests:
        for row in _parquet_rows(pipeline, manifest_id)[1]:
            rows[row["id"]] = {k: v for k, v in row.items() if v is not None}
    expected = {
        row_id: {k: v for k, v in values.items() if v is not None}
        for landed in by_key.values()
        for row_id, values in landed.rows.items()
    }
    assert rows == expected
    assert queue_counts(pipeline["dlq_url"]) == (0, 0)
