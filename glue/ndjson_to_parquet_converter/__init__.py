"""Streaming NDJSON -> Snappy Parquet where every column is a string holding the value's exact JSON text.

Strings are decoded (no quotes, escapes resolved); numbers, booleans, objects and arrays keep their
bytes as written (``1.50`` stays ``1.50``, ``{"a": [1, 2]}`` keeps its spaces); JSON null and a
missing key are Parquet nulls. Columns are the union of top-level keys over all inputs of a
conversion, in order of first appearance. See README.md in this folder.

``BACKEND`` names the scanner in use: ``native`` (the C scanner, _scanner.so) or the pure-Python
fallback, ``msgspec`` or ``json``, with the same output.
"""

from __future__ import annotations

from ._backend import active as _active
from .converter import batch_from_buffer, collect_columns, convert_files, keys_from_buffer
from .exceptions import MalformedRecord
from .results import ConvertResult

BACKEND: str = _active().name

__all__ = [
    "BACKEND",
    "ConvertResult",
    "MalformedRecord",
    "batch_from_buffer",
    "collect_columns",
    "convert_files",
    "keys_from_buffer",
]
