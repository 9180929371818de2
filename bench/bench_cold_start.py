"""Cold-start import of every service's handler: the zip as built (with its bytecode) against the same
zip without bytecode.

    .venv/bin/python bench/bench_cold_start.py [--repeat 5] [--services a,b] [--importtime [--top 12]]

Each service's zip is built (``tools/build_zips.py``, cached) and unpacked twice into read-only temporary
folders, as Lambda's ``/var/task`` is read-only: once as built, once with every ``.pyc`` left out, so
that every import compiles every module and nothing can be cached between runs. Each run imports the
handler module in a fresh ``.local/venv-runtime/bin/python -I`` (Python 3.12 and the runtime's boto3)
with no AWS settings, and times ``importlib.import_module`` inside that process (interpreter start-up is
left out: it is the same for both). After a warm-up run of each, the two alternate ``--repeat`` times;
the table shows medians of the wall time and of the CPU time (steadier when the machine is busy).
Afterwards both folders are checked to be unchanged.

For scale, a last row times ``import boto3`` alone in the same interpreter: every handler needs it on
every path, so no handler can import faster on this machine.

``--importtime`` also runs each handler once more with ``-X importtime`` from the bytecode folder and
lists, per service, the top-level packages whose own module code took the most time.

The last line is machine-readable, over services, with bytecode:
``cold_import worst_ms=<slowest service's median> median_ms=<median of the services' medians>``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))

import build_zips  # noqa: E402
import lambda_import  # noqa: E402
from import_probe import IMPORT_STARTS  # noqa: E402


@dataclass(frozen=True)
class Measured:
    service: str
    with_bytecode: list[float]
    without_bytecode: list[float]
    cpu_with: list[float]
    cpu_without: list[float]
    modules: int
    profile: list[tuple[str, float]]


def import_times(stderr: str) -> dict[str, float]:
    """Self time in ms per top-level package, from ``-X importtime`` lines after the probe's marker."""
    lines = stderr.split(IMPORT_STARTS, 1)[1].splitlines()
    totals: dict[str, float] = defaultdict(float)
    for line in lines:
        if not line.startswith("import time:") or "|" not in line:
            continue
        self_us, _cumulative, name = (part.strip() for part in line[len("import time:") :].split("|"))
        if self_us.isdigit():
            totals[name.split(".")[0]] += int(self_us) / 1000
    return totals


def measure(service: str, module: str, repeat: int, importtime: bool, top: int) -> Measured:
    path, _ = build_zips.build(service)
    fast: list[float] = []
    slow: list[float] = []
    cpu_fast: list[float] = []
    cpu_slow: list[float] = []
    with (
        lambda_import.read_only_task(path) as with_pyc,
        lambda_import.read_only_task(path, bytecode=False) as without_pyc,
    ):
        before = (lambda_import.snapshot(with_pyc), lambda_import.snapshot(without_pyc))
        lambda_import.import_module(with_pyc, module)
        lambda_import.import_module(without_pyc, module)
        for _ in range(repeat):
            result = lambda_import.import_module(with_pyc, module)
            compiling = lambda_import.import_module(without_pyc, module)
            fast.append(result.import_ms)
            slow.append(compiling.import_ms)
            cpu_fast.append(result.cpu_ms)
            cpu_slow.append(compiling.cpu_ms)
        profile: list[tuple[str, float]] = []
        if importtime:
            traced = lambda_import.import_module(with_pyc, module, python_args=["-X", "importtime"])
            profile = sorted(import_times(traced.stderr).items(), key=lambda item: -item[1])[:top]
        after = (lambda_import.snapshot(with_pyc), lambda_import.snapshot(without_pyc))
        if after != before:
            raise SystemExit(f"{service}: an import wrote into its read-only folder; the timings are void")
    return Measured(service, fast, slow, cpu_fast, cpu_slow, len(result.modules), profile)


def boto3_alone(repeat: int) -> tuple[float, float]:
    """Median wall and CPU ms of importing the runtime's boto3 alone: the floor under every handler here."""
    with tempfile.TemporaryDirectory() as empty:
        lambda_import.import_module(Path(empty), "boto3")
        runs = [lambda_import.import_module(Path(empty), "boto3") for _ in range(repeat)]
    return statistics.median(r.import_ms for r in runs), statistics.median(r.cpu_ms for r in runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--services", default=",".join(build_zips.services()))
    parser.add_argument(
        "--importtime", action="store_true", help="also list where each import spends its time"
    )
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args(argv)
    services = args.services.split(",")
    unknown = sorted(set(services) - set(build_zips.services()))
    if unknown:
        parser.error(f"unknown service(s): {', '.join(unknown)}")

    results = []
    for service in services:
        for package in build_zips.packages(build_zips.service_dirs()[service]):
            module = f"{package.name}.handler"
            results.append(measure(service, module, args.repeat, args.importtime, args.top))

    print(f"handler import in a fresh runtime interpreter, median of {args.repeat} (range with bytecode)")
    header = (
        f"{'service':<24} {'with pyc ms':>11} {'range':>11} {'without ms':>10} {'speed-up':>8}"
        f" {'CPU ms with':>11} {'without':>7} {'modules':>7}"
    )
    print(header)
    print("-" * len(header))
    for m in results:
        fast, slow = statistics.median(m.with_bytecode), statistics.median(m.without_bytecode)
        spread = f"{min(m.with_bytecode):.0f}-{max(m.with_bytecode):.0f}"
        cpu = f"{statistics.median(m.cpu_with):>11.0f} {statistics.median(m.cpu_without):>7.0f}"
        times = f"{fast:>11.0f} {spread:>11} {slow:>10.0f} {slow / fast:>7.1f}x"
        print(f"{m.service:<24} {times} {cpu} {m.modules:>7}")
    floor, floor_cpu = boto3_alone(args.repeat)
    print(f"{'(import boto3 alone)':<24} {floor:>11.0f} {'':>11} {'':>10} {'':>8} {floor_cpu:>11.0f}")
    for m in results:
        if m.profile:
            print(f"\n{m.service}: self time by top-level package (-X importtime, with bytecode)")
            for name, ms in m.profile:
                print(f"  {name:<28} {ms:>7.1f} ms")
    medians = [statistics.median(m.with_bytecode) for m in results]
    print(f"cold_import worst_ms={max(medians):.0f} median_ms={statistics.median(medians):.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
