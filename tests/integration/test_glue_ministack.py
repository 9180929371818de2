"""The Python-shell Glue job really runs on ministack, defined the way Terraform defines it: the
built script and converter zip in S3, arguments from DefaultArguments and StartJobRun.

What ministack does with it (1.5.33): it runs the script with the first ``python3`` on its PATH
(our devstack puts .local/venv-ministack first: Python 3.12 with boto3 and pyarrow, no converter,
which therefore comes from --converter_package), passes every argument as an environment variable
named without the dashes, gives no AWS credentials or endpoint (the job uses --aws_endpoint_url and
the emulator's dummy credentials), discards stdout, marks the run FAILED on a non-zero exit and
reports the first 2,000 characters of stderr as ErrorMessage.
"""

from __future__ import annotations

import io
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import build_glue
from ndjson_to_parquet_converter import convert_files

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DATE = "2026-02-01"
FILES = {
    "data-001.ndjson": (
        b'{"id": 1, "amount": 1.50, "big": 1E+300, "digits": 12345678901234567890.123456789,'
        b' "name": "caf\\u00e9 \\"q\\"", "nested": {"a": [1, 2], "b": {"c": "x y"}}}\n'
        b'{"id": 2, "name": "\xe6\x97\xa5\xe6\x9c\xac", "flag": true, "none": null}\n'
    ),
    "data-002.ndjson": b'{"late": "first seen here", "id": 3, "ID": "upper"}\n\n{"id": 4, "amount": -0}\n',
    "sub/data-003.ndjson": b'{"nested": [ {"k" : "v"} ], "tab": "a\\tb", "key with space": 1}\r\n',
}
TERMINAL = {"SUCCEEDED", "FAILED", "ERROR", "TIMEOUT", "STOPPED"}


