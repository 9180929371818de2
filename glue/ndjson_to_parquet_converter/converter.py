"""NDJSON -> Snappy Parquet, every column a string holding the value's original JSON text.

Two passes. The first finds the union of top-level keys (files in parallel, merged in input order):
``collect_columns`` validates every line while doing so; ``convert_files`` only reads the keys and
skips values unchecked, because its second pass validates every line anyway. The second pass turns
chunks into Arrow record batches while a writer thread encodes the previous one, so scanning and
Parquet encoding overlap; nothing replaces earlier output until the whole conversion succeeded.
"""

from __future__ import annotations

import collections
import os
import pathlib
import queue
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Union

import pyarrow as pa

from . import _backend
from ._arrow import string_schema
from ._chunks import ChunkReader, LineTooLong, check_chunk_bytes, line_ranges
from ._parts import PartWriter, check_basename
from .exceptions import MalformedRecord
from .results import ConvertResult

PathLike = Union[str, "os.PathLike[str]"]

# Input bytes (in chunks) scanned but not yet written: with the chunk being scanned, about three
# chunks of column buffers are alive at a time.
_SCAN_AHEAD_CHUNKS = 2


def _scan_file(
    reader: ChunkReader, path: PathLike, scan: Any, start: int = 0, stop: int | None = None
) -> Iterator[tuple[Any, int]]:
    """Runs ``scan(buf, nbytes, source, first_line) -> (result, lines)`` over a file's chunks."""
    source = os.fspath(path)
    line = 1
    try:
        for buf, nbytes in reader.chunks(path, start, stop):
            result, lines = scan(buf, nbytes, source, line)
            line += lines
            yield result, nbytes
    except LineTooLong as error:
        raise MalformedRecord(source, line, str(error)) from None


def _range_keys(
    readers: queue.SimpleQueue[ChunkReader], path: PathLike, start: int, stop: int | None, validate: bool
) -> tuple[list[str], int]:
    """Keys of one byte range of a file and its line count. Line numbers in its errors count from
    the range's start: ``_collect`` adds the lines of the file's earlier ranges."""
    collector = _backend.active().key_collector(validate=validate)

    def scan(buf: Any, nbytes: int, source: str, first_line: int) -> tuple[int, int]:
        lines = collector.feed(buf, nbytes, source, first_line)
        return lines, lines

    reader = readers.get()
    try:
        lines = sum(count for count, _ in _scan_file(reader, path, scan, start, stop))
    finally:
        readers.put(reader)
    return collector.keys(), lines


def _collect(paths: list[PathLike], chunk_bytes: int, validate: bool) -> list[str]:
    """The key union in first-appearance order, scanning files (and pieces of big files) in parallel."""
    workers = max(1, min(os.cpu_count() or 1, 4))
    pieces: list[tuple[PathLike, int, int | None]]
    if workers > 1:  # big files in pieces that start at a line, so one big file uses every worker too
        pieces = [(path, start, stop) for path in paths for start, stop in line_ranges(path, 2 * chunk_bytes)]
    else:
        pieces = [(path, 0, None) for path in paths]
    workers = max(1, min(workers, len(pieces)))
    readers: queue.SimpleQueue[ChunkReader] = queue.SimpleQueue()
    for _ in range(workers):
        readers.put(ChunkReader(chunk_bytes))

    def run(piece: tuple[PathLike, int, int | None]) -> tuple[list[str], int]:
        return _range_keys(readers, *piece, validate)

    union: dict[str, None] = {}
    lines_before: dict[str, int] = {}
    with ThreadPoolExecutor(workers, thread_name_prefix="ndjson-keys") as pool:
        results = pool.map(run, pieces) if workers > 1 else map(run, pieces)
        for path, _, _ in pieces:  # in input order: the earliest bad line wins
            source = os.fspath(path)
            try:
                keys, lines = next(results)
            except MalformedRecord as error:
                line = error.line_number + lines_before.get(source, 0)
                raise MalformedRecord(error.source, line, error.reason) from None
            lines_before[source] = lines_before.get(source, 0) + lines
            union.update(dict.fromkeys(keys))
    return list(union)


