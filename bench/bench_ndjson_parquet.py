"""NDJSON -> Snappy Parquet with every column a string: our converter vs DuckDB, polars and pyarrow.

    .venv/bin/python bench/bench_ndjson_parquet.py [--mib 500] [--files 50] [--tools ours,duckdb,...]
    NDJSON_BENCH_MIB=20 make bench          # a quick run

Generates seeded NDJSON (default 500 MiB in 50 files, ~30 keys: strings with escapes and unicode,
ints, decimals such as 1.50 and 1E+300, long-digit numbers, booleans, nulls, nested objects and
arrays, sparse keys) into a temporary directory, then runs each tool in its own subprocess, so
peak RSS (``wait4`` rusage, max resident set) is the tool's own:

* ours: ``ndjson_to_parquet_converter.convert_files`` (the backend it reports, normally the C scanner);
* duckdb: ``COPY (SELECT * FROM read_json(..., columns = {every key: VARCHAR})) TO ... (snappy)``;
* polars: ``scan_ndjson(schema = every key Utf8).sink_parquet(snappy)`` (the faster of its paths here);
* pyarrow: ``pyarrow.json.read_json`` + cast every column to string (nested columns, which Arrow
  cannot cast, through ``json.dumps``) + ``pq.write_table`` snappy, file by file.

Seconds cover the conversion only (not interpreter start or imports); MB = 10^6 bytes of input;
"CPU s" is the child's user + system time (imports included), which shows how much of the machine a
tool needs when the wall clock is disturbed by other load. ``--repeat N`` (or
``NDJSON_BENCH_REPEAT``) runs the tools N times interleaved and keeps each one's fastest run.
"exact" counts how many of 7 tricky values a tool's output keeps as written (1.50, 1E+300, -0,
0.1000000000000000055511151231257827, 12345678901234567890.123456789, a nested object with its
spaces, and a string with escapes decoded). Ends with
``ndjson_to_parquet mb_per_s=<n> ratio_vs_duckdb=<x> peak_rss_mb=<m>``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOOLS = ("ours", "duckdb", "polars", "pyarrow")
GENERATOR_VERSION = 2  # bump when generate() changes, so a reused --data-dir is regenerated
TRICKY_ID = "tricky-0"
TRICKY = {  # column -> (JSON text as written, the cell that keeps it exactly)
    "amount": ("1.50", "1.50"),
    "score": ("1E+300", "1E+300"),
    "quantity": ("-0", "-0"),
    "price": ("0.1000000000000000055511151231257827", "0.1000000000000000055511151231257827"),
    "big_id": ("12345678901234567890.123456789", "12345678901234567890.123456789"),
    "dims": ('{"w": 1.0, "h": [1, 2], "unit": "cm"}', '{"w": 1.0, "h": [1, 2], "unit": "cm"}'),
    "message": ('"line\\nbreak \\"q\\" \\u00e9 \\ud83d\\ude00 \\\\ end"', 'line\nbreak "q" é 😀 \\ end'),
}


# ---------------------------------------------------------------------------- data


def _pools(rng: random.Random) -> dict[str, list[str]]:
    """Pre-formatted `"key": value` members per column (one JSON type per key, as pyarrow needs)."""
    words = ["alpha", "beta", "gamma", "delta", "Zürich", "東京", "São Paulo", "naïve", "😀", "Ωmega", "x"]
    escapes = ["\\n", "\\t", '\\"', "\\\\", "\\/", "\\u00e9", "\\u20ac", "\\ud83d\\ude80", "é", "€", "中文"]

    def text(low: int, high: int) -> str:
        parts = []
        for _ in range(rng.randint(low, high)):
            parts.append(rng.choice(words) if rng.random() < 0.8 else rng.choice(escapes))
        return " ".join(parts)

    def member(key: str, values: list[str]) -> list[str]:
        return [f', "{key}": {value}' for value in values]

    def digits(count: int) -> str:
        return str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(count - 1))

    statuses = ['"new"', '"open"', '"closed"', '"failed"', '"retry"']
    return {
        "user": member(
            "user", [json.dumps(f"{rng.choice(words)}.{i}", ensure_ascii=False) for i in range(5000)]
        ),
        "email": member("email", [f'"user{i}@example.com"' for i in range(20000)]),
        "status": member("status", statuses),
        "country": member("country", [f'"{code}"' for code in ("CH", "DE", "JP", "BR", "US", "FR", "IN")]),
        "message": member("message", [f'"{text(3, 14)}"' for _ in range(20000)]),
        "amount": member(
            "amount", [f"{rng.randint(0, 99999)}.{rng.randint(0, 99):02d}" for _ in range(50000)]
        ),
        "quantity": member("quantity", [str(rng.randint(-5, 5000)) for _ in range(5000)]),
        "price": member("price", [f"{rng.random() * 1000:.{rng.randint(1, 12)}f}" for _ in range(50000)]),
        "score": member(
            "score", [rng.choice([f"{rng.random():.6e}", "1E+300", "2.5e-10", "3.25"]) for _ in range(5000)]
        ),
        "big_id": member("big_id", [f"{digits(20)}.{digits(9)}" for _ in range(50000)]),
        "flag": member("flag", ["true", "false"]),
        "active": member("active", ["true", "false", "null"]),
        "tags": member(
            "tags",
            [json.dumps(rng.sample(words, rng.randint(0, 4)), ensure_ascii=False) for _ in range(3000)],
        ),
        "dims": member(
            "dims",
            [f'{{"w": {rng.random() * 10:.1f}, "h": [{h}, {h + 1}], "unit": "cm"}}' for h in range(3000)],
        ),
        "meta": member(
            "meta",
            [
                json.dumps(
                    {"source": rng.choice(words), "v": rng.randint(1, 3), "ok": rng.random() < 0.5},
                    ensure_ascii=False,
                )
                for _ in range(2000)
            ],
        ),
        "note": member(
            "note", [json.dumps(text(1, 6), ensure_ascii=False) for _ in range(5000)] + ["null"] * 2000
        ),
        "ref": member("ref", [f'"REF-{rng.randint(0, 10**8):08d}"' for _ in range(50000)]),
        "ratio": member("ratio", [f"{rng.random():.4f}" for _ in range(10000)]),
        "level": member("level", [str(i) for i in range(10)]),
        "code": member("code", [f'"C{i:04d}"' for i in range(2000)]),
        "currency": member("currency", ['"CHF"', '"EUR"', '"JPY"', '"USD"']),
        "empty": member("empty", ["null"]),
        "path": member("path", [f'"\\/data\\/{rng.choice(words)}\\/{i}.json"' for i in range(3000)]),
    }


SPARSE = {  # column -> share of records that have it
    "sparse_int": 0.2,
    "sparse_text": 0.1,
    "sparse_obj": 0.05,
    "sparse_bool": 0.3,
    "sparse_num": 0.15,
    "sparse_list": 0.08,
    "sparse_rare": 0.001,
}


def _sparse_pools(rng: random.Random) -> dict[str, list[str]]:
    values = {
        "sparse_int": [str(rng.randint(-(10**12), 10**12)) for _ in range(1000)],
        "sparse_text": [json.dumps(f"free text {i} ✓\n", ensure_ascii=i % 2 == 0) for i in range(1000)],
        "sparse_obj": [f'{{"k": {i}, "nested": {{"deep": ["x", null, "{i}"]}}}}' for i in range(300)],
        "sparse_bool": ["true", "false"],
        "sparse_num": [f"{rng.uniform(-1e6, 1e6):.3f}" for _ in range(1000)],
        "sparse_list": [json.dumps(list(range(i % 7))) for i in range(50)],
        "sparse_rare": ['"rare"'],
    }
    return {key: [f', "{key}": {value}' for value in pool] for key, pool in values.items()}


def generate(directory: Path, total_bytes: int, files: int, seed: int) -> tuple[list[Path], int, list[str]]:
    """Writes ``files`` NDJSON files of ~total_bytes together; returns (paths, records, keys in order)."""
    rng = random.Random(seed)
    pools = _pools(rng)
    sparse = _sparse_pools(rng)
    record_bytes = 686  # measured average: 500 MiB -> ~524 MB as in LOCAL_STACK.md
    per_file = max(1, total_bytes // files // record_bytes)
    paths, records = [], 0
    tricky = "".join(f', "{key}": {text}' for key, (text, _) in TRICKY.items())
    for index in range(files):
        n = per_file
        columns = [
            [f'{{"id": "rec-{index:03d}-{i:07d}"' for i in range(n)],
            [
                f', "ts": "2026-02-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z"'
                for i in range(n)
            ],
        ]
        columns += [rng.choices(pool, k=n) for pool in pools.values()]
        for key, share in SPARSE.items():
            present = sparse[key]
            columns.append([rng.choice(present) if rng.random() < share else "" for _ in range(n)])
        lines = ["".join(parts) + "}\n" for parts in zip(*columns, strict=True)]
        if index == 0:
            lines[0] = f'{{"id": "{TRICKY_ID}", "ts": "2026-02-01T00:00:00.000Z"{tricky}}}\n'
            lines[1] = lines[1].replace("\n", "\r\n")
            lines.insert(2, "\n")  # a blank line
        path = directory / f"part-{index:03d}.ndjson"
        path.write_text("".join(lines), encoding="utf-8")
        paths.append(path)
        records += n
    keys = ["id", "ts", *pools, *SPARSE]
    return paths, records, keys


# ---------------------------------------------------------------------------- tools (run in a child)


def run_ours(inputs: list[str], out: Path, keys: list[str]) -> dict[str, object]:
    sys.path.insert(0, str(REPO / "glue"))
    import ndjson_to_parquet_converter

    started = time.perf_counter()
    result = ndjson_to_parquet_converter.convert_files(inputs, out, basename="bench")
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": result.rows, "backend": ndjson_to_parquet_converter.BACKEND}


def run_duckdb(inputs: list[str], out: Path, keys: list[str]) -> dict[str, object]:
    import duckdb

    columns = "{" + ", ".join(f"'{key}': 'VARCHAR'" for key in keys) + "}"
    files = "[" + ", ".join(f"'{path}'" for path in inputs) + "]"
    connection = duckdb.connect()
    started = time.perf_counter()
    query = f"SELECT * FROM read_json({files}, format = 'newline_delimited', columns = {columns})"  # noqa: S608
    connection.execute(f"COPY ({query}) TO '{out / 'duckdb.parquet'}' (FORMAT parquet, COMPRESSION snappy)")
    return {"seconds": time.perf_counter() - started}


def run_polars(inputs: list[str], out: Path, keys: list[str]) -> dict[str, object]:
    import polars as pl

    started = time.perf_counter()
    schema = dict.fromkeys(keys, pl.Utf8)
    pl.scan_ndjson(inputs, schema=schema).sink_parquet(out / "polars.parquet", compression="snappy")
    return {"seconds": time.perf_counter() - started}


def run_pyarrow(inputs: list[str], out: Path, keys: list[str]) -> dict[str, object]:
    import pyarrow as pa
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    def as_string(column: pa.ChunkedArray) -> pa.ChunkedArray:
        if pa.types.is_nested(column.type):  # Arrow has no struct/list -> string cast
            values = [
                None if value is None else json.dumps(value, ensure_ascii=False)
                for value in column.to_pylist()
            ]
            return pa.chunked_array([pa.array(values, type=pa.string())])
        return column.cast(pa.string())

    started = time.perf_counter()
    schema = pa.schema([pa.field(key, pa.string()) for key in keys])
    with pq.ParquetWriter(out / "pyarrow.parquet", schema, compression="snappy") as writer:
        for path in inputs:
            table = pj.read_json(path)
            columns = {name: as_string(table.column(name)) for name in table.column_names}
            empty = pa.nulls(table.num_rows, pa.string())
            writer.write_table(pa.table([columns.get(key, empty) for key in keys], schema=schema))
    return {"seconds": time.perf_counter() - started}


RUNNERS = {"ours": run_ours, "duckdb": run_duckdb, "polars": run_polars, "pyarrow": run_pyarrow}


def child(tool: str, inputs_file: Path, out: Path) -> None:
    spec = json.loads(inputs_file.read_text())
    result = RUNNERS[tool](spec["inputs"], out, spec["keys"])
    print(json.dumps(result))


# ---------------------------------------------------------------------------- parent


def exact_cells(out: Path) -> tuple[int, list[str]]:
    """How many TRICKY values the tool's output kept exactly, and what it made of the others."""
    import pyarrow.dataset as ds

    table = ds.dataset(sorted(out.glob("*.parquet")), format="parquet").to_table(
        filter=ds.field("id") == TRICKY_ID, columns=list(TRICKY)
    )
    if table.num_rows != 1:
        return 0, [f"tricky record found {table.num_rows} times"]
    row = table.to_pylist()[0]
    kept, changed = 0, []
    for column, (_, want) in TRICKY.items():
        if row[column] == want:
            kept += 1
        else:
            got = row[column] if row[column] is None or len(row[column]) < 40 else row[column][:37] + "..."
            changed.append(f"{column}: {TRICKY[column][0]} -> {got!r}")
    return kept, changed


