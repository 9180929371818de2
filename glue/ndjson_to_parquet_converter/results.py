"""Result types of ndjson_to_parquet_converter."""

from __future__ import annotations

import pathlib
from dataclasses import dataclass


@dataclass(frozen=True)
class ConvertResult:
    """What one conversion wrote: the part files in order, rows, the shared column list, input size."""

    files: list[pathlib.Path]
    rows: int
    columns: list[str]
    input_bytes: int
