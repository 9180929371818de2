"""Reads files in chunks that end at a line boundary, into one buffer reused across files."""

from __future__ import annotations

import os
from collections.abc import Iterator

# Column offsets are int32: a chunk (and so any column of it) stays below 2 GiB.
MAX_CHUNK_BYTES = (1 << 31) - 1
MAX_CHUNK_BYTES_SETTING = 1 << 30


class LineTooLong(ValueError):
    """The line at the start of the current chunk is longer than MAX_CHUNK_BYTES."""


def check_chunk_bytes(chunk_bytes: int) -> None:
    if not 1 <= chunk_bytes <= MAX_CHUNK_BYTES_SETTING:
        raise ValueError(f"chunk_bytes must be between 1 and {MAX_CHUNK_BYTES_SETTING}, not {chunk_bytes}")


class ChunkReader:
    """Yields whole-line chunks of about ``chunk_bytes``; one reader per thread.

    The buffer is allocated once (at most the chunk size, less for small files) and reused, so
    memory stays put and its pages are touched once rather than once per file.
    """

    def __init__(self, chunk_bytes: int) -> None:
        check_chunk_bytes(chunk_bytes)
        self.chunk_bytes = chunk_bytes
        self._buf = bytearray()

    def _ensure(self, size: int) -> bytearray:
        if len(self._buf) < size:
            self._buf = bytearray()  # drop the old one first: never hold both
            self._buf = bytearray(size)
        return self._buf

    def chunks(
        self, path: str | os.PathLike[str], start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[bytearray, int]]:
        """Yields (buffer, length): ``buffer[:length]`` is whole lines (the last may lack its newline)
        of the file, or of its bytes ``[start, stop)`` (which should begin and end at line starts).

        Consume each chunk before asking for the next: the buffer is overwritten. A line longer than
        the chunk grows the buffer for as long as it takes (up to 2 GiB), then it shrinks back.
        """
        with open(path, "rb", buffering=0) as stream:
            size = os.fstat(stream.fileno()).st_size
            if start:
                stream.seek(start)
            remaining = max(0, (size if stop is None else stop) - start)
            # +1 so that a file that fits is read with its end-of-file in one go
            buf = self._ensure(min(self.chunk_bytes, remaining + 1))
            limit = min(len(buf), self.chunk_bytes)
            filled = 0
            eof = False
            while True:
                while filled < limit and not eof:
                    want = limit - filled if stop is None else min(limit - filled, remaining)
                    with memoryview(buf) as view:
                        count = stream.readinto(view[filled : filled + want]) if want else 0
                    if count:
                        filled += count
                        remaining -= count
                    else:
                        eof = True
                if eof:
                    if filled:
                        yield buf, filled
                    return
                cut = buf.rfind(b"\n", 0, filled) + 1
                if cut == 0:
                    if limit >= MAX_CHUNK_BYTES:
                        raise LineTooLong(f"a line longer than {MAX_CHUNK_BYTES} bytes is not supported")
                    limit = min(limit * 2, MAX_CHUNK_BYTES)
                    if len(buf) < limit:
                        buf.extend(bytes(limit - len(buf)))
                    continue
                yield buf, cut
                tail = filled - cut
                buf[:tail] = buf[cut:filled]
                filled = tail
                if limit > self.chunk_bytes and tail <= self.chunk_bytes:
                    limit = self.chunk_bytes  # the oversized line is done: back to the normal size
                    del buf[limit:]


def line_ranges(path: str | os.PathLike[str], piece_bytes: int) -> list[tuple[int, int]]:
    """Splits a file into byte ranges of about ``piece_bytes`` that start at line starts."""
    size = os.path.getsize(path)
    cuts = [0]
    with open(path, "rb") as stream:
        target = piece_bytes
        while target < size:
            stream.seek(target)
            position = target
            while True:  # the next line start at or after target
                block = stream.read(1 << 16)
                newline = block.find(b"\n")
                if newline >= 0:
                    position += newline + 1
                    break
                position += len(block)
                if not block:
                    break
            if position >= size:
                break
            cuts.append(position)
            target = position + piece_bytes
    cuts.append(size)
    return list(zip(cuts, cuts[1:]))