def output_rows(out: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(path).num_rows for path in out.glob("*.parquet"))


def run_child(tool: str, spec: Path, out: Path) -> dict[str, object]:
    """Runs one tool in a child and returns its result plus the child's own peak RSS."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile("w+") as stdout:
        process = subprocess.Popen(
            [sys.executable, __file__, "--child", tool, "--spec", str(spec), "--out", str(out)], stdout=stdout
        )
        _, status, usage = os.wait4(process.pid, 0)  # not process.wait(): wait4 gives this child's rusage
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise RuntimeError(f"{tool} failed with exit code {process.returncode}")
        stdout.seek(0)
        output = stdout.read()
    result = json.loads(output.strip().splitlines()[-1])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # KiB on Linux
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime  # the whole child, imports included
    return result


def print_table(results: dict[str, dict[str, object]], input_bytes: int) -> None:
    duckdb = results.get("duckdb")
    header = ("tool", "seconds", "MB/s", "CPU s", "peak RSS MB", "vs DuckDB", "exact", "rows")
    rows = []
    for tool, result in results.items():
        rate = input_bytes / 1e6 / result["seconds"]
        ratio = f"{duckdb['seconds'] / result['seconds']:.2f}x" if duckdb else "-"
        rows.append(
            (
                tool,
                f"{result['seconds']:.2f}",
                f"{rate:.0f}",
                f"{result['cpu_seconds']:.2f}",
                f"{result['peak_rss_mb']:.0f}",
                ratio,
                f"{result['exact']}/{len(TRICKY)}",
                f"{result['output_rows']:,}",
            )
        )
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    line = "  ".join(f"{{:<{widths[0]}}}" if i == 0 else f"{{:>{width}}}" for i, width in enumerate(widths))
    print(line.format(*header))
    print("-" * (sum(widths) + 2 * (len(widths) - 1)))
    for row in rows:
        print(line.format(*row))
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=int(os.environ.get("NDJSON_BENCH_MIB", "500")))
    parser.add_argument("--files", type=int, default=int(os.environ.get("NDJSON_BENCH_FILES", "50")))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument(
        "--repeat",
        type=int,
        default=int(os.environ.get("NDJSON_BENCH_REPEAT", "1")),
        help="run every tool this many times (interleaved) and keep each one's fastest run",
    )
    parser.add_argument(
        "--data-dir", help="generate into (or reuse) this directory instead of a temporary one"
    )
    parser.add_argument("--child", choices=TOOLS, help=argparse.SUPPRESS)
    parser.add_argument("--spec", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.spec, args.out)
        return 0

    tools = [tool.strip() for tool in args.tools.split(",") if tool.strip()]
    work = Path(tempfile.mkdtemp(prefix="bench-ndjson-"))
    data = Path(args.data_dir) if args.data_dir else work / "data"
    try:
        data.mkdir(parents=True, exist_ok=True)
        manifest = data / "generated.json"
        wanted = {"mib": args.mib, "files": args.files, "seed": args.seed, "generator": GENERATOR_VERSION}
        if manifest.exists() and json.loads(manifest.read_text())["params"] == wanted:
            generated = json.loads(manifest.read_text())
            inputs, records, keys = generated["inputs"], generated["records"], generated["keys"]
            print(f"reusing {len(inputs)} files in {data}")
        else:
            started = time.perf_counter()
            paths, records, keys = generate(data, args.mib << 20, args.files, args.seed)
            inputs = [str(path) for path in paths]
            manifest.write_text(
                json.dumps({"params": wanted, "inputs": inputs, "records": records, "keys": keys})
            )
            print(f"generated {len(inputs)} files in {time.perf_counter() - started:.1f} s")
        input_bytes = sum(os.path.getsize(path) for path in inputs)
        print(
            f"input: {input_bytes / 1e6:.0f} MB, {records:,} records, {len(keys)} keys, {os.cpu_count()} CPUs"
        )
        spec = work / "spec.json"
        spec.write_text(json.dumps({"inputs": inputs, "keys": keys}))

        results = {}
        for round_ in range(args.repeat):  # tools interleaved; each keeps its fastest run
            for tool in tools:
                out = work / f"out-{tool}"
                result = run_child(tool, spec, out)
                result["exact"], result["changed"] = exact_cells(out)
                result["output_rows"] = output_rows(out)
                if round_ == 0 or result["seconds"] < results[tool]["seconds"]:
                    results[tool] = result
                shutil.rmtree(out)

        print()
        if args.repeat > 1:
            print(f"fastest of {args.repeat} interleaved runs per tool")
        print_table(results, input_bytes)
        for tool, result in results.items():
            if result["changed"]:
                print(f"{tool} changed: " + "; ".join(result["changed"]))
        if "ours" in results:
            ours = results["ours"]
            assert ours["rows"] == records == ours["output_rows"], (
                ours["rows"],
                records,
                ours["output_rows"],
            )
            print(f"ours: backend {ours['backend']}, rows = input records = {records:,}")
            rate = input_bytes / 1e6 / ours["seconds"]
            ratio = results["duckdb"]["seconds"] / ours["seconds"] if "duckdb" in results else float("nan")
            rss = ours["peak_rss_mb"]
            print(f"ndjson_to_parquet mb_per_s={rate:.0f} ratio_vs_duckdb={ratio:.2f} peak_rss_mb={rss:.0f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
