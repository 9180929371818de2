"""Arrow shapes shared by both scanners."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa


def string_schema(columns: Sequence[str]) -> pa.Schema:
    """The schema of every output file: one nullable string column per key, in the given order."""
    names = list(columns)
    if len(set(names)) != len(names):
        repeated = sorted({name for name in names if names.count(name) > 1})
        raise ValueError(f"columns must be unique; repeated: {repeated}")
    return pa.schema([pa.field(name, pa.string()) for name in names])


def record_batch(arrays: list[pa.Array], schema: pa.Schema, rows: int) -> pa.RecordBatch:
    if arrays:
        return pa.RecordBatch.from_arrays(arrays, schema=schema)
    # No columns (only `{}` records): a batch still knows its row count (Parquet will not keep it).
    return pa.RecordBatch.from_struct_array(pa.Array.from_buffers(pa.struct([]), rows, [None], children=[]))
