"""Import a service's handler the way the Lambda runtime does on a cold start.

The zip is unpacked into a read-only folder (Lambda's ``/var/task`` is read-only, so the runtime can
neither write nor reuse bytecode there), and the handler module is imported by a fresh
``.local/venv-runtime`` interpreter (Python 3.12 and the runtime's boto3 only) in isolated mode with no
AWS settings in its environment. Used by tests/integration/test_packaging.py (the zip imports, its
bytecode is used and nothing is written) and bench/bench_cold_start.py (how long the import takes).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNTIME_PYTHON = REPO / ".local" / "venv-runtime" / "bin" / "python"
PROBE = Path(__file__).resolve().with_name("import_probe.py")
# Nothing but a PATH: a handler that reads a setting or reaches AWS on import fails here.
CLEAN_ENV = {"PATH": "/usr/bin:/bin"}
# As root, file modes do not stop writes; a read-only bind mount in a private mount namespace does.
READ_ONLY_MOUNT = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'


@dataclass(frozen=True)
class ImportResult:
    import_ms: float
    cpu_ms: float
    lambda_handler: bool  # the module has a callable lambda_handler
    modules: dict[str, str]  # module -> its bytecode file in the folder ("" for extensions)
    compiled: list[str]  # files of the folder compiled from source during the import
    writes: list[str]  # attempts to write into the folder
    stderr: str


def is_bytecode(name: str) -> bool:
    return name.startswith("__pycache__/") or "/__pycache__/" in name or name.endswith((".pyc", ".pyo"))


@contextmanager
def read_only_task(zip_path: Path, *, bytecode: bool = True) -> Iterator[Path]:
    """The zip unpacked into a temporary read-only folder; ``bytecode=False`` leaves its .pyc out."""
    folder = Path(tempfile.mkdtemp(prefix="lambda-task-"))
    try:
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(folder, [n for n in archive.namelist() if bytecode or not is_bytecode(n)])
        _chmod_tree(folder, files=0o444, dirs=0o555)
        yield folder
    finally:
        _chmod_tree(folder, files=0o644, dirs=0o755)
        shutil.rmtree(folder)


def _chmod_tree(folder: Path, *, files: int, dirs: int) -> None:
    folder.chmod(dirs)
    for parent, subdirs, names in os.walk(folder):
        for name in subdirs:
            os.chmod(os.path.join(parent, name), dirs)
        for name in names:
            os.chmod(os.path.join(parent, name), files)


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every entry under folder with its size and modification time, to show nothing was written."""
    found = {}
    for path in folder.rglob("*"):
        status = path.lstat()
        found[path.relative_to(folder).as_posix()] = (status.st_size, status.st_mtime_ns)
    return found


def import_module(
    folder: Path, module: str, *, python_args: Sequence[str] = (), audit: bool = False
) -> ImportResult:
    """Import module from folder in a fresh runtime interpreter; raise if the import fails."""
    if not RUNTIME_PYTHON.exists():
        raise RuntimeError(f"{RUNTIME_PYTHON} is missing: run `make setup`")
    command = [str(RUNTIME_PYTHON), "-I", *python_args, str(PROBE), str(folder), module]
    if audit:
        command.append("--audit")
    if os.geteuid() == 0:
        command = ["unshare", "--mount", "sh", "-c", READ_ONLY_MOUNT, "sh", str(folder), *command]
    result = subprocess.run(command, capture_output=True, text=True, env=CLEAN_ENV, cwd=folder, check=False)
    if result.returncode != 0:
        if result.stderr.startswith(("unshare:", "mount:")):
            raise RuntimeError(
                "as root a folder is read-only only in a read-only mount, which needs `unshare --mount` "
                f"(util-linux, CAP_SYS_ADMIN); run as a normal user instead. {result.stderr.strip()}"
            )
        raise RuntimeError(f"importing {module} from {folder} failed:\n{result.stderr}")
    report = json.loads(result.stdout.splitlines()[-1])
    return ImportResult(
        import_ms=report["import_ms"],
        cpu_ms=report["cpu_ms"],
        lambda_handler=report["lambda_handler"],
        modules=report["modules"],
        compiled=report["compiled"],
        writes=report["writes"],
        stderr=result.stderr,
    )
