"""The Python-shell job end to end against an in-memory S3, its converter bootstrap from a zip (in a
fresh interpreter, as on Glue and ministack), and its S3 client for the local stack."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import ndjson_to_parquet_job as job
from ndjson_to_parquet_converter import convert_files

GLUE = Path(__file__).resolve().parents[1]
JOB_SCRIPT = GLUE / "jobs" / "ndjson_to_parquet_job.py"
MANIFEST_ID = "batch-20260201-120000-1a2b3c4d"
OUTPUT = "s3://out/pipeline/output/merged-parquet-2026-02-01/"
PREFIX = "pipeline/output/merged-parquet-2026-02-01/"
MANIFEST_PATH = f"s3://man/manifests/2026-02-01/{MANIFEST_ID}.json"
LOG_KEY = f"logs/glue/{MANIFEST_ID}.json"

FILES = {
    "data-001.ndjson": (
        b'{"id": 1, "amount": 1.50, "big": 1E+300, "digits": 12345678901234567890.123456789,'
        b' "name": "caf\\u00e9 \\"quoted\\"", "nested": {"a": [1, 2], "b": {"c": "x y"}}}\n'
        b'{"id": 2, "name": "\xe6\x97\xa5\xe6\x9c\xac", "flag": true, "none": null}\n'
    ),
    "data-002.ndjson": b'{"late": "first seen in file 2", "id": 3, "ID": "upper"}\n\n{"id": 4, "amount": -0}',
    "sub/data-003.ndjson": (
        b'{"nested": [ {"k" : "v"} ], "tab": "a\\tb", "key with space": 1, "dot.key": 2}\r\n'
    ),
}


class FakeS3:
    """The S3 calls the job makes, in memory; pages of two keys so that pagination is exercised."""

    class NoSuchKey(Exception):
        pass

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    def put_object(self, Bucket: str, Key: str, Body: bytes | str, **_: object) -> dict:
        self.objects[(Bucket, Key)] = Body.encode() if isinstance(Body, str) else bytes(Body)
        return {}

    def get_object(self, Bucket: str, Key: str, IfMatch: str = "") -> dict:
        if (Bucket, Key) not in self.objects:
            raise self.NoSuchKey(f"s3://{Bucket}/{Key}")
        body = self.objects[(Bucket, Key)]
        if IfMatch and IfMatch != self.etag(Bucket, Key):
            error = self.NoSuchKey("At least one of the pre-conditions you specified did not hold")
            error.response = {"Error": {"Code": "PreconditionFailed"}}  # type: ignore[attr-defined]
            raise error
        return {"Body": io.BytesIO(body)}

    def etag(self, bucket: str, key: str) -> str:
        return '"' + hashlib.md5(self.objects[(bucket, key)]).hexdigest() + '"'  # noqa: S324 - S3's ETag

    def download_file(self, bucket: str, key: str, filename: str) -> None:
        Path(filename).write_bytes(self.get_object(Bucket=bucket, Key=key)["Body"].read())

    def upload_file(self, filename: str, bucket: str, key: str) -> None:
        self.objects[(bucket, key)] = Path(filename).read_bytes()

    def list_objects_v2(self, Bucket: str, Prefix: str, ContinuationToken: str = "") -> dict:
        keys = sorted(
            k for b, k in self.objects if b == Bucket and k.startswith(Prefix) and k > ContinuationToken
        )
        page = keys[:2]
        answer = {"Contents": [{"Key": k} for k in page], "IsTruncated": len(keys) > 2}
        if answer["IsTruncated"]:
            answer["NextContinuationToken"] = page[-1]
        return answer

    def delete_objects(self, Bucket: str, Delete: dict) -> dict:
        for item in Delete["Objects"]:
            self.objects.pop((Bucket, item["Key"]), None)
        return {}

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        return sorted(k for b, k in self.objects if b == bucket and k.startswith(prefix))


def _manifest(files: dict[str, bytes]) -> dict:
    entries = [
        {
            "file_key": key,
            "uri": f"s3://in/landing/ndjson/2026-02-01/{key}",
            "size": len(data),
            "etag": '"' + hashlib.md5(data).hexdigest() + '"',  # noqa: S324 - S3's ETag of a simple upload
        }
        for key, data in sorted(files.items())
    ]
    return {
        "version": 1,
        "manifest_id": MANIFEST_ID,
        "date_prefix": "2026-02-01",
        "created_at": "2026-02-01T12:00:00+00:00",
        "reason": "full",
        "file_count": len(entries),
        "total_bytes": sum(e["size"] for e in entries),
        "files": entries,
    }


def _stage(s3: FakeS3, files: dict[str, bytes]) -> None:
    for key, data in files.items():
        s3.put_object(Bucket="in", Key=f"landing/ndjson/2026-02-01/{key}", Body=data)
    s3.put_object(
        Bucket="man", Key=f"manifests/2026-02-01/{MANIFEST_ID}.json", Body=json.dumps(_manifest(files))
    )


def _argv() -> list[str]:
    return ["--manifest_path", MANIFEST_PATH, "--output_path", OUTPUT, "--manifest_id", MANIFEST_ID]


def _expected(files: dict[str, bytes], tmp_path: Path) -> pa.Table:
    """What the converter makes of the same files, locally, in manifest order."""
    local = []
    for index, (_, data) in enumerate(sorted(files.items())):
        path = tmp_path / "expected-in" / f"{index}.ndjson"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        local.append(path)
    result = convert_files(local, tmp_path / "expected-out", basename=MANIFEST_ID)
    return pa.concat_tables(pq.read_table(path) for path in result.files)


def _parts(s3: FakeS3) -> pa.Table:
    keys = s3.keys("out", f"{PREFIX}{MANIFEST_ID}-part-")
    return pa.concat_tables(pq.read_table(io.BytesIO(s3.objects[("out", key)])) for key in keys)


def test_manifest_becomes_parts_equal_to_the_converters_output(tmp_path: Path):
    s3 = FakeS3()
    _stage(s3, FILES)
    log = job.main(argv=_argv(), environ={}, s3=s3)

    assert s3.keys("out") == [f"{PREFIX}{MANIFEST_ID}-part-00000.parquet"]
    table = _parts(s3)
    expected = _expected(FILES, tmp_path)
    assert table.equals(expected)
    assert table.column_names[:6] == ["id", "amount", "big", "digits", "name", "nested"]
    assert table.column_names.index("late") < table.column_names.index("tab")
    first = table.slice(0, 1).to_pylist()[0]
    assert (first["amount"], first["big"], first["digits"]) == (
        "1.50",
        "1E+300",
        "12345678901234567890.123456789",
    )
    assert first["name"] == 'café "quoted"'

    written = json.loads(s3.objects[("man", LOG_KEY)])
    assert written == log
    assert log["status"] == "succeeded"
    assert log["error"] is None
    assert log["rows"] == table.num_rows == 5
    assert log["columns"] == table.column_names
    assert log["input_files"] == 3
    assert log["input_bytes"] == sum(len(data) for data in FILES.values())
    assert log["output_files"] == [f"{OUTPUT}{MANIFEST_ID}-part-00000.parquet"]
    assert log["output_bytes"] == len(s3.objects[("out", f"{PREFIX}{MANIFEST_ID}-part-00000.parquet")])
    assert log["converter_backend"]
    assert log["seconds"] >= 0


def test_rerun_replaces_parts_and_deletes_stale_ones_only_of_this_manifest(tmp_path: Path):
    s3 = FakeS3()
    _stage(s3, FILES)
    for name in ("part-00000", "part-00001", "part-00007"):  # an earlier run made more parts
        s3.put_object(Bucket="out", Key=f"{PREFIX}{MANIFEST_ID}-{name}.parquet", Body=b"old")
    neighbours = [f"{PREFIX}{MANIFEST_ID}0-part-00001.parquet", f"{PREFIX}batch-other-part-00001.parquet"]
    for key in neighbours:
        s3.put_object(Bucket="out", Key=key, Body=b"not ours")

    log = job.main(argv=_argv(), environ={}, s3=s3)

    assert s3.keys("out") == sorted([f"{PREFIX}{MANIFEST_ID}-part-00000.parquet", *neighbours])
    assert log["stale_parts_deleted"] == 2
    assert _parts(s3).equals(_expected(FILES, tmp_path))


def test_environment_arguments_as_ministack_passes_them():
    s3 = FakeS3()
    _stage(s3, FILES)
    environ = {"manifest_path": MANIFEST_PATH, "output_path": OUTPUT, "manifest_id": MANIFEST_ID}
    assert job.main(argv=[], environ=environ, s3=s3)["rows"] == 5


def test_malformed_line_deep_in_a_file_fails_the_run_and_says_where(capsys: pytest.CaptureFixture):
    lines = [b'{"n": %d}' % i for i in range(1, 600)]
    lines[499] = b'{"n": 500, "broken": tru}'
    files = {**FILES, "data-002.ndjson": b"\n".join(lines) + b"\n"}
    s3 = FakeS3()
    _stage(s3, files)
    earlier = f"{PREFIX}{MANIFEST_ID}-part-00000.parquet"
    s3.put_object(Bucket="out", Key=earlier, Body=b"earlier run")

    with pytest.raises(job.JobError) as failure:
        job.main(argv=_argv(), environ={}, s3=s3)

    where = "s3://in/landing/ndjson/2026-02-01/data-002.ndjson, line 500"
    assert f"malformed record in {where}" in str(failure.value)
    assert capsys.readouterr().err.startswith("ndjson_to_parquet_job FAILED: malformed record in s3://")
    log = json.loads(s3.objects[("man", LOG_KEY)])
    assert log["status"] == "failed"
    assert where in log["error"]
    assert "rows" not in log
    assert s3.keys("out") == [earlier]  # the earlier output is untouched
    assert s3.objects[("out", earlier)] == b"earlier run"


def test_a_file_replaced_since_it_was_manifested_fails_the_run():
    s3 = FakeS3()
    _stage(s3, FILES)
    s3.put_object(Bucket="in", Key="landing/ndjson/2026-02-01/data-002.ndjson", Body=b'{"n": "new upload"}\n')

    with pytest.raises(job.JobError, match=r"data-002\.ndjson changed since it was manifested"):
        job.main(argv=_argv(), environ={}, s3=s3)
    assert s3.keys("out") == []


def test_missing_manifest_fails_with_a_job_log():
    s3 = FakeS3()
    with pytest.raises(job.JobError, match="NoSuchKey"):
        job.main(argv=_argv(), environ={}, s3=s3)
    assert json.loads(s3.objects[("man", LOG_KEY)])["status"] == "failed"


def test_manifest_of_another_run_is_refused():
    s3 = FakeS3()
    _stage(s3, FILES)
    argv = [*_argv(), "--manifest_id", "batch-20260201-120000-ffffffff"]
    with pytest.raises(job.ManifestError, match="the job was started for"):
        job.main(argv=argv, environ={}, s3=s3)
    assert s3.keys("out") == []


# --- the script as Glue and ministack start it --------------------------------------------------


def _python(code: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """A fresh interpreter that sees only glue/jobs (not the converter), like a Glue job."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_"))}
    environment.update(PYTHONPATH=str(GLUE / "jobs"), **(env or {}))
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=os.path.expanduser("~"),
        check=False,
    )


