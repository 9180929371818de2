"""Build one Lambda zip per service: its package, the repository packages it declares, their requirements.

    python tools/build_zips.py [service ...]      # default: every services/<pipeline>/<service>/

A service is a folder ``services/<pipeline>/<service>/`` with a ``requirements.txt``; its
``service.toml`` declares which of the repository's packages it imports (``pipelines_shared``, its
pipeline's core such as ``ndjson_to_parquet``), and only those go into its zip, so a change to one
pipeline's core never touches another pipeline's functions.

The zips are byte-reproducible: the same sources and pinned requirements give the same bytes
(sorted entries, fixed timestamps and permissions). Dependencies are installed for the Lambda
platform (manylinux x86_64, CPython 3.12, wheels only) and cached under .local/build/deps by the
hash of the requirements, so a rebuild does not reach the registry. boto3/botocore are not
bundled: the python3.12 runtime provides them.

Every ``.py`` in a zip has its bytecode beside it (``__pycache__/<module>.cpython-312.pyc``): Lambda's
``/var/task`` is read-only, so without it every cold start compiles every module it imports. The
``.pyc`` are unchecked-hash ones (PEP 552): the runtime loads them without comparing timestamps, and
they hold no time, only the source's hash, so they are as reproducible as the sources. They are
compiled by this interpreter, which must be CPython 3.12 like the runtime, in a child process with a
fixed hash seed and no site packages, and record the file's path inside the zip as its file name
(the runtime substitutes the real path when it loads them). Dependencies are compiled once, into
the cache. The bytes depend on the 3.12 release that compiles them (a bug-fix release may change
the compiler's output), so that version is part of the cache key.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SERVICES = REPO / "services"
SHARED = REPO / "shared"
OUT = REPO / "build"
CACHE = REPO / ".local" / "build" / "deps"
PLATFORM = os.environ.get("LAMBDA_PLATFORM", "manylinux2014_x86_64")
PYTHON_VERSION = "3.12"
# importlib's name for 3.12 bytecode files: __pycache__/<module>.cpython-312.pyc
CACHE_TAG = "cpython-312"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
# Part of the dependency cache key: bump it when install_dependencies changes what it leaves behind.
CACHE_FORMAT = "3"
EXCLUDED_DIRS = {"__pycache__", "tests", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
EXCLUDED_SUFFIXES = {".pyc", ".pyo"}


def service_dirs() -> dict[str, Path]:
    """Every service by name: ``services/<pipeline>/<service>/`` folders with a requirements.txt."""
    found: dict[str, Path] = {}
    for requirements in sorted(SERVICES.glob("*/*/requirements.txt")):
        folder = requirements.parent
        if folder.name in found:
            raise SystemExit(f"two services are called {folder.name}: {found[folder.name]} and {folder}")
        found[folder.name] = folder
    return found


def services() -> list[str]:
    return sorted(service_dirs())


def packages(service_dir: Path) -> list[Path]:
    """The service's own importable packages: its folders with an __init__.py (never tests/)."""
    return sorted(p for p in service_dir.iterdir() if (p / "__init__.py").is_file() and p.name != "tests")


def library_packages() -> dict[str, Path]:
    """The repository's packages a service may declare: pipelines_shared and each pipeline's core."""
    found = {"pipelines_shared": SHARED / "pipelines_shared"}
    for init in sorted(SERVICES.glob("*/*/__init__.py")):
        found[init.parent.name] = init.parent
    return found


def declared_packages(service_dir: Path) -> list[str]:
    """The repository packages named in the service's service.toml (``packages = [...]``)."""
    import tomllib  # here, not at the top: build_glue imports this module under Glue's Python 3.9

    declaration = service_dir / "service.toml"
    if not declaration.is_file():
        raise SystemExit(f"{declaration} is missing: declare the packages the service imports")
    names = tomllib.loads(declaration.read_text()).get("packages", [])
    known = library_packages()
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise SystemExit(f"{declaration}: unknown package(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return sorted(names)


def requirement_lines(service_dir: Path) -> list[str]:
    lines = []
    sources = [service_dir / "requirements.txt"]
    if "pipelines_shared" in declared_packages(service_dir):
        sources.insert(0, SHARED / "requirements.txt")
    for path in sources:
        for line in path.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                lines.append(line)
    return sorted(set(lines))


def require_runtime_python() -> None:
    """Bytecode is only loaded by the Python that wrote it: refuse to compile with any other."""
    if sys.implementation.cache_tag != CACHE_TAG:
        raise SystemExit(
            f"tools/build_zips.py compiles bytecode for the python{PYTHON_VERSION} Lambda runtime and must"
            f" run under CPython {PYTHON_VERSION}; this is {platform.python_implementation()}"
            f" {platform.python_version()} ({sys.executable}). Use .venv/bin/python (`make build`)."
        )


def pyc_name(name: str) -> str:
    """Where importlib looks for the bytecode of the module at ``name`` (a path inside the zip)."""
    folder, _, file = name.rpartition("/")
    return f"{folder}/__pycache__/{file[:-3]}.{CACHE_TAG}.pyc".lstrip("/")


# Run in a child with PYTHONHASHSEED=0 and no site: nothing hash-ordered or left over from this process
# (pytest, pip, another venv's .pth files) can reach the marshalled code.
COMPILER = """
import json, py_compile, sys
for source, name, pyc in json.load(sys.stdin):
    py_compile.compile(source, cfile=pyc, dfile=name, doraise=True, optimize=0,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
"""


def compile_bytecode(entries: list[tuple[str, Path]], out: Path) -> list[tuple[str, Path]]:
    """Compile each .py entry to ``out/<its pyc name>``; return the .pyc as zip entries."""
    require_runtime_python()
    jobs = [(str(path), name, str(out / pyc_name(name))) for name, path in entries if name.endswith(".py")]
    result = subprocess.run(
        [sys.executable, "-S", "-s", "-c", COMPILER],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        env={"PYTHONHASHSEED": "0"},
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"compiling bytecode failed:\n{result.stderr}")
    return [(pyc_name(name), Path(pyc)) for _, name, pyc in jobs]


def install_dependencies(requirements: list[str]) -> Path:
    """Install and compile requirements for the Lambda platform into a cache folder keyed by their hash."""
    key = hashlib.sha256(
        "\n".join([CACHE_FORMAT, PLATFORM, PYTHON_VERSION, platform.python_version(), *requirements]).encode()
    ).hexdigest()[:16]
    target = CACHE / key
    if (target / ".complete").exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    if requirements:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
            handle.write("\n".join(requirements) + "\n")
        try:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-compile",
                    "--only-binary=:all:",
                    "--implementation",
                    "cp",
                    "--platform",
                    PLATFORM,
                    "--python-version",
                    PYTHON_VERSION,
                    "--target",
                    str(target),
                    "-r",
                    handle.name,
                ],
                check=True,
            )
        finally:
            os.unlink(handle.name)
    # Installed scripts carry this machine's interpreter path: not reproducible, not needed. Their
    # lines in each RECORD (paths outside the tree, "../../bin/...") would carry the path's hash.
    shutil.rmtree(target / "bin", ignore_errors=True)
    for record in target.glob("*.dist-info/RECORD"):
        lines = record.read_text().splitlines(keepends=True)
        record.write_text("".join(line for line in lines if not line.startswith("../")))
    compile_bytecode(walk(target, ""), target)
    (target / ".complete").write_text(key)
    return target


