"""build/glue/: the converter zip the jobs download is reproducible, carries the scanner and nothing
else, and the job scripts are copied as they are (tools/build_glue.py)."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))  # glue/pytest.ini does not put tools/ on the path

import build_glue  # noqa: E402


@pytest.fixture
def out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    assert build_glue.SCANNER.is_file(), (
        "glue/ndjson_to_parquet_converter/_scanner.so is missing: run `make native`"
    )
    monkeypatch.setattr(build_glue, "OUT", tmp_path / "build" / "glue")
    return tmp_path / "build" / "glue"


def test_zip_holds_the_package_with_its_scanner_and_nothing_else(out: Path):
    built = build_glue.build()
    archive = zipfile.ZipFile(out / build_glue.ZIP_NAME)
    names = archive.namelist()
    assert names == sorted(names)
    assert {"ndjson_to_parquet_converter/__init__.py", "ndjson_to_parquet_converter/_scanner.so"} <= set(
        names
    )
    assert all(name.startswith("ndjson_to_parquet_converter/") for name in names)
    unwanted = [
        n for n in names if "/tests/" in n or "__pycache__" in n or n.endswith((".pyc", ".c", ".tmp"))
    ]
    assert unwanted == []
    assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    scanner = archive.read("ndjson_to_parquet_converter/_scanner.so")
    assert scanner == build_glue.SCANNER.read_bytes()
    for script in build_glue.SCRIPTS:
        assert (out / script.name).read_bytes() == script.read_bytes()
        assert built[out / script.name] == hashlib.sha256(script.read_bytes()).hexdigest()


def test_zip_is_byte_reproducible_from_another_checkout(
    out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    first = build_glue.build()[out / build_glue.ZIP_NAME]
    copy = tmp_path / "elsewhere" / "ndjson_to_parquet_converter"
    shutil.copytree(build_glue.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    for path in copy.rglob("*"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
    monkeypatch.setattr(build_glue, "PACKAGE", copy)
    monkeypatch.setattr(build_glue, "SCANNER", copy / "_scanner.so")
    (out / build_glue.ZIP_NAME).unlink()
    assert build_glue.build()[out / build_glue.ZIP_NAME] == first


def test_missing_scanner_asks_for_make_native(out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(build_glue, "SCANNER", tmp_path / "nowhere" / "_scanner.so")
    with pytest.raises(SystemExit, match="run `make native`"):
        build_glue.build()
    assert not (out / build_glue.ZIP_NAME).exists()
