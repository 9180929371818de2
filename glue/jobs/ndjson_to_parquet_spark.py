"""AWS Glue Spark (glueetl, Glue 5.0: Spark 3.5, Python 3.11) job: the Python-shell job's conversion
for manifests too big for one node. Plain PySpark, no awsglue.

Same arguments as ndjson_to_parquet_job.py, same output: ``<output_path><manifest_id>-part-NNNNN.parquet``
(Snappy, every column a string holding the value's original JSON text, columns in first-appearance
order over the manifest's files), the same stale-part deletion and the same job log. The values come
from the same converter core (``ndjson_to_parquet_converter.batch_from_buffer``) run on the executors, so the
Parquet holds exactly what the Python-shell job would write; only the split into parts differs.

How it works:
1. Each file is read as text lines (split on ``\\n`` only, like the converter) with its index in the
   manifest and, per line, the start of its input split (``_metadata.file_block_start``); inside a
   split, lines arrive in file order, so (file index, split start, line number in the split) orders
   lines exactly as the file does.
2. ``mapInArrow`` runs ``keys_from_buffer`` on runs of lines; each key keeps its earliest position and
   the driver sorts the keys by it: the column order of the Python-shell job.
3. ``mapInArrow`` runs ``batch_from_buffer`` with those columns: an all-string DataFrame, written as
   Snappy Parquet to ``<output_path>_tmp-<manifest_id>/`` (hidden from readers by the leading '_'),
   then renamed in part order to ``<manifest_id>-part-00000.parquet``, ``-00001``, ...; parts of an
   earlier run beyond the new count are deleted, then the temporary folder.

The job needs on AWS: ``--converter_package`` (the converter zip: shipped with ``SparkContext.addFile``
and extracted on each executor, because its native scanner cannot load from inside a zip) and
``--extra-py-files`` = the S3 URI of ndjson_to_parquet_job.py (the helpers imported below).
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyspark import SparkFiles
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from ndjson_to_parquet_job import (
    CONVERTER,
    JobError,
    check_manifest_id,
    describe_error,
    iso_time,
    load_converter_zip,
    log_uri,
    parse_manifest,
    part_name,
    required_arg,
    resolve_args,
    stale_part_keys,
    start_log,
)

FILE_INDEX, BLOCK_START, VALUE = "file_index", "block_start", "value"
KEY_SCHEMA = "key string, file_index long, block_start long, line long, rank long"
ERROR_CHARS = 4000
# A MalformedRecord raised on an executor reaches the driver as text inside Spark's error.
_MALFORMED = re.compile(r"MalformedRecord: (?P<source>.+?):(?P<line>\d+): (?P<reason>[^\n]*)")


# What DataFrame.mapInArrow runs on each partition.
ArrowBatchesFunction = Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]


@dataclass(frozen=True)
class SparkResult:
    rows: int
    columns: list[str]
    files: list[str]
    input_bytes: int
    stale_parts_deleted: int


# --- executors -------------------------------------------------------------------------------


def executor_converter(package_file: str | None) -> ModuleType:
    """ndjson_to_parquet_converter on an executor. With ``package_file`` (the converter zip the driver shipped
    with SparkContext.addFile) it comes from that zip, extracted once per Python worker: a copy
    importable from inside a zip (--extra-py-files) could not load its native scanner."""
    if not package_file:
        import ndjson_to_parquet_converter

        return ndjson_to_parquet_converter
    target = Path(SparkFiles.getRootDirectory()) / f"{CONVERTER}-{os.getpid()}"
    loaded = sys.modules.get(CONVERTER)
    if loaded is not None and loaded.__file__ is not None and Path(loaded.__file__).parents[1] == target:
        return loaded
    return load_converter_zip(SparkFiles.get(package_file), target)


def ship_converter(spark: Any, package_uri: str) -> str:
    """Send the converter zip to every executor; the name executors find it under (SparkFiles)."""
    name = package_uri.rstrip("/").rsplit("/", 1)[-1]
    registered = spark.sparkContext.listFiles
    # Listed in --extra-py-files too? Spark has shipped it already and refuses the name a second time.
    if not any(uri.rstrip("/").rsplit("/", 1)[-1] == name for uri in registered):
        spark.sparkContext.addFile(package_uri)
    return name


def line_runs(batch: pa.RecordBatch) -> Iterator[tuple[int, int, int, int]]:
    """(file index, split start, first row, end row) of each stretch of rows from one input split."""
    rows = batch.num_rows
    if rows == 0:
        return
    files, blocks = batch.column(FILE_INDEX), batch.column(BLOCK_START)
    boundaries: list[int] = []
    if rows > 1:
        changed = pc.or_(
            pc.not_equal(files.slice(1), files.slice(0, rows - 1)),
            pc.not_equal(blocks.slice(1), blocks.slice(0, rows - 1)),
        )
        boundaries = [index + 1 for index in pc.indices_nonzero(changed).to_pylist()]
    starts = [0, *boundaries]
    ends = [*boundaries, rows]
    for start, end in zip(starts, ends):
        yield files[start].as_py(), blocks[start].as_py(), start, end


def lines_buffer(values: pa.Array) -> bytes:
    """The lines joined by '\\n' (each line terminated), without a Python loop over them."""
    if len(values) == 0:
        return b""
    values = pa.concat_arrays([values.cast(pa.large_string())])  # drop any slice offset
    one_list = pa.LargeListArray.from_arrays(pa.array([0, len(values)], pa.int64()), values)
    joined = pc.binary_join(one_list, pa.scalar("\n", pa.large_string()))[0]
    lines: bytes = joined.as_buffer().to_pybytes()
    return lines + b"\n"


def line_buffers(batches: Iterator[pa.RecordBatch]) -> Iterator[tuple[int, int, int, bytes]]:
    """(file index, split start, lines of that split before this run, the run's lines as one buffer)
    for each run of a partition's batches."""
    lines_seen: dict[tuple[int, int], int] = {}
    for batch in batches:
        for file_index, block_start, start, end in line_runs(batch):
            line = lines_seen.get((file_index, block_start), 0)
            lines_seen[(file_index, block_start)] = line + end - start
            yield file_index, block_start, line, lines_buffer(batch.column(VALUE).slice(start, end - start))


def _source(inputs: Sequence[str], file_index: int, block_start: int) -> str:
    """The name a malformed line is reported under; line numbers count from the split's start."""
    uri = inputs[file_index]
    return uri if block_start == 0 else f"{uri} (split from byte {block_start})"


def key_positions(inputs: Sequence[str], package_file: str | None) -> ArrowBatchesFunction:
    """mapInArrow function: each key seen in the partition, with its earliest (file index, split
    start, line, rank among the keys new in that run)."""

    def positions(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        converter = executor_converter(package_file)
        earliest: dict[str, tuple[int, int, int, int]] = {}
        for file_index, block_start, line, buffer in line_buffers(batches):
            keys = converter.keys_from_buffer(
                buffer, source=_source(inputs, file_index, block_start), first_line=line + 1
            )
            for rank, key in enumerate(keys):
                position = (file_index, block_start, line, rank)
                if key not in earliest or position < earliest[key]:
                    earliest[key] = position
        if earliest:
            keys = list(earliest)
            fields = list(zip(*earliest.values()))
            yield pa.RecordBatch.from_arrays(
                [pa.array(keys, pa.string())] + [pa.array(values, pa.int64()) for values in fields],
                names=["key", FILE_INDEX, BLOCK_START, "line", "rank"],
            )

    return positions


def to_columns(
    inputs: Sequence[str], columns: Sequence[str], package_file: str | None
) -> ArrowBatchesFunction:
    """mapInArrow function: lines -> record batches of exactly ``columns``, all strings."""
    schema = pa.schema([pa.field(name, pa.string()) for name in columns])

    def convert(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        converter = executor_converter(package_file)
        for file_index, block_start, line, buffer in line_buffers(batches):
            converted = converter.batch_from_buffer(
                buffer, list(columns), source=_source(inputs, file_index, block_start), first_line=line + 1
            )
            if converted.num_rows:
                yield pa.RecordBatch.from_arrays(
                    [converted.column(i).cast(pa.string()) for i in range(len(columns))], schema=schema
                )

    return convert


# --- driver ----------------------------------------------------------------------------------


def escape_glob(path: str) -> str:
    """A path Spark reads literally: it would expand '*', '?', '[...]' and '{...}' as a glob."""
    return "".join(f"\\{char}" if char in "\\*?[]{}" else char for char in path)


def empty_parquet() -> bytes:
    """A Parquet file with no columns and no rows, as the converter writes for key-less input."""
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({}), sink, compression="snappy")
    data: bytes = sink.getvalue().to_pybytes()
    return data


def read_lines(spark: Any, inputs: Sequence[str]) -> Any:
    """One DataFrame of (file_index, block_start, value) over the inputs, lines split on '\\n' only."""
    frames = [
        spark.read.option("lineSep", "\n")
        .text(escape_glob(path))
        .select(
            F.lit(index).cast("long").alias(FILE_INDEX),
            F.col("_metadata.file_block_start").alias(BLOCK_START),
            F.col(VALUE),
        )
        for index, path in enumerate(inputs)
    ]
    lines = frames[0]
    for frame in frames[1:]:
        lines = lines.unionAll(frame)
    return lines


def column_order(lines: Any, inputs: Sequence[str], package_file: str | None) -> list[str]:
    """Every key of the inputs, in order of first appearance (file order, then line order)."""
    earliest = (
        lines.mapInArrow(key_positions(inputs, package_file), KEY_SCHEMA)
        .groupBy("key")
        .agg(F.min(F.struct(FILE_INDEX, BLOCK_START, "line", "rank")).alias("position"))
        .collect()
    )
    return [row["key"] for row in sorted(earliest, key=lambda row: tuple(row["position"]))]


class HadoopFS:
    """The few Hadoop FileSystem calls the job needs: the same code for local paths and s3:// URIs."""

    def __init__(self, spark: Any) -> None:
        self._jvm = spark.sparkContext._jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()

    def _resolve(self, path: str) -> tuple[Any, Any]:
        hadoop_path = self._jvm.org.apache.hadoop.fs.Path(path)
        return hadoop_path.getFileSystem(self._conf), hadoop_path

    def size(self, path: str) -> int:
        fs, hadoop_path = self._resolve(path)
        return int(fs.getFileStatus(hadoop_path).getLen())

    def names(self, folder: str) -> list[str]:
        fs, hadoop_path = self._resolve(folder)
        if not fs.exists(hadoop_path):
            return []
        return sorted(status.getPath().getName() for status in fs.listStatus(hadoop_path))

    def rename(self, source: str, target: str) -> None:
        fs, source_path = self._resolve(source)
        _, target_path = self._resolve(target)
        if fs.exists(target_path):
            fs.delete(target_path, False)
        if not fs.rename(source_path, target_path):
            raise JobError(f"could not rename {source} to {target}")

    def delete(self, path: str, recursive: bool = False) -> None:
        fs, hadoop_path = self._resolve(path)
        fs.delete(hadoop_path, recursive)

    def write(self, path: str, data: bytes) -> None:
        fs, hadoop_path = self._resolve(path)
        stream = fs.create(hadoop_path, True)
        try:
            stream.write(bytearray(data))
        finally:
            stream.close()


def convert_paths(
    spark: Any,
    inputs: Sequence[str],
    output_path: str,
    manifest_id: str,
    *,
    package_file: str | None = None,
    target_file_bytes: int = 1 << 30,
) -> SparkResult:
    """Convert NDJSON files (local paths or s3:// URIs, in manifest order) into
    ``<output_path>/<manifest_id>-part-NNNNN.parquet``; ``target_file_bytes`` of input per part at most
    (Spark's own splits may make parts smaller)."""
    check_manifest_id(manifest_id)
    if not inputs:
        raise JobError("no input files")
    # JSON keys that differ only in case ("id", "ID") are different columns.
    spark.conf.set("spark.sql.caseSensitive", "true")
    folder = output_path.rstrip("/")
    fs = HadoopFS(spark)
    try:
        return _convert(spark, inputs, folder, manifest_id, package_file, target_file_bytes, fs)
    except Exception as error:
        malformed = _MALFORMED.search(str(error))
        if malformed is None:
            raise
        where = f"{malformed['source']}, line {malformed['line']}"
        raise JobError(f"malformed record in {where}: {malformed['reason']}") from None


def _convert(
    spark: Any,
    inputs: Sequence[str],
    folder: str,
    manifest_id: str,
    package_file: str | None,
    target_file_bytes: int,
    fs: HadoopFS,
) -> SparkResult:
    temporary = f"{folder}/_tmp-{manifest_id}"
    input_bytes = sum(fs.size(path) for path in inputs)
    lines = read_lines(spark, inputs)
    columns = column_order(lines, inputs, package_file)
    written: list[str] = []
    if columns:
        schema = ", ".join(f"`{name.replace('`', '``')}` string" for name in columns)
        frame = lines.mapInArrow(to_columns(inputs, columns, package_file), schema)
        wanted = max(1, math.ceil(input_bytes / target_file_bytes))
        if frame.rdd.getNumPartitions() > wanted:
            frame = frame.coalesce(wanted)
        frame.write.mode("overwrite").option("compression", "snappy").parquet(temporary)
        # Spark numbers its files by partition: their sorted names keep the part order.
        produced = [
            name for name in fs.names(temporary) if name.startswith("part-") and name.endswith(".parquet")
        ]
        rows = spark.read.parquet(*[f"{temporary}/{name}" for name in produced]).count() if produced else 0
        for index, name in enumerate(produced):
            target = part_name(manifest_id, index)
            fs.rename(f"{temporary}/{name}", f"{folder}/{target}")
            written.append(target)
    else:
        # No keys anywhere (empty files, `{}` records): Spark cannot write a Parquet file without
        # columns, the converter writes one empty part so that readers find a file. So do we.
        rows = lines.filter(F.col(VALUE).rlike("[^ \t\r]")).count()
        target = part_name(manifest_id, 0)
        fs.write(f"{folder}/{target}", empty_parquet())
        written.append(target)
    stale = stale_part_keys(fs.names(folder), "", manifest_id, written)
    for name in stale:
        fs.delete(f"{folder}/{name}")
    fs.delete(temporary, recursive=True)
    return SparkResult(
        rows=rows,
        columns=columns,
        files=[f"{folder}/{name}" for name in written],
        input_bytes=input_bytes,
        stale_parts_deleted=len(stale),
    )


def run(spark: Any, args: Mapping[str, str | None], log_path: str | None = None) -> dict[str, Any]:
    """The whole Spark job for resolved arguments; returns the job log it wrote (at ``log_path``, by
    default ``s3://<manifest bucket>/logs/glue/<manifest_id>.json``). Raises JobError on failure."""
    started = time.time()
    log = start_log(args, f"spark {spark.version}, python {sys.version.split()[0]}", started)
    try:
        manifest_path = required_arg(args, "manifest_path")
        manifest_id = check_manifest_id(args["manifest_id"])
        log_path = log_path or log_uri(manifest_path, manifest_id)
        package = args.get("converter_package")
        package_file = ship_converter(spark, package) if package else None
        text = spark.read.text(escape_glob(manifest_path), wholetext=True).first()[0]
        manifest = parse_manifest(text, expected_id=manifest_id)
        result = convert_paths(
            spark,
            [f.uri for f in manifest.files],
            required_arg(args, "output_path"),
            manifest_id,
            package_file=package_file,
        )
        log.update(
            rows=result.rows,
            columns=result.columns,
            input_files=len(manifest.files),
            input_bytes=result.input_bytes,
            output_files=result.files,
            stale_parts_deleted=result.stale_parts_deleted,
        )
    except Exception as error:
        # A Spark failure's text carries the JVM's stack traces: the log keeps the beginning.
        log.update(
            status="failed",
            error=describe_error(error)[:ERROR_CHARS],
            seconds=round(time.time() - started, 3),
        )
        problem = _write_log(spark, log_path, log)
        if problem is not None:
            log["error"] += f" (and the job log was not written: {problem})"
        raise JobError(log["error"]) from error
    log.update(status="succeeded", error=None, seconds=round(time.time() - started, 3))
    problem = _write_log(spark, log_path, log)
    if problem is not None:  # the Parquet is in place; the log is for people, not for the pipeline
        print(f"the job log was not written: {problem}", file=sys.stderr, flush=True)
    return log


def _write_log(spark: Any, path: str | None, log: dict[str, Any]) -> str | None:
    log["finished_at"] = iso_time(time.time())
    try:
        if path is None:
            raise JobError("no place for it (manifest_path and manifest_id are needed)")
        HadoopFS(spark).write(path, json.dumps(log, indent=2, sort_keys=True).encode())
    except Exception as error:
        return describe_error(error)
    return None


def main(argv: Sequence[str] | None = None, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Entry point: resolve the arguments, run, and on failure put the reason first on stderr."""
    try:
        args = resolve_args(
            sys.argv[1:] if argv is None else argv, os.environ if environ is None else environ
        )
        if args["aws_endpoint_url"]:
            os.environ["AWS_ENDPOINT_URL"] = args["aws_endpoint_url"]
        spark = SparkSession.builder.appName(f"ndjson-parquet-{args['manifest_id']}").getOrCreate()
        return run(spark, args)
    except Exception as error:
        print(
            f"ndjson_to_parquet_spark FAILED: {describe_error(error)[:ERROR_CHARS]}",
            file=sys.stderr,
            flush=True,
        )
        raise


if __name__ == "__main__":
    main()