def walk(root: Path, prefix: str) -> list[tuple[str, Path]]:
    """The files under root as (name in the zip, path), leaving out tests, caches and bytecode."""
    entries = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part in EXCLUDED_DIRS for part in relative.parts) or path.suffix in EXCLUDED_SUFFIXES:
            continue
        if path.is_file() and path.name != ".complete":
            entries.append((f"{prefix}{relative.as_posix()}", path))
    return entries


def write_zip(entries: list[tuple[str, Path]], destination: Path) -> str:
    """Write entries deterministically; leave destination untouched if the bytes would not change."""
    seen: dict[str, Path] = {}
    for name, path in entries:
        if name in seen:
            raise SystemExit(f"{name} comes from both {seen[name]} and {path}")
        seen[name] = path
    temporary = destination.with_suffix(f".zip.{os.getpid()}.tmp")  # two builders never share one
    with zipfile.ZipFile(temporary, "w") as archive:
        for name in sorted(seen):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            archive.writestr(info, seen[name].read_bytes(), compresslevel=9)
    digest = hashlib.sha256(temporary.read_bytes()).hexdigest()
    if destination.exists() and hashlib.sha256(destination.read_bytes()).hexdigest() == digest:
        temporary.unlink()
    else:
        temporary.replace(destination)
    return digest


def build(service: str) -> tuple[Path, str]:
    require_runtime_python()
    service_dir = service_dirs()[service]
    deps = install_dependencies(requirement_lines(service_dir))
    entries = walk(deps, "")
    # Compiled into the cache by install_dependencies, beside each source.
    entries += [(pyc_name(name), deps / pyc_name(name)) for name, _ in entries if name.endswith(".py")]
    ours: list[tuple[str, Path]] = []
    library = library_packages()
    for name in declared_packages(service_dir):
        ours += walk(library[name], f"{name}/")
    for package in packages(service_dir):
        ours += walk(package, f"{package.name}/")
    OUT.mkdir(exist_ok=True)
    destination = OUT / f"{service}.zip"
    # A zip whose inputs did not change since it was written is the same bytes: reuse it (make test
    # and the e2e session would otherwise compress the same zips three times over).
    inputs = inputs_digest(deps, ours)
    stamp = destination.with_suffix(".zip.inputs")
    if destination.exists() and stamp.exists():
        recorded_inputs, _, recorded_zip = stamp.read_text().partition(" ")
        if recorded_inputs == inputs and hashlib.sha256(destination.read_bytes()).hexdigest() == recorded_zip:
            return destination, recorded_zip
    with tempfile.TemporaryDirectory() as compiled:
        entries += ours + compile_bytecode(ours, Path(compiled))
        digest = write_zip(entries, destination)
    stamp.write_text(f"{inputs} {digest}")
    return destination, digest


def inputs_digest(deps: Path, ours: list[tuple[str, Path]]) -> str:
    """Everything a zip's bytes depend on: the dependency cache key (requirements, platform, the
    compiling interpreter's version), this builder's own source, and each repository file by name
    and content."""
    digest = hashlib.sha256((deps / ".complete").read_bytes())
    digest.update(Path(__file__).read_bytes())
    digest.update(platform.python_version().encode())
    for name, path in sorted(ours):
        digest.update(f"\0{name}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def main(argv: list[str]) -> int:
    names = argv or services()
    unknown = sorted(set(names) - set(services()))
    if unknown:
        print(f"unknown service(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    for name in names:
        path, digest = build(name)
        print(f"{path.relative_to(REPO)}  {path.stat().st_size / 1024:8.0f} KiB  sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
