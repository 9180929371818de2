"""Every service zip is reproducible, carries what it needs and nothing it should not, and imports
in a clean Lambda-like interpreter (ministack's own site-packages would hide a missing dependency)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
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
    path, _ = build_zips.build(service)
    top_level = {name.split("/", 1)[0] for name in zipfile.ZipFile(path).namelist() if "/" in name}
    repository = set(build_zips.library_packages()) | {
        p.name for f in build_zips.service_dirs().values() for p in build_zips.packages(f)
    }
    own = {package.name for package in build_zips.packages(folder)}
    assert top_level & repository == own | set(build_zips.declared_packages(folder))


@pytest.mark.parametrize("service", SERVICES)
def test_zip_is_byte_reproducible_in_another_checkout(service: str, tmp_path: Path):
    """Same sources, another path, new file times, an empty dependency cache: the same bytes."""
    _, digest = build_zips.build(service)
    other = tmp_path / "elsewhere" / "lambda-pipelines"
    service_dir = build_zips.service_dirs()[service].relative_to(REPO)
    library = build_zips.library_packages()
    declared = [library[name].relative_to(REPO) for name in build_zips.declared_packages(REPO / service_dir)]
    for part in ["tools/build_zips.py", "shared/requirements.txt", service_dir, *declared]:
        source, target = REPO / part, other / part
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target)
    for path in other.rglob("*"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
    # Another interpreter path too (pip writes it into installed scripts): a venv of our own.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    result = subprocess.run(
        [str(venv / "bin" / "python"), str(other / "tools" / "build_zips.py"), service],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert _sha256(other / "build" / f"{service}.zip") == digest


@pytest.mark.parametrize("service", SERVICES)
def test_zip_contents(service: str):
    path, _ = build_zips.build(service)
    names = zipfile.ZipFile(path).namelist()
    assert names == sorted(names)
    assert "pipelines_shared/__init__.py" in names
    assert any(name.startswith("structlog/") for name in names)
    for package in build_zips.packages(build_zips.service_dirs()[service]):
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
    for package in build_zips.packages(build_zips.service_dirs()[service]):
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
