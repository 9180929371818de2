"""AWS Glue Python-shell job: convert the NDJSON files of one manifest into Snappy Parquet parts.

    --manifest_path s3://<manifest>/manifests/YYYY-MM-DD/<manifest_id>.json
    --output_path   s3://<output>/pipeline/output/merged-parquet-YYYY-MM-DD/
    --manifest_id   batch-YYYYMMDD-HHMMSS-<8 hex>
    --converter_package s3://<scripts>/glue/ndjson_to_parquet_converter.zip   (job default argument)
    --aws_endpoint_url  http://127.0.0.1:4566                        (local stack only)

The contract (docs/ndjson_to_parquet.md) fixes the names: parts are
``<output_path><manifest_id>-part-NNNNN.parquet``, a re-run overwrites them and deletes the
``<manifest_id>-part-*`` objects it did not write, and a job log lands at
``s3://<manifest bucket>/logs/glue/<manifest_id>.json`` whether the run succeeds or fails.

Runs on Python 3.9 (AWS Glue Python shell) and 3.12 (ministack runs it with its own ``python3``)
with the standard library, boto3 and pyarrow only; ``ndjson_to_parquet_converter`` comes from
``--converter_package`` when it is not importable. The Spark variant (ndjson_to_parquet_spark.py)
imports the argument, manifest and naming helpers from here.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

CONVERTER = "ndjson_to_parquet_converter"
REQUIRED_ARGS = ("manifest_path", "output_path", "manifest_id")
OPTIONAL_ARGS = ("converter_package", "aws_endpoint_url", "JOB_RUN_ID")
MANIFEST_VERSION = 1
LOG_VERSION = 1
# Files move between S3 and /tmp in parallel; each transfer may use a few connections of its own.
TRANSFER_CONCURRENCY = 8
# \Z, not $: ``$`` also matches before a trailing newline, which would end up in object names.
_MANIFEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\Z")


class JobError(Exception):
    """A failure of the job, with a message meant for the run's ErrorMessage and the job log."""


class ManifestError(JobError):
    """The manifest is not a valid version-1 manifest for this run."""


# --- arguments -------------------------------------------------------------------------------


def argv_options(argv: Sequence[str]) -> dict[str, str]:
    """``--name value`` and ``--name=value`` pairs, as getResolvedOptions reads sys.argv (last wins)."""
    options: dict[str, str] = {}
    index = 0
    while index < len(argv):
        token = argv[index]
        index += 1
        if not token.startswith("--") or len(token) == 2:
            continue
        name, equals, value = token[2:].partition("=")
        if not equals:
            if index >= len(argv) or argv[index].startswith("--"):
                continue  # a flag without a value: not one of ours
            value = argv[index]
            index += 1
        options[name] = value
    return options


def resolve_args(
    argv: Sequence[str],
    environ: Mapping[str, str],
    required: Sequence[str] = REQUIRED_ARGS,
    optional: Sequence[str] = OPTIONAL_ARGS,
) -> dict[str, str | None]:
    """The job's arguments: from sys.argv (AWS Glue) first, else from the environment variable of
    the same name without dashes (ministack). An empty value counts as missing."""
    from_argv = argv_options(argv)
    resolved: dict[str, str | None] = {}
    for name in (*required, *optional):
        resolved[name] = from_argv.get(name) or environ.get(name) or None
    missing = [name for name in required if resolved[name] is None]
    if missing:
        listed = ", ".join(f"--{name}" for name in missing)
        raise JobError(
            f"missing job argument(s) {listed}: pass them as '--name value' (StartJobRun Arguments "
            "or the job's DefaultArguments) or, on ministack, as environment variables without dashes"
        )
    return resolved


def required_arg(args: Mapping[str, str | None], name: str) -> str:
    """A required argument's value: resolve_args guarantees it, a mapping built by hand may lack it."""
    value = args.get(name)
    if not value:
        raise JobError(f"missing job argument --{name}")
    return value


# --- manifest --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ManifestFile:
    file_key: str
    uri: str
    size: int | None
    etag: str = ""


@dataclass(frozen=True)
class Manifest:
    manifest_id: str
    date_prefix: str | None
    files: tuple[ManifestFile, ...]

    @property
    def total_bytes(self) -> int:
        return sum(f.size or 0 for f in self.files)


def checked_s3_uri(uri: object) -> str:
    """``uri`` itself if it is an ``s3://bucket[/key]`` URI, else JobError (it may come from JSON)."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise JobError(f"not an s3:// URI: {uri!r}")
    if not uri[5:].partition("/")[0]:
        raise JobError(f"no bucket in {uri!r}")
    return uri


def split_s3_uri(uri: object) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key); the key may be empty."""
    bucket, _, key = checked_s3_uri(uri)[5:].partition("/")
    return bucket, key