def test_script_without_arguments_exits_non_zero_with_the_reason_first():
    result = subprocess.run(
        [sys.executable, str(JOB_SCRIPT)],
        capture_output=True,
        text=True,
        env={"PATH": os.defpath},
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(
        "ndjson_to_parquet_job FAILED: missing job argument(s) --manifest_path, --output_path, --manifest_id"
    )


def _zip(package: Path, destination: Path) -> Path:
    with zipfile.ZipFile(destination, "w") as archive:
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                archive.write(path, f"ndjson_to_parquet_converter/{path.relative_to(package).as_posix()}")
    return destination


BOOTSTRAP = """
import os, sys
import ndjson_to_parquet_job as job
module = job.import_converter(sys.argv[1])
print(module.__file__, module.BACKEND, os.path.isfile(module.__file__))
"""


def test_converter_is_imported_from_its_zip_when_not_installed(tmp_path: Path):
    package = tmp_path / "src"
    package.mkdir()
    (package / "__init__.py").write_text("BACKEND = 'from-the-zip'\n")
    result = _python(BOOTSTRAP, str(_zip(package, tmp_path / "converter.zip")))
    assert result.returncode == 0, result.stderr
    file, backend, extracted = result.stdout.split()
    assert backend == "from-the-zip"
    assert extracted == "True"  # a real file, not a member read from inside the zip
    assert not Path(file).parent.exists()  # removed when the interpreter exited


def test_native_scanner_loads_from_the_extracted_converter_zip(tmp_path: Path):
    package = GLUE / "ndjson_to_parquet_converter"
    assert (package / "_scanner.so").is_file(), (
        "glue/ndjson_to_parquet_converter/_scanner.so is missing: run `make native`"
    )
    archive = _zip(package, tmp_path / "ndjson_to_parquet_converter.zip")
    result = _python(BOOTSTRAP, str(archive), env={"NDJSON_TO_PARQUET_BACKEND": "native"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[1] == "native"


def test_without_converter_or_package_the_reason_is_given():
    result = _python("import ndjson_to_parquet_job as job; job.import_converter(None)")
    assert result.returncode == 1
    assert "ndjson_to_parquet_converter is not importable" in result.stderr
    assert "no --converter_package was given" in result.stderr


def test_zip_without_the_package_is_refused(tmp_path: Path):
    archive = tmp_path / "other.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("something/__init__.py", "")
    with pytest.raises(job.JobError, match="does not hold the ndjson_to_parquet_converter package"):
        job.load_converter_zip(archive, tmp_path / "x")


# --- the S3 client ---------------------------------------------------------------------------


@pytest.fixture
def no_aws_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "unset after the test")  # make_s3_client sets it
    monkeypatch.delenv("AWS_ENDPOINT_URL")


@pytest.mark.usefixtures("no_aws_configuration")
def test_local_stack_client_gets_the_endpoint_and_path_style(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = job.make_s3_client("http://127.0.0.1:4566")
    assert client.meta.endpoint_url == "http://127.0.0.1:4566"
    assert client.meta.config.s3["addressing_style"] == "path"
    assert client.meta.region_name == "us-east-1"
    assert os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"


@pytest.mark.usefixtures("no_aws_configuration")
@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:4566", None])
def test_credentials_of_the_environment_are_kept(monkeypatch: pytest.MonkeyPatch, endpoint: str | None):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-example")
    client = job.make_s3_client(endpoint)
    assert client._request_signer._credentials.access_key == "AKIDEXAMPLE"
    assert client.meta.endpoint_url == (endpoint or "https://s3.amazonaws.com")
