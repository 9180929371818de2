"""The C scanner (_scanner.so, built by glue/build_native.sh) through ctypes.

The scanner fills Arrow string columns (offsets, data, validity) in memory mappings it allocates;
they are wrapped zero-copy with ``pyarrow.foreign_buffer`` and unmapped when Arrow drops the last
buffer of a chunk. ctypes releases the GIL during each call, so scanning overlaps Parquet writing.
"""

from __future__ import annotations

import ctypes
import pathlib
from typing import Any

import pyarrow as pa

from ._arrow import record_batch
from .exceptions import MalformedRecord

ABI_VERSION = 4  # = ND_ABI_VERSION in _scanner.c: bump both when an exported function changes
LIBRARY = pathlib.Path(__file__).with_name("_scanner.so")


class _Column(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("data_len", ctypes.c_size_t),
        ("data_cap", ctypes.c_size_t),
        ("offsets", ctypes.c_void_p),
        ("offsets_len", ctypes.c_size_t),
        ("offsets_cap", ctypes.c_size_t),
        ("validity", ctypes.c_void_p),
        ("validity_len", ctypes.c_size_t),
        ("validity_cap", ctypes.c_size_t),
        ("length", ctypes.c_int64),
        ("null_count", ctypes.c_int64),
    ]


def load(path: pathlib.Path | None = None) -> ctypes.CDLL:
    """Loads the scanner; OSError when it is missing, unloadable or built from another version."""
    path = LIBRARY if path is None else path
    lib = ctypes.CDLL(str(path))
    lib.nd_abi_version.restype = ctypes.c_int
    if lib.nd_abi_version() != ABI_VERSION:
        raise OSError(f"{path} is a build of another version: run glue/build_native.sh")
    ctx, size_t, i64, u32 = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int64, ctypes.c_uint32
    signatures = {
        "nd_new": (ctx, []),
        "nd_delete": (None, [ctx]),
        "nd_add_key": (i64, [ctx, ctypes.c_char_p, size_t]),
        "nd_set_frozen": (None, [ctx, ctypes.c_int]),
        "nd_key_count": (u32, [ctx]),
        "nd_key": (ctypes.c_void_p, [ctx, u32, ctypes.POINTER(size_t)]),
        "nd_rows": (i64, [ctx]),
        "nd_lines": (i64, [ctx]),
        "nd_error": (ctypes.c_char_p, [ctx, ctypes.POINTER(i64)]),
        "nd_release": (None, [ctypes.c_void_p, size_t]),
        "nd_pool_trim": (None, []),
        "nd_pool_bytes": (size_t, []),
        "nd_scan_keys": (ctypes.c_int, [ctx, ctypes.c_void_p, size_t, i64]),
        "nd_scan_keys_fast": (ctypes.c_int, [ctx, ctypes.c_void_p, size_t, i64]),
        "nd_scan_batch": (ctypes.c_int, [ctx, ctypes.c_void_p, size_t, i64]),
        "nd_take_column": (ctypes.c_int, [ctx, u32, ctypes.POINTER(_Column)]),
    }
    for name, (restype, argtypes) in signatures.items():
        try:
            function = getattr(lib, name)
        except AttributeError as missing:
            raise OSError(f"{path} lacks {name}: run glue/build_native.sh") from missing
        function.restype = restype
        function.argtypes = argtypes
    return lib


class _Mappings:
    """Owns the mappings behind one chunk's Arrow buffers; unmaps them when Arrow lets go."""

    __slots__ = ("_lib", "_regions")

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._lib = lib
        self._regions: list[tuple[int, int]] = []

    def wrap(self, address: int | None, size: int, capacity: int) -> pa.Buffer:
        if address:
            self._regions.append((address, capacity))
        return pa.foreign_buffer(address or 0, size, base=self)

    def __del__(self) -> None:
        release = self._lib.nd_release
        for address, capacity in self._regions:
            release(address, capacity)
        self._regions = []


