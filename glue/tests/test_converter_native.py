"""The C scanner as shipped: loadable on the AWS runtimes' glibc, chosen by default, with a fallback."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from ndjson_to_parquet_converter import _backend, _native

GLUE = pathlib.Path(__file__).resolve().parents[1]
# AWS Glue Python shell runs Amazon Linux 2 (glibc 2.26), Lambda python3.12 AL2023 (2.34): stay <= 2.17.
GLIBC_CEILING = (2, 17)


def dynamic_symbols(library: pathlib.Path) -> str:
    for tool in (["objdump", "-T"], ["readelf", "--dyn-syms", "-W"]):
        if shutil.which(tool[0]):
            return subprocess.run([*tool, str(library)], check=True, capture_output=True, text=True).stdout
    pytest.fail("neither objdump nor readelf is installed (binutils): cannot check the .so's glibc needs")


def test_scanner_needs_no_glibc_newer_than_2_17(native_library: pathlib.Path) -> None:
    symbols = dynamic_symbols(native_library)
    versions = {
        tuple(int(part) for part in match.groups() if part is not None)
        for match in re.finditer(r"GLIBC_(\d+)\.(\d+)(?:\.(\d+))?", symbols)
    }
    assert versions, symbols
    too_new = sorted(version for version in versions if version[:2] > GLIBC_CEILING)
    assert not too_new, f"symbols need glibc {too_new}:\n{symbols}"
    assert "_chk" not in symbols  # fortified variants came in newer glibc versions


def test_scanner_exports_only_its_api(native_library: pathlib.Path) -> None:
    exported = set(re.findall(r"\.text\s+\S+\s+(?:Base\s+)?(\w+)\s*$", dynamic_symbols(native_library), re.M))
    assert exported
    assert {name for name in exported if not name.startswith("nd_")} <= {"_init", "_fini"}


def test_fresh_import_picks_the_native_backend(native_library: pathlib.Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "NDJSON_TO_PARQUET_BACKEND"}
    env["PYTHONPATH"] = str(GLUE)
    out = subprocess.run(
        [sys.executable, "-c", "import ndjson_to_parquet_converter as n; print(n.BACKEND)"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.stdout.strip() == "native"


@pytest.mark.parametrize("library", ["missing", "garbage", "stale"])
def test_without_a_loadable_scanner_the_python_fallback_is_chosen(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, library: str
) -> None:
    path = tmp_path / "_scanner.so"
    if library == "garbage":
        path.write_bytes(b"\x7fELF not really")
    elif library == "stale":  # built from another version of _scanner.c
        source = tmp_path / "stale.c"
        source.write_text("int nd_abi_version(void) { return 1; }\n")
        subprocess.run(
            [os.environ.get("CC", "gcc"), "-shared", "-fPIC", "-o", str(path), str(source)], check=True
        )
    monkeypatch.setattr(_native, "LIBRARY", path)
    monkeypatch.delenv("NDJSON_TO_PARQUET_BACKEND", raising=False)
    chosen = _backend._choose()
    assert chosen.name in ("msgspec", "json")
    monkeypatch.setenv("NDJSON_TO_PARQUET_BACKEND", "native")
    with pytest.raises(OSError, match=r"_scanner\.so"):
        _backend._choose()


def test_backend_can_be_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NDJSON_TO_PARQUET_BACKEND", "json")
    assert _backend._choose().name == "json"
    monkeypatch.setenv("NDJSON_TO_PARQUET_BACKEND", "fast")
    with pytest.raises(ValueError, match="unknown"):
        _backend._choose()


def test_build_script_is_repeatable(native_library: pathlib.Path) -> None:
    out = subprocess.run(["bash", str(GLUE / "build_native.sh")], check=True, capture_output=True, text=True)
    assert "built" in out.stdout
    assert _native.load().nd_abi_version() == _native.ABI_VERSION
    assert not list(native_library.parent.glob("_scanner.so.*"))  # no temporary left behind
