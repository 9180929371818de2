"""The glueetl variant on local Spark (local[2], Python 3.11 + PySpark 3.5 like Glue 5.0): its Parquet
holds exactly what the Python converter writes for the same files, column order included.

The executors do not see glue/ on their PYTHONPATH: they get the converter from its zip through
SparkContext.addFile, as on AWS."""

from __future__ import annotations

import json
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession

import ndjson_to_parquet_spark as spark_job
from ndjson_to_parquet_converter import convert_files
from ndjson_to_parquet_job import JobError

GLUE = Path(__file__).resolve().parents[1]
PACKAGE_FILE = "ndjson_to_parquet_converter.zip"
MANIFEST_ID = "batch-20260201-120000-1a2b3c4d"
# PySpark 3.5 checks the pandas and pyarrow versions with distutils' LooseVersion.
pytestmark = pytest.mark.filterwarnings("ignore:distutils Version classes are deprecated:DeprecationWarning")

FILES = {
    "data-001.ndjson": (
        b'{"id": 1, "amount": 1.50, "big": 1E+300, "digits": 12345678901234567890.123456789,'
        b' "tiny": 0.1000000000000000055511151231257827, "neg": -0, "name": "caf\\u00e9 \\"q\\" \\\\ \\/",'
        b' "nested": {"a": [1, 2.50], "b": {"c": "x y"}}, "empty": {}}\n'
        b'{"id": 2, "name": "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80", "flag": true, "none": null}\n'
    ),
    "data-002.ndjson": (
        b'{"late": "first seen in file 2", "id": 3, "ID": "upper case is another key"}\n'
        b"\n"
        b'{"id": 4, "amount": 2E-7, "nested": [ {"k" : "v"} , null ], "key with space": " spaced "}\r\n'
        b'{ "id" : 5 , "tab\\tkey": "a\\tb\\nc", "dot.key": 2, "weird`name": "`"}'
    ),
    "odd[1] name.ndjson": b'{"id": 6}\n{"unicode \xc3\xa9": "\\ud83d\\ude00"}\n',
}


@pytest.fixture(scope="session")
def converter_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    package = GLUE / "ndjson_to_parquet_converter"
    assert (package / "_scanner.so").is_file(), (
        "glue/ndjson_to_parquet_converter/_scanner.so is missing: run `make native`"
    )
    destination = tmp_path_factory.mktemp("converter") / PACKAGE_FILE
    with zipfile.ZipFile(destination, "w") as archive:
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                archive.write(path, f"ndjson_to_parquet_converter/{path.relative_to(package).as_posix()}")
    return destination


@pytest.fixture(scope="session")
def spark(converter_zip: Path) -> Iterator[SparkSession]:
    with pytest.MonkeyPatch.context() as patch:
        # Executors: this interpreter, the job scripts (as --extra-py-files gives them), no converter.
        patch.setenv("PYSPARK_PYTHON", sys.executable)
        patch.setenv("PYTHONPATH", str(GLUE / "jobs"))
        patch.setenv("NDJSON_TO_PARQUET_BACKEND", "native")
        session = (
            SparkSession.builder.master("local[2]")
            .appName("glue-spark-tests")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.driver.extraJavaOptions", "-Dlog4j2.level=ERROR")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        assert spark_job.ship_converter(session, str(converter_zip)) == PACKAGE_FILE
        yield session
        session.stop()


def _write(folder: Path, files: dict[str, bytes]) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in sorted(files.items()):
        (folder / name).write_bytes(data)
        paths.append(str(folder / name))
    return paths


def _as_text(table: pa.Table) -> tuple[list[str], list[tuple]]:
    """Column names in order, and the rows sorted (every value a string or None)."""
    rows = list(zip(*(column.to_pylist() for column in table.columns)))
    return table.column_names, sorted(rows, key=lambda row: [(value is None, value or "") for value in row])


def _read_parts(paths: list[str]) -> pa.Table:
    tables = [pq.read_table(path) for path in paths]
    return pa.concat_tables([table.replace_schema_metadata(None) for table in tables])


def _python_converter(inputs: list[str], tmp_path: Path) -> tuple[pa.Table, int]:
    result = convert_files(inputs, tmp_path / "python-out", basename=MANIFEST_ID)
    return _read_parts([str(path) for path in result.files]), result.rows


def _convert(spark: SparkSession, inputs: list[str], output: Path, **options) -> spark_job.SparkResult:
    return spark_job.convert_paths(
        spark, inputs, str(output), MANIFEST_ID, package_file=PACKAGE_FILE, **options
    )


def test_spark_output_equals_the_python_converters(spark: SparkSession, tmp_path: Path):
    inputs = _write(tmp_path / "in", FILES)
    result = _convert(spark, inputs, tmp_path / "out")

    expected, expected_rows = _python_converter(inputs, tmp_path)
    names, rows = _as_text(_read_parts(result.files))
    assert names == expected.column_names == result.columns
    assert rows == _as_text(expected)[1]
    assert result.rows == expected_rows == 7
    assert [Path(f).name for f in result.files] == [f"{MANIFEST_ID}-part-00000.parquet"]
    assert result.input_bytes == sum(len(data) for data in FILES.values())
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")) == [
        f"{MANIFEST_ID}-part-00000.parquet"
    ]
    assert pq.ParquetFile(result.files[0]).metadata.row_group(0).column(0).compression == "SNAPPY"
    by_id = {row[names.index("id")]: dict(zip(names, row)) for row in rows}
    assert by_id["1"]["digits"] == "12345678901234567890.123456789"
    assert by_id["1"]["tiny"] == "0.1000000000000000055511151231257827"
    assert by_id["4"]["nested"] == '[ {"k" : "v"} , null ]'


