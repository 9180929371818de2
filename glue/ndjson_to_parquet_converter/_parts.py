"""Writes ``<basename>-part-NNNNN.parquet`` files: rolled by input size, swapped in only on success."""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
import uuid

import pyarrow as pa
import pyarrow.parquet as pq

PART_PATTERN = "{basename}-part-{index:05d}.parquet"
_PART_INDEX = r"-part-(\d{5,})\.parquet"


def check_basename(basename: str) -> None:
    if not basename or basename.startswith(".") or "/" in basename or "\\" in basename or "\0" in basename:
        raise ValueError(f"basename must be a plain file name prefix, not {basename!r}")


def part_name(basename: str, index: int) -> str:
    return PART_PATTERN.format(basename=basename, index=index)


def existing_parts(output_dir: pathlib.Path, basename: str) -> dict[int, pathlib.Path]:
    """``<basename>-part-N.parquet`` files in output_dir by N (other basenames never match)."""
    pattern = re.compile(re.escape(basename) + _PART_INDEX)
    parts = {}
    for path in output_dir.glob(f"{glob_escape(basename)}-part-*.parquet"):
        match = pattern.fullmatch(path.name)
        if match:
            parts[int(match.group(1))] = path
    return parts


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


class PartWriter:
    """Collects record batches into row groups of about ``row_group_bytes`` of input and rolls to a
    new part once a part has taken ``target_file_bytes`` of input.

    Parts are written under hidden temporary names; ``commit`` renames them into place and deletes
    stale parts of an earlier run beyond the new count, ``abort`` deletes them. A failed conversion
    therefore leaves the previous output as it was.
    """

    def __init__(
        self,
        output_dir: pathlib.Path,
        basename: str,
        schema: pa.Schema,
        *,
        target_file_bytes: int,
        row_group_bytes: int,
    ) -> None:
        self._dir = output_dir
        self._basename = basename
        self._schema = schema
        self._target = target_file_bytes
        self._row_group_bytes = row_group_bytes
        self._token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._temporary: list[pathlib.Path] = []
        self._writer: pq.ParquetWriter | None = None
        self._part_bytes = 0
        self._pending: list[pa.RecordBatch] = []
        self._pending_bytes = 0

    def _open(self) -> pq.ParquetWriter:
        index = len(self._temporary)
        path = self._dir / f".{part_name(self._basename, index)}.{self._token}.tmp"
        self._temporary.append(path)
        self._part_bytes = 0
        return pq.ParquetWriter(path, self._schema, compression="snappy")

    def add(self, batch: pa.RecordBatch, input_bytes: int) -> None:
        """Appends a batch made from ``input_bytes`` of NDJSON."""
        if self._writer is None:
            self._writer = self._open()
        self._pending.append(batch)
        self._pending_bytes += input_bytes
        self._part_bytes += input_bytes
        if self._part_bytes >= self._target:
            self._close_part()
        elif self._pending_bytes * 2 >= self._row_group_bytes:
            # One full chunk is one row group; the batches of small files are gathered up to a chunk.
            self._flush()

    def _flush(self) -> None:
        if self._pending and self._writer is not None:
            table = pa.Table.from_batches(self._pending, schema=self._schema)
            self._pending = []
            self._pending_bytes = 0
            self._writer.write_table(table, row_group_size=max(table.num_rows, 1))

    def _close_part(self) -> None:
        self._flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def commit(self) -> list[pathlib.Path]:
        """Closes the last part and moves every part into place; returns the final paths in order."""
        if not self._temporary:
            # No input rows at all: still one (empty) part with the schema, so readers find a file.
            self._writer = self._open()
        self._close_part()
        stale = existing_parts(self._dir, self._basename)
        final = []
        for index, temporary in enumerate(self._temporary):
            path = self._dir / part_name(self._basename, index)
            os.replace(temporary, path)
            stale.pop(index, None)
            final.append(path)
        self._temporary = []
        for path in stale.values():
            path.unlink(missing_ok=True)
        return final

    def abort(self) -> None:
        """Drops what this conversion wrote; earlier output stays untouched."""
        writer, self._writer = self._writer, None
        self._pending = []
        if writer is not None:
            with contextlib.suppress(Exception):  # the file is deleted right below
                writer.close()
        for temporary in self._temporary:
            temporary.unlink(missing_ok=True)
        self._temporary = []