def collect_columns(inputs: Sequence[PathLike], *, chunk_bytes: int = 32 << 20) -> list[str]:
    """Validates every line of ``inputs`` and returns the union of their top-level keys, ordered by
    first appearance (files in the given order). Raises MalformedRecord for the first bad line."""
    check_chunk_bytes(chunk_bytes)
    return _collect(list(inputs), chunk_bytes, validate=True)


def keys_from_buffer(buf: bytes, source: str = "<buffer>", first_line: int = 1) -> list[str]:
    """Top-level keys of a buffer of whole NDJSON lines, in order of first appearance."""
    collector = _backend.active().key_collector()
    collector.feed(buf, None, source, first_line)
    return collector.keys()


def batch_from_buffer(
    buf: bytes, columns: list[str], source: str = "<buffer>", first_line: int = 1
) -> pa.RecordBatch:
    """One record batch of the all-string schema ``columns`` from a buffer of whole NDJSON lines.

    A key that is not in ``columns`` raises MalformedRecord.
    """
    builder = _backend.active().batch_builder(string_schema(columns))
    batch, _ = builder.build(buf, None, source, first_line)
    return batch


def convert_files(
    inputs: Sequence[PathLike],
    output_dir: PathLike,
    *,
    basename: str,
    columns: list[str] | None = None,
    target_file_bytes: int = 1 << 30,
    chunk_bytes: int = 32 << 20,
) -> ConvertResult:
    """Converts NDJSON files into ``output_dir/<basename>-part-NNNNN.parquet`` (Snappy, all strings).

    ``columns`` defaults to ``collect_columns(inputs)``; a key outside them is a MalformedRecord.
    A new part starts once a part has taken ``target_file_bytes`` of input; parts of an earlier run
    beyond the new count are deleted. On any error the earlier output is left as it was.
    """
    check_basename(basename)
    check_chunk_bytes(chunk_bytes)
    if target_file_bytes < 1:
        raise ValueError(f"target_file_bytes must be positive, not {target_file_bytes}")
    paths = list(inputs)
    if columns is None:
        # Keys only: the conversion below validates every line (and fails before replacing output).
        columns = _collect(paths, chunk_bytes, validate=False)
    schema = string_schema(columns)
    directory = pathlib.Path(output_dir)
    directory.mkdir(parents=True, exist_ok=True)
    parts = PartWriter(
        directory, basename, schema, target_file_bytes=target_file_bytes, row_group_bytes=chunk_bytes
    )
    backend = _backend.active()
    builder = backend.batch_builder(schema)
    reader = ChunkReader(chunk_bytes)
    rows = 0
    input_bytes = 0
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="ndjson-parquet-writer") as writer:
            queued: collections.deque[tuple[Future[None], int]] = collections.deque()
            queued_bytes = 0
            try:
                for path in paths:
                    for batch, nbytes in _scan_file(reader, path, builder.build):
                        rows += batch.num_rows
                        input_bytes += nbytes
                        queued.append((writer.submit(parts.add, batch, nbytes), nbytes))
                        queued_bytes += nbytes
                        del batch
                        # Scan ahead of the writer by up to two chunks of input (small files make
                        # small batches that the writer gathers into one row group).
                        while queued_bytes > _SCAN_AHEAD_CHUNKS * chunk_bytes and len(queued) > 1:
                            future, done_bytes = queued.popleft()
                            future.result()
                            queued_bytes -= done_bytes
                while queued:
                    queued.popleft()[0].result()
            finally:
                for future, _ in queued:
                    future.cancel()
        files = parts.commit()
    except BaseException:
        parts.abort()
        raise
    finally:
        backend.release_memory()
    return ConvertResult(files=files, rows=rows, columns=list(columns), input_bytes=input_bytes)
