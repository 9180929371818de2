"""Every service zip is reproducible, carries what it needs and nothing it should not, and imports
in a clean Lambda-like interpreter (ministack's own site-packages would hide a missing dependency)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

import build_zips

REPO = Path(__file__).resolve().parents[2]
RUNTIME_PYTHON = REPO / ".local" / "venv-runtime" / "bin" / "python"
SERVICES = build_zips.services()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_service_is_packaged():
    assert "example-worker" in SERVICES


@pytest.mark.parametrize("service", SERVICES)
def test_zip_is_byte_reproducible(service: str):
    first, digest = build_zips.build(service)
    assert _sha256(first) == digest
    # Touch every source file: new mtimes must not change a byte of the zip.
    for path in (REPO / "services" / service).rglob("*.py"):
        os.utime(path)
    for path in (REPO / "shared" / "pipelines_shared").rglob("*.py"):
        os.utime(path)
    first.unlink()
    _, second_digest = build_zips.build(service)
    assert second_digest == digest


@pytest.mark.parametrize("service", SERVICES)
def test_zip_contents(service: str):
    path, _ = build_zips.build(service)
    names = zipfile.ZipFile(path).namelist()
    assert names == sorted(names)
    assert "pipelines_shared/__init__.py" in names
    assert any(name.startswith("structlog/") for name in names)
    for package in build_zips.packages(REPO / "services" / service):
        assert f"{package.name}/handler.py" in names
    forbidden = [
        name
        for name in names
        if "/tests/" in f"/{name}"
        or "__pycache__" in name
        or name.endswith(".pyc")
        or name.startswith("boto3/")
    ]
    assert forbidden == []
    assert {info.date_time for info in zipfile.ZipFile(path).infolist()} == {build_zips.FIXED_TIME}


@pytest.mark.parametrize("service", SERVICES)
def test_handler_imports_in_clean_runtime(service: str, tmp_path: Path):
    assert RUNTIME_PYTHON.exists(), "run `make setup` (builds .local/venv-runtime)"
    path, _ = build_zips.build(service)
    zipfile.ZipFile(path).extractall(tmp_path)
    for package in build_zips.packages(REPO / "services" / service):
        code = (
            "import sys; sys.path.insert(0, sys.argv[1]); import importlib; "
            f"module = importlib.import_module('{package.name}.handler'); "
            "assert callable(module.lambda_handler); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pipelines_shared', 'structlog')))"
        )
        # -I: isolated (no user site, no PYTHONPATH, no cwd); the env has no AWS settings at all,
        # so an import that reaches the network or reads a setting at import time fails here.
        result = subprocess.run(
            [str(RUNTIME_PYTHON), "-I", "-c", code, str(tmp_path)],
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin"},
            cwd=tmp_path,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "pipelines_shared" in result.stdout