class _Context:
    """One scanner context (its key table lives across chunks); one thread at a time."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._lib = lib
        self._ctx = lib.nd_new()
        if not self._ctx:
            raise MemoryError("ndjson_to_parquet_converter: cannot allocate a scanner context")

    def __del__(self) -> None:
        ctx, self._ctx = getattr(self, "_ctx", None), None
        if ctx:
            self._lib.nd_delete(ctx)

    def _scan(self, function: Any, buf: Any, nbytes: int | None, source: str, first_line: int) -> int:
        size = len(buf) if nbytes is None else nbytes
        if isinstance(buf, bytes):
            rc = function(self._ctx, buf, size, first_line)
        else:
            view = memoryview(buf)
            if view.readonly:
                rc = function(self._ctx, bytes(view[:size]), size, first_line)
            else:
                holder = (ctypes.c_char * view.nbytes).from_buffer(view)
                try:
                    rc = function(self._ctx, holder, size, first_line)
                finally:
                    del holder
                    view.release()
        if rc:
            line = ctypes.c_int64()
            reason = self._lib.nd_error(self._ctx, ctypes.byref(line)).decode("utf-8", "replace")
            if rc < 0:
                raise MemoryError(f"ndjson_to_parquet_converter: {source}:{line.value}: {reason}")
            raise MalformedRecord(source, line.value, reason)
        return int(self._lib.nd_lines(self._ctx))

    def keys(self) -> list[str]:
        size = ctypes.c_size_t()
        keys = []
        for index in range(self._lib.nd_key_count(self._ctx)):
            address = self._lib.nd_key(self._ctx, index, ctypes.byref(size))
            keys.append(ctypes.string_at(address, size.value).decode("utf-8"))
        return keys


class KeyCollector(_Context):
    """Gathers top-level keys in order of first appearance; ``validate=False`` skips values without
    checking them (only for a first pass whose second pass validates every line)."""

    def __init__(self, lib: ctypes.CDLL, *, validate: bool = True) -> None:
        super().__init__(lib)
        self._function = lib.nd_scan_keys if validate else lib.nd_scan_keys_fast

    def feed(self, buf: Any, nbytes: int | None, source: str, first_line: int) -> int:
        return self._scan(self._function, buf, nbytes, source, first_line)


class BatchBuilder(_Context):
    """Turns chunks into record batches of the given all-string schema."""

    def __init__(self, lib: ctypes.CDLL, schema: pa.Schema) -> None:
        super().__init__(lib)
        self._schema = schema
        for name in schema.names:
            key = name.encode("utf-8")
            if lib.nd_add_key(self._ctx, key, len(key)) < 0:
                raise MemoryError("ndjson_to_parquet_converter: cannot allocate the key table")
        lib.nd_set_frozen(self._ctx, 1)

    def build(self, buf: Any, nbytes: int | None, source: str, first_line: int) -> tuple[pa.RecordBatch, int]:
        lines = self._scan(self._lib.nd_scan_batch, buf, nbytes, source, first_line)
        rows = self._lib.nd_rows(self._ctx)
        memory = _Mappings(self._lib)
        column = _Column()
        arrays = []
        for index in range(len(self._schema)):
            if self._lib.nd_take_column(self._ctx, index, ctypes.byref(column)):
                raise MemoryError("ndjson_to_parquet_converter: out of memory")
            data = memory.wrap(column.data, column.data_len, column.data_cap)
            offsets = memory.wrap(column.offsets, column.offsets_len, column.offsets_cap)
            if column.null_count:
                validity = memory.wrap(column.validity, column.validity_len, column.validity_cap)
            else:
                self._lib.nd_release(column.validity, column.validity_cap)
                validity = None
            arrays.append(pa.StringArray.from_buffers(rows, offsets, data, validity, column.null_count))
        return record_batch(arrays, self._schema, rows), lines