def check_manifest_id(manifest_id: object) -> str:
    """A manifest id becomes part of object names: letters, digits, '.', '_' and '-' only."""
    if not isinstance(manifest_id, str) or not _MANIFEST_ID.match(manifest_id):
        raise ManifestError(f"manifest_id {manifest_id!r} is not usable in object names")
    return manifest_id


def parse_manifest(document: bytes | str | Mapping[str, Any], expected_id: str | None = None) -> Manifest:
    """Validate a version-1 manifest (docs/ndjson_to_parquet.md); files keep manifest order."""
    if isinstance(document, (bytes, str)):
        try:
            document = json.loads(document)
        except ValueError as error:
            raise ManifestError(f"manifest is not JSON: {error}") from None
    if not isinstance(document, Mapping):
        raise ManifestError("manifest is not a JSON object")
    version = document.get("version")
    if type(version) is not int or version != MANIFEST_VERSION:
        raise ManifestError(f"manifest version {version!r} is not supported (expected {MANIFEST_VERSION})")
    manifest_id = check_manifest_id(document.get("manifest_id"))
    if expected_id is not None and manifest_id != expected_id:
        raise ManifestError(f"manifest is {manifest_id!r}, but the job was started for {expected_id!r}")
    entries = document.get("files")
    if not isinstance(entries, list) or not entries:
        raise ManifestError("manifest lists no files")
    files = []
    seen: set[str] = set()
    for position, entry in enumerate(entries):
        where = f"files[{position}]"
        if not isinstance(entry, Mapping):
            raise ManifestError(f"{where} is not an object")
        file_key, size = entry.get("file_key"), entry.get("size")
        try:
            uri = checked_s3_uri(entry.get("uri"))
        except JobError as error:
            raise ManifestError(f"{where}.uri: {error}") from None
        if uri in seen:
            raise ManifestError(f"{where}.uri {uri} is listed twice")
        seen.add(uri)
        if not isinstance(file_key, str) or not file_key:
            raise ManifestError(f"{where}.file_key is missing")
        if size is not None and (type(size) is not int or size < 0):
            raise ManifestError(f"{where}.size {size!r} is not a byte count")
        etag = entry.get("etag", "")
        if not isinstance(etag, str):
            raise ManifestError(f"{where}.etag {etag!r} is not a string")
        files.append(ManifestFile(file_key=file_key, uri=uri, size=size, etag=etag))
    file_count = document.get("file_count")
    if file_count is not None and file_count != len(files):
        raise ManifestError(f"file_count is {file_count!r} but {len(files)} files are listed")
    date_prefix = document.get("date_prefix")
    return Manifest(manifest_id, date_prefix if isinstance(date_prefix, str) else None, tuple(files))


# --- output naming ---------------------------------------------------------------------------


def output_location(output_path: str) -> tuple[str, str]:
    """(bucket, key prefix ending in '/' or empty) of the output folder."""
    bucket, prefix = split_s3_uri(output_path)
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return bucket, prefix


def part_prefix(prefix: str, manifest_id: str) -> str:
    """Every part of a manifest starts with this key prefix (`<manifest_id>-part-`)."""
    return f"{prefix}{manifest_id}-part-"


def part_name(manifest_id: str, index: int) -> str:
    return f"{manifest_id}-part-{index:05d}.parquet"


def stale_part_keys(
    existing: Iterable[str], prefix: str, manifest_id: str, written: Iterable[str]
) -> list[str]:
    """Keys of this manifest's parts under ``prefix`` that this run did not write (an earlier run
    made more parts): deleting them makes a re-run replace the output instead of adding to it."""
    head = part_prefix(prefix, manifest_id)
    keep = set(written)
    return sorted(key for key in existing if key.startswith(head) and key not in keep)


def log_uri(manifest_path: str, manifest_id: str) -> str:
    bucket, _ = split_s3_uri(manifest_path)
    return f"s3://{bucket}/logs/glue/{manifest_id}.json"


# --- the converter ---------------------------------------------------------------------------


def load_converter_zip(
    zip_path: str | os.PathLike[str], target_dir: str | os.PathLike[str] | None = None
) -> ModuleType:
    """Import ndjson_to_parquet_converter from its zip. The zip is extracted first: the native scanner is a
    shared object, which the dynamic loader cannot open from inside a zip. Without ``target_dir``
    the extracted copy lives in a temporary folder removed when the process exits."""
    if target_dir is None:
        target = Path(tempfile.mkdtemp(prefix="ndjson-converter-"))
        atexit.register(shutil.rmtree, target, True)
    else:
        target = Path(target_dir)
    with zipfile.ZipFile(zip_path) as archive:
        if f"{CONVERTER}/__init__.py" not in archive.namelist():
            raise JobError(f"{zip_path} does not hold the {CONVERTER} package")
        archive.extractall(target)  # zipfile drops absolute and '..' parts of member names
    sys.path.insert(0, str(target))
    for name in [name for name in sys.modules if name == CONVERTER or name.startswith(f"{CONVERTER}.")]:
        del sys.modules[name]
    importlib.invalidate_caches()
    return importlib.import_module(CONVERTER)


