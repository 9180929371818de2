"""Fixtures for the ndjson_to_parquet_converter tests: the C scanner built once, and each backend in turn.

Runs under Python 3.9 (.local/venv-glue: pyarrow, boto3, pytest) and 3.12 (.venv, with msgspec).
"""

from __future__ import annotations

import importlib.util
import pathlib
import subprocess

import pytest

from ndjson_to_parquet_converter import _backend, _native

GLUE = pathlib.Path(__file__).resolve().parents[1]

# The pure-Python fallback decodes with msgspec where it is installed, else with the stdlib json.
BACKENDS = ["native", "json"] + (["msgspec"] if importlib.util.find_spec("msgspec") else [])


@pytest.fixture(scope="session")
def native_library() -> pathlib.Path:
    """glue/ndjson_to_parquet_converter/_scanner.so, compiled by glue/build_native.sh when missing."""
    if not _native.LIBRARY.exists():
        subprocess.run(["bash", str(GLUE / "build_native.sh")], check=True)
    assert _native.LIBRARY.exists(), "glue/build_native.sh did not produce _scanner.so (no compiler?)"
    return _native.LIBRARY


@pytest.fixture(scope="session")
def backend_names() -> list[str]:
    """Every backend this interpreter can run."""
    return list(BACKENDS)


@pytest.fixture(params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, native_library: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Makes every ndjson_to_parquet_converter function use one backend for the test."""
    chosen = _backend.Backend(request.param)
    monkeypatch.setattr(_backend, "_active", chosen)
    return chosen.name
