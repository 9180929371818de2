"""python -m ndjson_to_parquet_converter: the local backfill command."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

GLUE = pathlib.Path(__file__).resolve().parents[1]


def cli(*args: str, backend: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(GLUE), NDJSON_TO_PARQUET_BACKEND=backend)
    return subprocess.run(
        [sys.executable, "-m", "ndjson_to_parquet_converter", *args], capture_output=True, text=True, env=env
    )


@pytest.fixture
def landing(tmp_path: pathlib.Path) -> pathlib.Path:
    root = tmp_path / "landing"
    (root / "2026-02-01" / "sub").mkdir(parents=True)
    (root / "2026-02-01" / "b.ndjson").write_bytes(b'{"b": 1.50}\n')
    (root / "2026-02-01" / "a.ndjson").write_bytes(b'{"a": "x", "b": -0}\n{"a": null}\n')
    (root / "2026-02-01" / "sub" / "c.ndjson").write_bytes(b'{"c": [1, 2]}\n')
    (root / "2026-02-01" / ".hidden.ndjson").write_bytes(b"not json\n")
    return root


def test_convert_a_directory(tmp_path: pathlib.Path, landing: pathlib.Path, backend: str) -> None:
    out = tmp_path / "out"
    done = cli(
        "convert",
        "--output-dir",
        str(out),
        "--basename",
        "batch-1",
        str(landing / "2026-02-01"),
        backend=backend,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["files"] == [str(out / "batch-1-part-00000.parquet")]
    assert summary["rows"] == 4
    assert summary["columns"] == ["a", "b", "c"]  # a.ndjson, b.ndjson, sub/c.ndjson: sorted paths
    assert summary["input_bytes"] == sum(
        path.stat().st_size for path in landing.rglob("*.ndjson") if not path.name.startswith(".")
    )
    assert summary["seconds"] >= 0
    assert summary["mb_per_s"] >= 0
    assert pq.read_table(summary["files"][0]).to_pylist() == [
        {"a": "x", "b": "-0", "c": None},
        {"a": None, "b": None, "c": None},
        {"a": None, "b": "1.50", "c": None},
        {"a": None, "b": None, "c": "[1, 2]"},
    ]


def test_convert_globs_and_part_size(tmp_path: pathlib.Path, landing: pathlib.Path, backend: str) -> None:
    pattern = str(landing / "**" / "*.ndjson")
    done = cli(
        "convert",
        "--output-dir",
        str(tmp_path / "o"),
        "--basename",
        "g",
        "--target-file-mb",
        "1",
        pattern,
        backend=backend,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows"] == 4


def test_columns_command(landing: pathlib.Path, backend: str) -> None:
    done = cli(
        "columns",
        str(landing / "2026-02-01" / "b.ndjson"),
        str(landing / "2026-02-01" / "a.ndjson"),
        backend=backend,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["b", "a"]


def test_malformed_input_exits_2_with_the_line(tmp_path: pathlib.Path, backend: str) -> None:
    bad = tmp_path / "bad.ndjson"
    bad.write_bytes(b'{"a": 1}\n{"a": 01}\n')
    done = cli("convert", "--output-dir", str(tmp_path / "o"), "--basename", "x", str(bad), backend=backend)
    assert done.returncode == 2
    assert f"{bad}:2:" in done.stderr
    assert done.stdout == ""
    assert not (tmp_path / "o" / "x-part-00000.parquet").exists()


def test_missing_input_is_an_error(tmp_path: pathlib.Path, backend: str) -> None:
    done = cli(
        "convert",
        "--output-dir",
        str(tmp_path),
        "--basename",
        "x",
        str(tmp_path / "nope*.ndjson"),
        backend=backend,
    )
    assert done.returncode == 1
    assert "no input matches" in done.stderr
