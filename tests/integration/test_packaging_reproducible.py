"""Every service zip is byte-reproducible: the same sources in another checkout (another path, new file
times, another interpreter path, an empty dependency cache) build the same bytes.

Its own file, so that `make test`'s unit session (pytest-xdist, a file per worker) runs this minutes-long
check beside the other packaging tests instead of after them. One build of every service in the other
checkout: services with the same requirements share its (initially empty) dependency cache, as they do
in a real checkout, so each distinct dependency set is installed once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import build_zips

REPO = Path(__file__).resolve().parents[2]
SERVICES = build_zips.services()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every service built in a copy of the sources under another path, with new file times."""
    root = tmp_path_factory.mktemp("reproducible")
    other = root / "elsewhere" / "lambda-pipelines"
    library = build_zips.library_packages()
    parts = {Path("tools/build_zips.py"), Path("shared/requirements.txt")}
    for service in SERVICES:
        folder = build_zips.service_dirs()[service]
        parts.add(folder.relative_to(REPO))
        parts.update(library[name].relative_to(REPO) for name in build_zips.declared_packages(folder))
    for part in sorted(parts):
        source, target = REPO / part, other / part
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target)
    for path in other.rglob("*"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
    # Another interpreter path too (pip writes it into installed scripts): a venv of our own.
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    result = subprocess.run(
        [str(venv / "bin" / "python"), str(other / "tools" / "build_zips.py")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return other / "build"


@pytest.mark.parametrize("service", SERVICES)
def test_zip_is_byte_reproducible_in_another_checkout(service: str, elsewhere: Path) -> None:
    _, digest = build_zips.build(service)  # this checkout's zip (reused when its inputs are unchanged)
    assert _sha256(elsewhere / f"{service}.zip") == digest