def import_converter(converter_package: str | None, s3: Any = None) -> ModuleType:
    """The converter as installed, else from ``converter_package`` (an s3:// URI or a local path)."""
    try:
        return importlib.import_module(CONVERTER)
    except ImportError as error:
        if not converter_package:
            raise JobError(
                f"{CONVERTER} is not importable ({error}) and no --converter_package was given"
            ) from error
    if not converter_package.startswith("s3://"):
        return load_converter_zip(converter_package)
    bucket, key = split_s3_uri(converter_package)
    with tempfile.TemporaryDirectory(prefix="ndjson-converter-zip-") as folder:
        local = Path(folder) / "ndjson_to_parquet_converter.zip"
        s3.download_file(bucket, key, str(local))
        return load_converter_zip(local)


# --- S3 --------------------------------------------------------------------------------------


def make_s3_client(endpoint_url: str | None = None) -> Any:
    """An S3 client from the default credential chain (the job role on AWS); with an endpoint (the local
    stack) also AWS_ENDPOINT_URL and path-style addressing."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session()
    options: dict[str, Any] = {}
    config = Config(
        retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=4 * TRANSFER_CONCURRENCY
    )
    if endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url
        options["endpoint_url"] = endpoint_url
        config = config.merge(Config(s3={"addressing_style": "path"}))
    return session.client("s3", config=config, **options)


def list_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    request = {"Bucket": bucket, "Prefix": prefix}
    while True:
        page = s3.list_objects_v2(**request)
        keys.extend(item["Key"] for item in page.get("Contents", []))
        if not page.get("IsTruncated"):
            return keys
        request["ContinuationToken"] = page["NextContinuationToken"]


def delete_keys(s3: Any, bucket: str, keys: Sequence[str]) -> None:
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        answer = s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True}
        )
        errors = answer.get("Errors") or []
        if errors:
            first = errors[0]
            raise JobError(f"could not delete s3://{bucket}/{first.get('Key')}: {first.get('Message')}")


def _parallel(function: Any, items: Sequence[Any]) -> list[Any]:
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=min(TRANSFER_CONCURRENCY, len(items))) as pool:
        return list(pool.map(function, items))


# --- the job ---------------------------------------------------------------------------------


def _event(event: str, **fields: Any) -> None:
    """One JSON line on stdout: CloudWatch's output stream on AWS (ministack discards stdout). stderr
    is kept for the failure message, which ministack reports as the run's ErrorMessage."""
    print(json.dumps({"event": event, **fields}, default=str), flush=True)


def describe_error(error: BaseException) -> str:
    return str(error) if isinstance(error, JobError) else f"{type(error).__name__}: {error}"


def convert_manifest(
    s3: Any,
    converter: ModuleType,
    manifest: Manifest,
    output_path: str,
    workdir: Path,
) -> dict[str, Any]:
    """Download the manifest's files, convert them, upload the parts, delete stale parts; the stats."""
    downloads = workdir / "input"
    parts_dir = workdir / "parts"
    downloads.mkdir()
    parts_dir.mkdir()
    # Numbered in manifest order: the converter reads them in that order (column order = first appearance).
    local = [downloads / f"{index:05d}.ndjson" for index in range(len(manifest.files))]

    def download(index: int) -> None:
        entry = manifest.files[index]
        bucket, key = split_s3_uri(entry.uri)
        # The bytes converted are the bytes manifested: an object replaced since (same key, new
        # upload) fails the run instead of being converted under the old file's record.
        conditions = {"IfMatch": '"' + entry.etag.strip('"') + '"'} if entry.etag else {}
        try:
            body = s3.get_object(Bucket=bucket, Key=key, **conditions)["Body"]
        except Exception as error:
            code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
            if code in ("PreconditionFailed", "412"):
                raise JobError(f"{entry.uri} changed since it was manifested (ETag {entry.etag})") from error
            raise
        with open(local[index], "wb") as target:
            shutil.copyfileobj(body, target, 8 << 20)

    _parallel(download, range(len(local)))
    _event("downloaded", files=len(local), bytes=sum(path.stat().st_size for path in local))

    try:
        result = converter.convert_files(local, parts_dir, basename=manifest.manifest_id)
    except converter.MalformedRecord as error:
        uris = {str(path): entry.uri for path, entry in zip(local, manifest.files)}
        source = uris.get(error.source, error.source)
        raise JobError(f"malformed record in {source}, line {error.line_number}: {error.reason}") from error

    bucket, prefix = output_location(output_path)
    written = [f"{prefix}{Path(path).name}" for path in result.files]
    head = part_prefix(prefix, manifest.manifest_id)
    unexpected = [key for key in written if not key.startswith(head)]
    if unexpected:
        raise JobError(f"the converter wrote {unexpected[0]!r}, not a part of {manifest.manifest_id}")
    _parallel(lambda pair: s3.upload_file(str(pair[0]), bucket, pair[1]), list(zip(result.files, written)))
    # Only after every new part is in place: readers never see the manifest's output missing.
    stale = stale_part_keys(list_keys(s3, bucket, head), prefix, manifest.manifest_id, written)
    delete_keys(s3, bucket, stale)
    return {
        "rows": result.rows,
        "columns": list(result.columns),
        "input_files": len(local),
        "input_bytes": result.input_bytes,
        "output_files": [f"s3://{bucket}/{key}" for key in written],
        "output_bytes": sum(Path(path).stat().st_size for path in result.files),
        "stale_parts_deleted": len(stale),
    }