def _client(stack: dict[str, str], service: str):
    return boto3.client(
        service,
        endpoint_url=stack["AWS_ENDPOINT_URL"],
        region_name=stack["AWS_DEFAULT_REGION"],
        aws_access_key_id=stack["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=stack["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture(scope="module")
def glue_job(local_stack: dict[str, str]) -> Iterator[SimpleNamespace]:
    """Built artifacts in a scripts bucket and a pythonshell job defined as Terraform does."""
    if not build_glue.SCANNER.is_file():
        subprocess.run(["bash", str(REPO / "glue" / "build_native.sh")], check=True)
    artifacts = build_glue.build()
    s3, glue = _client(local_stack, "s3"), _client(local_stack, "glue")
    suffix = uuid.uuid4().hex[:8]
    buckets = SimpleNamespace(
        **{kind: f"lp-glue-it-{kind}-{suffix}" for kind in ("scripts", "input", "manifest", "output")}
    )
    for bucket in vars(buckets).values():
        s3.create_bucket(Bucket=bucket)
    for path in artifacts:
        s3.upload_file(str(path), buckets.scripts, f"glue/{path.name}")
    name = f"ndjson-parquet-batch-job-it-{suffix}"
    glue.create_job(
        Name=name,
        Role="arn:aws:iam::000000000000:role/ndjson-parquet-glue-it",
        Command={
            "Name": "pythonshell",
            "PythonVersion": "3.9",
            "ScriptLocation": f"s3://{buckets.scripts}/glue/ndjson_to_parquet_job.py",
        },
        DefaultArguments={
            "--converter_package": f"s3://{buckets.scripts}/glue/{build_glue.ZIP_NAME}",
            "--aws_endpoint_url": local_stack["AWS_ENDPOINT_URL"],
            "--additional-python-modules": "pyarrow==21.0.0",  # for AWS; ministack ignores it
        },
        GlueVersion="3.0",
        MaxCapacity=0.0625,
        Timeout=60,  # minutes on AWS; ministack reads it as seconds
        MaxRetries=0,
    )
    yield SimpleNamespace(name=name, s3=s3, glue=glue, buckets=buckets)
    glue.delete_job(JobName=name)
    for bucket in vars(buckets).values():
        keys = [{"Key": item["Key"]} for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
        s3.delete_bucket(Bucket=bucket)


def _manifest_id() -> str:
    return f"batch-20260201-120000-{uuid.uuid4().hex[:8]}"


def _stage(job: SimpleNamespace, manifest_id: str, files: dict[str, bytes]) -> dict[str, str]:
    """Upload the files and their manifest; the run's arguments."""
    entries = []
    for key, data in sorted(files.items()):
        object_key = f"landing/ndjson/{DATE}/{manifest_id}/{key}"
        job.s3.put_object(Bucket=job.buckets.input, Key=object_key, Body=data)
        entries.append({"file_key": key, "uri": f"s3://{job.buckets.input}/{object_key}", "size": len(data)})
    manifest = {
        "version": 1,
        "manifest_id": manifest_id,
        "date_prefix": DATE,
        "created_at": "2026-02-01T12:00:00+00:00",
        "reason": "full",
        "file_count": len(entries),
        "total_bytes": sum(e["size"] for e in entries),
        "files": entries,
    }
    manifest_key = f"manifests/{DATE}/{manifest_id}.json"
    job.s3.put_object(Bucket=job.buckets.manifest, Key=manifest_key, Body=json.dumps(manifest).encode())
    return {
        "--manifest_path": f"s3://{job.buckets.manifest}/{manifest_key}",
        "--output_path": f"s3://{job.buckets.output}/pipeline/output/merged-parquet-{DATE}/",
        "--manifest_id": manifest_id,
    }


def _run(job: SimpleNamespace, arguments: dict[str, str], timeout: float = 120) -> dict:
    run_id = job.glue.start_job_run(JobName=job.name, Arguments=arguments)["JobRunId"]
    deadline = time.monotonic() + timeout
    while True:
        run = job.glue.get_job_run(JobName=job.name, RunId=run_id)["JobRun"]
        if run["JobRunState"] in TERMINAL:
            return run
        assert time.monotonic() < deadline, f"job run still {run['JobRunState']} after {timeout} s"
        time.sleep(0.3)


def _part_keys(job: SimpleNamespace, manifest_id: str) -> list[str]:
    prefix = f"pipeline/output/merged-parquet-{DATE}/{manifest_id}-part-"
    return sorted(
        item["Key"]
        for item in job.s3.list_objects_v2(Bucket=job.buckets.output, Prefix=prefix).get("Contents", [])
    )


def _table(job: SimpleNamespace, keys: list[str]) -> pa.Table:
    bodies = [job.s3.get_object(Bucket=job.buckets.output, Key=key)["Body"].read() for key in keys]
    return pa.concat_tables(pq.read_table(io.BytesIO(body)) for body in bodies)


def _log(job: SimpleNamespace, manifest_id: str) -> dict:
    body = job.s3.get_object(Bucket=job.buckets.manifest, Key=f"logs/glue/{manifest_id}.json")["Body"].read()
    return json.loads(body)


def _local_conversion(files: dict[str, bytes], tmp_path: Path) -> pa.Table:
    inputs = []
    for index, (_, data) in enumerate(sorted(files.items())):
        path = tmp_path / "in" / f"{index}.ndjson"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        inputs.append(path)
    result = convert_files(inputs, tmp_path / "out", basename="local")
    return pa.concat_tables(pq.read_table(path) for path in result.files)


def test_job_run_writes_the_parquet_the_converter_makes_locally(glue_job: SimpleNamespace, tmp_path: Path):
    manifest_id = _manifest_id()
    run = _run(glue_job, _stage(glue_job, manifest_id, FILES))

    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    keys = _part_keys(glue_job, manifest_id)
    assert [key.rsplit("/", 1)[1] for key in keys] == [f"{manifest_id}-part-00000.parquet"]
    table = _table(glue_job, keys)
    assert table.equals(_local_conversion(FILES, tmp_path))
    assert table.column_names[:3] == ["id", "amount", "big"]
    assert table.column("amount").to_pylist()[0] == "1.50"

    log = _log(glue_job, manifest_id)
    assert log["status"] == "succeeded"
    assert log["rows"] == table.num_rows == 5
    assert log["columns"] == table.column_names
    assert log["output_files"] == [f"s3://{glue_job.buckets.output}/{keys[0]}"]
    assert log["converter_backend"] == "native"  # the .so loaded from the extracted zip
    assert log["runtime"].startswith("python 3.12")  # ministack's interpreter, not Glue's 3.9


def test_rerun_replaces_the_parts_and_deletes_stale_ones(glue_job: SimpleNamespace):
    manifest_id = _manifest_id()
    arguments = _stage(glue_job, manifest_id, FILES)
    assert _run(glue_job, arguments)["JobRunState"] == "SUCCEEDED"
    first = _part_keys(glue_job, manifest_id)
    first_table = _table(glue_job, first)
    folder = f"pipeline/output/merged-parquet-{DATE}/"
    stale = f"{folder}{manifest_id}-part-00003.parquet"  # as if an earlier run had made four parts
    neighbour = f"{folder}{manifest_id}0-part-00001.parquet"
    for key in (stale, neighbour):
        glue_job.s3.put_object(Bucket=glue_job.buckets.output, Key=key, Body=b"earlier")

    run = _run(glue_job, arguments)

    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    assert _part_keys(glue_job, manifest_id) == first
    assert _table(glue_job, first).equals(first_table)
    listed = glue_job.s3.list_objects_v2(Bucket=glue_job.buckets.output, Prefix=f"{folder}{manifest_id}")
    assert sorted(item["Key"] for item in listed["Contents"]) == sorted([*first, neighbour])
    assert _log(glue_job, manifest_id)["stale_parts_deleted"] == 1


def test_malformed_line_deep_in_a_file_fails_the_run_with_the_reason(glue_job: SimpleNamespace):
    manifest_id = _manifest_id()
    lines = [b'{"n": %d}' % i for i in range(1, 800)]
    lines[499] = b'{"n": 500, "broken": tru}'
    files = {**FILES, "data-002.ndjson": b"\n".join(lines) + b"\n"}
    arguments = _stage(glue_job, manifest_id, files)

    run = _run(glue_job, arguments)

    assert run["JobRunState"] == "FAILED"
    where = f"s3://{glue_job.buckets.input}/landing/ndjson/{DATE}/{manifest_id}/data-002.ndjson, line 500"
    assert run["ErrorMessage"].startswith(f"ndjson_to_parquet_job FAILED: malformed record in {where}: ")
    log = _log(glue_job, manifest_id)
    assert log["status"] == "failed"
    assert log["error"].startswith(f"malformed record in {where}: ")
    assert _part_keys(glue_job, manifest_id) == []


def test_missing_argument_fails_the_run_and_names_it(glue_job: SimpleNamespace):
    arguments = _stage(glue_job, _manifest_id(), FILES)
    del arguments["--output_path"]

    run = _run(glue_job, arguments)

    assert run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"].startswith(
        "ndjson_to_parquet_job FAILED: missing job argument(s) --output_path"
    )
