"""Chooses the scanner: the C one when _scanner.so loads, else the pure-Python fallback.

``NDJSON_TO_PARQUET_BACKEND`` (``native``, ``msgspec`` or ``json``) forces one; forcing ``native``
when the library cannot load is an error rather than a silent slow path.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

import pyarrow as pa

from . import _python

BACKENDS = ("native", "msgspec", "json")


class KeyCollector(Protocol):
    """What both backends' key collectors do (``_native.KeyCollector``, ``_python.KeyCollector``)."""

    def feed(self, buf: Any, nbytes: int | None, source: str, first_line: int) -> int: ...

    def keys(self) -> list[str]: ...


class BatchBuilder(Protocol):
    """What both backends' batch builders do (``_native.BatchBuilder``, ``_python.BatchBuilder``)."""

    def build(
        self, buf: Any, nbytes: int | None, source: str, first_line: int
    ) -> tuple[pa.RecordBatch, int]: ...


class Backend:
    """Factory of the two stateful scanners a conversion needs."""

    def __init__(self, name: str) -> None:
        if name not in BACKENDS:
            raise ValueError(
                f"unknown ndjson_to_parquet_converter backend {name!r}: one of {', '.join(BACKENDS)}"
            )
        self.name = name
        self._lib: Any = None
        if name == "native":
            from . import _native

            self._lib = _native.load()
        elif name == "msgspec":
            _python.Parser("msgspec")  # ImportError here, not half way through a conversion

    def key_collector(self, *, validate: bool = True) -> KeyCollector:
        """Collects keys; ``validate=False`` lets the C scanner skip values unchecked (a first pass
        whose second pass validates every line). The Python fallback always validates."""
        if self._lib is not None:
            from . import _native

            return _native.KeyCollector(self._lib, validate=validate)
        return _python.KeyCollector(self.name)

    def release_memory(self) -> None:
        """Unmaps the column buffers the C scanner keeps for reuse (after a conversion)."""
        if self._lib is not None:
            self._lib.nd_pool_trim()

    def batch_builder(self, schema: pa.Schema) -> BatchBuilder:
        if self._lib is not None:
            from . import _native

            return _native.BatchBuilder(self._lib, schema)
        return _python.BatchBuilder(self.name, schema)


def _choose() -> Backend:
    forced = os.environ.get("NDJSON_TO_PARQUET_BACKEND", "").strip()
    if forced:
        return Backend(forced)
    for name in BACKENDS:
        try:
            return Backend(name)
        except (OSError, ImportError):
            continue
    raise AssertionError("the json backend always loads")  # pragma: no cover


_active = _choose()


def active() -> Backend:
    """The backend every function of the package uses (tests swap ``_active``)."""
    return _active