def run(args: Mapping[str, str | None], s3: Any, workdir: Path | None = None) -> dict[str, Any]:
    """The whole job for resolved arguments; returns the job log it wrote. Raises JobError on failure,
    after writing a job log with status ``failed`` and the reason."""
    started = time.time()
    log = start_log(args, f"python {sys.version.split()[0]}", started)
    try:
        manifest_id = check_manifest_id(args["manifest_id"])
        output_path = checked_s3_uri(args["output_path"])
        bucket, key = split_s3_uri(args["manifest_path"])
        converter = import_converter(args.get("converter_package"), s3)
        log["converter_backend"] = getattr(converter, "BACKEND", None)
        manifest = parse_manifest(
            s3.get_object(Bucket=bucket, Key=key)["Body"].read(), expected_id=manifest_id
        )
        _event("started", manifest_id=manifest_id, files=len(manifest.files), bytes=manifest.total_bytes)
        with tempfile.TemporaryDirectory(prefix="ndjson-parquet-", dir=workdir) as scratch:
            log.update(convert_manifest(s3, converter, manifest, output_path, Path(scratch)))
    except Exception as error:
        log.update(status="failed", error=describe_error(error), seconds=round(time.time() - started, 3))
        problem = _write_log(s3, log)
        message = (
            log["error"]
            if problem is None
            else f"{log['error']} (and the job log was not written: {problem})"
        )
        if isinstance(error, JobError) and problem is None:
            raise
        raise JobError(message) from error
    log.update(status="succeeded", error=None, seconds=round(time.time() - started, 3))
    problem = _write_log(s3, log)
    if problem is not None:  # the Parquet is in place; the log is for people, not for the pipeline
        print(f"the job log was not written: {problem}", file=sys.stderr, flush=True)
    _event("succeeded", **{k: v for k, v in log.items() if k != "columns"})
    return log


def start_log(args: Mapping[str, str | None], runtime: str, started: float) -> dict[str, Any]:
    """The job log's fields known before the run (both jobs write the same shape)."""
    return {
        "version": LOG_VERSION,
        "manifest_id": args["manifest_id"],
        "manifest_path": args["manifest_path"],
        "output_path": args["output_path"],
        "job_run_id": args.get("JOB_RUN_ID"),
        "runtime": runtime,
        "started_at": iso_time(started),
    }


def iso_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds")


def _write_log(s3: Any, log: dict[str, Any]) -> str | None:
    """Put the job log next to the manifests; the reason it could not, or None."""
    log["finished_at"] = iso_time(time.time())
    try:
        bucket, key = split_s3_uri(log_uri(log["manifest_path"], check_manifest_id(log["manifest_id"])))
        body = json.dumps(log, indent=2, sort_keys=True).encode()
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    except Exception as error:
        return describe_error(error)
    return None


def main(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None, s3: Any = None
) -> dict[str, Any]:
    """Entry point: resolve the arguments, run, and on failure put the reason first on stderr."""
    try:
        args = resolve_args(
            sys.argv[1:] if argv is None else argv, os.environ if environ is None else environ
        )
        if s3 is None:
            s3 = make_s3_client(args["aws_endpoint_url"])
        return run(args, s3)
    except Exception as error:
        # ministack reports the first 2,000 characters of stderr as ErrorMessage: the reason goes first.
        print(f"ndjson_to_parquet_job FAILED: {describe_error(error)}", file=sys.stderr, flush=True)
        raise


if __name__ == "__main__":
    main()
