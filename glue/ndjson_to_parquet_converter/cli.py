"""Command line for local backfills: ``python -m ndjson_to_parquet_converter convert|columns ...``."""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
from collections.abc import Sequence

from ._backend import active
from .converter import collect_columns, convert_files
from .exceptions import MalformedRecord


def expand_inputs(arguments: Sequence[str]) -> list[str]:
    """Files as given; a directory means its files (recursively, sorted, hidden ones skipped);
    a glob pattern means its sorted matches. A pattern or path that matches nothing is an error."""
    paths: list[str] = []
    for argument in arguments:
        if os.path.isdir(argument):
            found: list[str] = []
            for root, directories, files in os.walk(argument):
                directories[:] = [name for name in directories if not name.startswith(".")]
                found.extend(os.path.join(root, name) for name in files if not name.startswith("."))
            paths.extend(sorted(found))
        elif os.path.exists(argument):
            paths.append(argument)
        else:
            matches = sorted(path for path in glob.glob(argument, recursive=True) if os.path.isfile(path))
            if not matches:
                raise FileNotFoundError(f"no input matches {argument!r}")
            paths.extend(matches)
    return paths


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ndjson_to_parquet_converter",
        description="NDJSON -> Snappy Parquet, every column a string with the value's exact JSON text.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    convert = commands.add_parser("convert", help="convert files into <basename>-part-NNNNN.parquet")
    convert.add_argument("--output-dir", required=True)
    convert.add_argument("--basename", required=True)
    convert.add_argument("--target-file-mb", type=int, default=1024, help="input MiB per part (1024)")
    convert.add_argument("--chunk-mb", type=int, default=32, help="input MiB per chunk / row group (32)")
    convert.add_argument("inputs", nargs="+", metavar="FILE", help="files, directories or glob patterns")
    columns = commands.add_parser("columns", help="validate and print the union of top-level keys")
    columns.add_argument("--chunk-mb", type=int, default=32)
    columns.add_argument("inputs", nargs="+", metavar="FILE")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        inputs = expand_inputs(args.inputs)
        started = time.perf_counter()
        if args.command == "columns":
            print(json.dumps(collect_columns(inputs, chunk_bytes=args.chunk_mb << 20), ensure_ascii=False))
            return 0
        result = convert_files(
            inputs,
            args.output_dir,
            basename=args.basename,
            target_file_bytes=args.target_file_mb << 20,
            chunk_bytes=args.chunk_mb << 20,
        )
    except MalformedRecord as error:
        print(f"malformed record: {error}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - started
    summary = {
        "files": [str(path) for path in result.files],
        "rows": result.rows,
        "columns": result.columns,
        "input_bytes": result.input_bytes,
        "seconds": round(seconds, 3),
        "mb_per_s": round(result.input_bytes / 1e6 / seconds, 1) if seconds > 0 else None,
        "backend": active().name,
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0
