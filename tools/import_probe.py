"""Import one module from an unpacked Lambda zip and report, as one JSON line, how it went.

    python -I tools/import_probe.py <task folder> <module> [--audit]

Run by tools/lambda_import.py with the runtime's interpreter (stdlib only, nothing from the repository
on the path). ``import_ms`` is the time the import took and ``cpu_ms`` its CPU time; ``lambda_handler``
whether the module has a callable one; ``modules`` the modules the folder supplied, each with the
bytecode file it names. With ``--audit``, an audit hook also records every file of the folder compiled
from source (its bytecode was not used) and every attempt to write into the folder.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from typing import Any

# Written to stderr just before the import, so -X importtime lines after it belong to the handler.
IMPORT_STARTS = "import_probe: importing\n"


def main(task: str, module: str, audit: bool) -> None:
    root = os.path.realpath(task) + os.sep
    compiled: list[str] = []
    writes: list[str] = []

    def inside(path: object) -> str | None:
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        # Relative names are not files: "<string>" for code that dataclasses and namedtuple compile.
        if isinstance(path, str) and os.path.isabs(path):
            full = os.path.realpath(path)
            if full.startswith(root):
                return full[len(root) :]
        return None

    def hook(event: str, args: tuple[Any, ...]) -> None:
        # compile() of a module's source is how importlib falls back when there is no usable .pyc.
        if event == "compile" and (name := inside(args[1])):
            compiled.append(name)
        elif event == "open" and (name := inside(args[0])):
            mode, flags = args[1], args[2]
            if any(c in mode for c in "wax+") if isinstance(mode, str) else flags & (0o3 | os.O_CREAT):
                writes.append(name)
        elif event in {"os.mkdir", "os.rename", "os.replace", "os.remove"} and (name := inside(args[0])):
            writes.append(name)

    if audit:
        sys.addaudithook(hook)
    sys.path.insert(0, task)
    sys.stderr.write(IMPORT_STARTS)
    sys.stderr.flush()
    start, start_cpu = time.perf_counter(), time.process_time()
    imported = importlib.import_module(module)
    import_ms = (time.perf_counter() - start) * 1000
    cpu_ms = (time.process_time() - start_cpu) * 1000
    modules = {
        name: inside(getattr(loaded, "__cached__", None) or "") or ""
        for name, loaded in list(sys.modules.items())
        if inside(getattr(loaded, "__file__", None) or "")
    }
    report = {
        "import_ms": import_ms,
        "cpu_ms": cpu_ms,
        "lambda_handler": callable(getattr(imported, "lambda_handler", None)),
        "modules": modules,
        "compiled": compiled,
        "writes": writes,
    }
    print(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], "--audit" in sys.argv[3:])
