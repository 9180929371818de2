"""Build the Glue job artifacts into build/glue/ (run by `make build`, after `make native`):

    build/glue/ndjson_to_parquet_converter.zip        the converter package with its C scanner (_scanner.so);
                                            the jobs get it through --converter_package
    build/glue/ndjson_to_parquet_job.py     the Python-shell job script (ScriptLocation)
    build/glue/ndjson_to_parquet_spark.py   the glueetl job script (ScriptLocation)

Byte-reproducible like the Lambda zips (tools/build_zips.py): sorted entries, fixed timestamps and
permissions, no tests or bytecode. The scanner is part of the zip's bytes, so the zip is as
reproducible as the compiler's output.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import build_zips

REPO = Path(__file__).resolve().parents[1]
GLUE = REPO / "glue"
PACKAGE = GLUE / "ndjson_to_parquet_converter"
SCANNER = PACKAGE / "_scanner.so"
SCRIPTS = (GLUE / "jobs" / "ndjson_to_parquet_job.py", GLUE / "jobs" / "ndjson_to_parquet_spark.py")
OUT = REPO / "build" / "glue"
ZIP_NAME = "ndjson_to_parquet_converter.zip"
# Compiler inputs and editor leftovers have no business in the job's package.
EXCLUDED_SUFFIXES = {".c", ".h", ".o", ".tmp"}


def package_entries() -> list[tuple[str, Path]]:
    """(name in the zip, source file) for the converter package, _scanner.so included."""
    if not SCANNER.is_file():
        raise SystemExit(f"{SCANNER} is missing: run `make native` first (needs gcc)")
    entries = build_zips.walk(PACKAGE, f"{PACKAGE.name}/")
    return [
        (name, path)
        for name, path in entries
        if path.suffix not in EXCLUDED_SUFFIXES
        and not path.name.startswith(".")
        and ".so." not in path.name  # build_native.sh's temporary files
    ]


def copy_if_changed(source: Path, destination: Path) -> str:
    """Copy unless the bytes are already there; a reader never sees a half-written script."""
    data = source.read_bytes()
    if not destination.exists() or destination.read_bytes() != data:
        temporary = destination.with_name(f".{destination.name}.tmp")
        temporary.write_bytes(data)
        temporary.replace(destination)
    return hashlib.sha256(data).hexdigest()


def build() -> dict[Path, str]:
    """Write every artifact; their paths and sha256 digests."""
    OUT.mkdir(parents=True, exist_ok=True)
    built = {OUT / ZIP_NAME: build_zips.write_zip(package_entries(), OUT / ZIP_NAME)}
    for script in SCRIPTS:
        built[OUT / script.name] = copy_if_changed(script, OUT / script.name)
    return built


def main(argv: list[str]) -> int:
    if argv:
        print("usage: build_glue.py (no arguments)", file=sys.stderr)
        return 2
    for path, digest in build().items():
        print(f"{path.relative_to(REPO)}  {path.stat().st_size / 1024:8.0f} KiB  sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
