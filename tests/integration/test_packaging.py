"""Every service zip carries what it needs and nothing it should not, and imports in a clean
Lambda-like interpreter (ministack's own site-packages would hide a missing dependency) from a read-only
folder, using the zip's bytecode. Its reproducibility: test_packaging_reproducible.py."""

from __future__ import annotations

import functools
import importlib.util
import marshal
import posixpath
import zipfile
from pathlib import Path

import pytest

import build_zips
import lambda_import

REPO = Path(__file__).resolve().parents[2]
SERVICES = build_zips.services()
# PEP 552 header of a CPython 3.12 .pyc: magic number 3531, flags 0b01 (hash-based, source not checked).
MAGIC_312 = (3531).to_bytes(2, "little") + b"\r\n"
UNCHECKED_HASH = 0b01


@functools.cache
def _built(service: str) -> tuple[Path, str]:
    # Once per session: the sources do not change while the tests run, and a build compresses every
    # file of the zip again (sftp-worker's takes ~10 s of CPU here).
    return build_zips.build(service)


def test_every_service_is_packaged():
    """Every folder with a handler is a service build_zips builds, and Terraform deploys its zip."""
    with_handler = {path.parent.parent.name for path in (REPO / "services").glob("*/*/*/handler.py")}
    assert with_handler == set(SERVICES)
    terraform = "".join(path.read_text() for path in (REPO / "terraform" / "modules").rglob("*.tf"))
    for service in SERVICES:
        (package,) = build_zips.packages(build_zips.service_dirs()[service])
        assert f'"${{var.package_dir}}/{service}.zip"' in terraform, f"no Terraform deploys {service}"
        assert f'"{package.name}.handler.lambda_handler"' in terraform


@pytest.mark.parametrize("service", SERVICES)
def test_zip_holds_exactly_the_declared_packages(service: str):
    """The service's own package and what its service.toml declares; no other pipeline's core."""
    folder = build_zips.service_dirs()[service]
    path, _ = _built(service)
    top_level = {name.split("/", 1)[0] for name in zipfile.ZipFile(path).namelist() if "/" in name}
    repository = set(build_zips.library_packages()) | {
        p.name for f in build_zips.service_dirs().values() for p in build_zips.packages(f)
    }
    own = {package.name for package in build_zips.packages(folder)}
    assert top_level & repository == own | set(build_zips.declared_packages(folder))


@pytest.mark.parametrize("service", SERVICES)
def test_zip_contents(service: str):
    path, _ = _built(service)
    names = zipfile.ZipFile(path).namelist()
    assert names == sorted(names)
    assert "pipelines_shared/__init__.py" in names
    assert any(name.startswith("structlog/") for name in names)
    for package in build_zips.packages(build_zips.service_dirs()[service]):
        assert f"{package.name}/handler.py" in names
    forbidden = [name for name in names if "/tests/" in f"/{name}" or name.startswith("boto3/")]
    assert forbidden == []
    assert {info.date_time for info in zipfile.ZipFile(path).infolist()} == {build_zips.FIXED_TIME}


@pytest.mark.parametrize("service", SERVICES)
def test_every_module_has_its_312_bytecode_and_nothing_else_is_compiled(service: str):
    """One unchecked-hash .pyc per .py where the 3.12 runtime looks for it, made from that source."""
    path, _ = _built(service)
    archive = zipfile.ZipFile(path)
    sources = [name for name in archive.namelist() if name.endswith(".py")]
    expected = {
        posixpath.join(
            posixpath.dirname(name), "__pycache__", posixpath.basename(name)[:-3] + ".cpython-312.pyc"
        ): name
        for name in sources
    }
    compiled = [name for name in archive.namelist() if lambda_import.is_bytecode(name)]
    assert sorted(compiled) == sorted(expected)
    for pyc, source in expected.items():
        data = archive.read(pyc)
        assert data[:4] == MAGIC_312, pyc
        assert int.from_bytes(data[4:8], "little") == UNCHECKED_HASH, pyc
        assert data[8:16] == importlib.util.source_hash(archive.read(source)), f"{pyc} is not {source}'s"
        # The path inside the zip, not the path of the checkout that built it.
        assert marshal.loads(data[16:]).co_filename == source  # noqa: S302 (our own build output)


@pytest.mark.parametrize("service", SERVICES)
def test_handler_imports_in_clean_runtime(service: str):
    """The handler imports from a read-only copy of the zip (Lambda's /var/task) with the runtime's
    interpreter and no AWS settings, every module of the zip from its bytecode, writing nothing."""
    path, _ = _built(service)
    names = set(zipfile.ZipFile(path).namelist())
    with lambda_import.read_only_task(path) as task:
        before = lambda_import.snapshot(task)
        for package in build_zips.packages(build_zips.service_dirs()[service]):
            result = lambda_import.import_module(task, f"{package.name}.handler", audit=True)
            assert result.lambda_handler
            assert f"{package.name}.handler" in result.modules
            assert "pipelines_shared.log" in result.modules
            assert result.compiled == []
            assert result.writes == []
            cached = {pyc for pyc in result.modules.values() if pyc}
            assert cached <= names
        assert lambda_import.snapshot(task) == before


def test_import_probe_sees_modules_compiled_without_bytecode():
    """The check above can fail: from the same zip without its .pyc, every module is compiled and the
    runtime tries to write its bytecode into the read-only folder, and the probe reports both."""
    path, _ = _built("example-worker")
    with lambda_import.read_only_task(path, bytecode=False) as task:
        before = lambda_import.snapshot(task)
        result = lambda_import.import_module(task, "example_worker.handler", audit=True)
        assert "example_worker/handler.py" in result.compiled
        assert "pipelines_shared/log.py" in result.compiled
        assert "example_worker/__pycache__" in result.writes
        assert lambda_import.snapshot(task) == before
