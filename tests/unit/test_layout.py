"""The layout's rules, read from the code itself: who may import whom, what a handler looks like.

- ``pipelines_shared`` is the generic library: it imports no pipeline, and holds only the generic
  modules listed below (a new one is a decision, made here, not a side effect).
- A pipeline's core (``services/<pipeline>/<core>/``) imports only itself and ``pipelines_shared``:
  no other pipeline's core, no service.
- A service imports only its own package and the repository packages its ``service.toml`` declares:
  never another service, never an undeclared core (its zip would not carry it).
- Every handler follows one idiom: a frozen ``Settings`` dataclass filled by the one loader, a frozen
  ``Dependencies`` dataclass built once by a cached ``dependencies()``, and ``lambda_handler``; only
  the settings loader reads the environment.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import build_zips

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO / "shared" / "pipelines_shared"
GENERIC_MODULES = {
    "aws", "batch", "clock", "db", "deadline", "http", "log", "migrations", "retry", "settings", "sftp",
    "redrive", "executions", "tracking",
}  # fmt: skip

SERVICES = build_zips.service_dirs()
LIBRARY = build_zips.library_packages()
CORES = {name: path for name, path in LIBRARY.items() if name != "pipelines_shared"}
SERVICE_PACKAGES = {
    package.name: (service, package)
    for service, folder in SERVICES.items()
    for package in build_zips.packages(folder)
}
REPO_PACKAGES = set(LIBRARY) | set(SERVICE_PACKAGES)


def python_files(package: Path) -> Iterator[Path]:
    yield from sorted(path for path in package.rglob("*.py") if "tests" not in path.parts)


def imported_packages(path: Path) -> set[str]:
    """The repository packages a module imports (top-level names; relative imports are its own)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update(name.split(".")[0] for name in names if name.split(".")[0] in REPO_PACKAGES)
    return found


def test_the_layout_has_every_pipeline_and_service():
    assert set(CORES) == {"alerts_to_sftp", "csv_to_api", "ndjson_to_parquet"}
    assert {path.parent.name for path in CORES.values()} == set(CORES)  # services/<pipeline>/<pipeline>/
    assert len(SERVICES) == 14
    assert all(folder.parent.parent == REPO / "services" for folder in SERVICES.values())


def test_pipelines_shared_holds_only_generic_modules():
    modules = {
        path.stem if path.is_file() else path.name
        for path in SHARED.iterdir()
        if path.name not in {"__init__.py", "__pycache__", "py.typed"}
    }
    assert modules == GENERIC_MODULES


@pytest.mark.parametrize("path", list(python_files(SHARED)), ids=lambda p: str(p.relative_to(REPO)))
def test_pipelines_shared_imports_no_pipeline(path: Path):
    assert imported_packages(path) <= {"pipelines_shared"}


@pytest.mark.parametrize(
    ("core", "path"),
    [(core, path) for core, folder in CORES.items() for path in python_files(folder)],
    ids=lambda value: str(value.relative_to(REPO)) if isinstance(value, Path) else value,
)
def test_a_core_imports_only_itself_and_the_shared_library(core: str, path: Path):
    assert imported_packages(path) <= {core, "pipelines_shared"}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_a_service_imports_only_its_own_package_and_what_it_declares(service: str):
    folder = SERVICES[service]
    own = {package.name for package in build_zips.packages(folder)}
    allowed = own | set(build_zips.declared_packages(folder))
    used = set().union(
        *(imported_packages(path) for package in own for path in python_files(folder / package))
    )
    assert used <= allowed, f"{service} imports {sorted(used - allowed)} without declaring them"
    # A declaration nothing uses ships dead code in every zip.
    assert set(build_zips.declared_packages(folder)) <= used


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_handler_follows_the_one_idiom(service: str):
    folder = SERVICES[service]
    (package,) = build_zips.packages(folder)
    sys.path.insert(0, str(folder))
    try:
        handler = importlib.import_module(f"{package.name}.handler")
    finally:
        sys.path.remove(str(folder))
    for name in ("Settings", "Dependencies"):
        cls = getattr(handler, name)
        assert dataclasses.is_dataclass(cls), f"{name} is a dataclass"
        assert cls.__dataclass_params__.frozen, f"{name} is frozen"
    assert callable(getattr(handler.dependencies, "cache_clear", None)), "dependencies() is cached"
    assert callable(handler.lambda_handler)
    module_state = [
        node.targets[0].id
        for node in ast.parse((package / "handler.py").read_text()).body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id.startswith("_")
    ]
    assert module_state == [], "collaborators live in Dependencies, not in module globals"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_only_the_settings_loader_reads_the_environment(service: str):
    folder = SERVICES[service]
    for package in build_zips.packages(folder):
        for path in python_files(folder / package.name):
            source = path.read_text()
            assert "os.environ" not in source, path
            assert "os.getenv" not in source, path