def test_small_splits_and_many_parts_keep_first_appearance_order(spark: SparkSession, tmp_path: Path):
    """Files cut into 1 KiB splits, keys first seen mid-file and on the last line, several parts."""
    lines = [b'{"n": %d, "pad": "%s"}' % (i, b"x" * (i % 40)) for i in range(120)]
    lines[70] = b'{"n": 70, "mid_file_key": "first seen in the third split"}'
    lines[119] = b'{"last_key": true, "n": 119}'
    files = {"a.ndjson": b"\n".join(lines) + b"\n", "b.ndjson": b'{"b_key": 1}\n' * 50, "c.ndjson": b""}
    inputs = _write(tmp_path / "in", files)
    spark.conf.set("spark.sql.files.maxPartitionBytes", "1024")
    try:
        result = _convert(spark, inputs, tmp_path / "out", target_file_bytes=2048)
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")

    expected, expected_rows = _python_converter(inputs, tmp_path)
    assert result.columns == expected.column_names == ["n", "pad", "mid_file_key", "last_key", "b_key"]
    assert _as_text(_read_parts(result.files)) == _as_text(expected)
    assert result.rows == expected_rows == 170
    assert len(result.files) > 1
    assert [Path(f).name for f in result.files] == [
        f"{MANIFEST_ID}-part-{index:05d}.parquet" for index in range(len(result.files))
    ]


def test_rerun_replaces_parts_and_deletes_stale_ones(spark: SparkSession, tmp_path: Path):
    inputs = _write(tmp_path / "in", FILES)
    out = tmp_path / "out"
    out.mkdir()
    for name in (
        f"{MANIFEST_ID}-part-00000.parquet",
        f"{MANIFEST_ID}-part-00004.parquet",
        "batch-other-part-00001.parquet",
    ):
        (out / name).write_bytes(b"earlier run")

    result = _convert(spark, inputs, out)

    assert result.stale_parts_deleted == 1
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        f"{MANIFEST_ID}-part-00000.parquet",
        "batch-other-part-00001.parquet",
    ]
    assert _read_parts(result.files).num_rows == 7


def test_input_without_keys_gives_one_empty_part_like_the_converter(spark: SparkSession, tmp_path: Path):
    inputs = _write(tmp_path / "in", {"a.ndjson": b"{}\n\n{ }\n", "b.ndjson": b""})
    result = _convert(spark, inputs, tmp_path / "out")

    expected, expected_rows = _python_converter(inputs, tmp_path)
    assert (result.columns, result.rows) == ([], expected_rows)
    assert len(result.files) == 1
    assert pq.read_table(result.files[0]).schema.names == expected.column_names == []


def test_malformed_line_deep_in_a_file_names_file_and_line(spark: SparkSession, tmp_path: Path):
    lines = [b'{"n": %d}' % i for i in range(1, 600)]
    lines[499] = b'{"n": 500, "broken": tru}'
    inputs = _write(tmp_path / "in", {"a.ndjson": b'{"a": 1}\n', "b.ndjson": b"\n".join(lines)})

    with pytest.raises(JobError, match=r"malformed record in .*/b\.ndjson, line 500: ") as failure:
        _convert(spark, inputs, tmp_path / "out")
    assert "Traceback" not in str(failure.value)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").glob(f"{MANIFEST_ID}-part-*"))


def test_executors_load_the_native_scanner_from_the_shipped_zip(spark: SparkSession):
    def probe(_: int) -> tuple[str, str, list[str]]:
        converter = spark_job.executor_converter(PACKAGE_FILE)
        homes = [
            entry for entry in sys.path if Path(entry, "ndjson_to_parquet_converter", "__init__.py").is_file()
        ]
        return converter.__file__, converter.BACKEND, homes

    (file, backend, homes), *_ = spark.sparkContext.parallelize([0], 1).map(probe).collect()
    assert backend == "native"
    assert homes == [str(Path(file).parents[1])]  # only the folder the zip was extracted to
    assert not file.startswith(str(GLUE))


def test_converter_zip_already_shipped_as_a_py_file_is_not_added_twice(spark: SparkSession, tmp_path: Path):
    """Spark refuses a second file of the same name from another path (--extra-py-files + addFile)."""
    before = list(spark.sparkContext.listFiles)
    same_name = tmp_path / PACKAGE_FILE
    same_name.write_bytes(b"another copy")
    assert spark_job.ship_converter(spark, f"file://{same_name}") == PACKAGE_FILE
    assert list(spark.sparkContext.listFiles) == before


def test_failed_run_writes_a_job_log_with_the_reason(spark: SparkSession, tmp_path: Path):
    manifest = {
        "version": 1,
        "manifest_id": MANIFEST_ID,
        "file_count": 1,
        "files": [{"file_key": "x.ndjson", "uri": "s3://nowhere-bucket/x.ndjson", "size": 1}],
    }
    manifest_path = tmp_path / f"{MANIFEST_ID}.json"
    manifest_path.write_text(json.dumps(manifest))
    args = {
        "manifest_path": str(manifest_path),
        "output_path": str(tmp_path / "out"),
        "manifest_id": MANIFEST_ID,
    }
    log_path = tmp_path / "logs" / f"{MANIFEST_ID}.json"

    with pytest.raises(JobError):
        spark_job.run(spark, args, log_path=str(log_path))

    log = json.loads(log_path.read_text())
    assert log["status"] == "failed"
    assert "s3" in log["error"]
    assert log["manifest_id"] == MANIFEST_ID
