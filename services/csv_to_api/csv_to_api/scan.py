"""Where CSV rows end, by byte offset, without decoding: the planner cuts chunks with it and the caller
splits its byte range with it.

A row ends at a LF outside quotes. RFC 4180 quotes come in pairs (a doubled quote inside a quoted field
is two quotes), so whether a LF is inside a quoted field depends only on how many quotes came before it
in the file: an even count means outside. That holds for every encoding whose quote and LF bytes never
occur inside a multi-byte character (UTF-8, ASCII, ISO-8859-x, Windows-125x), which are the encodings a
feed may declare. CRLF rows end at their LF; the CR is stripped when the row is parsed.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass

QUOTE = b'"'
LF = b"\n"


def row_ends(block: bytes, in_quotes: bool) -> tuple[list[int], bool]:
    """Offsets in ``block`` of the LFs that end a row, and whether the block ends inside a quoted field."""
    ends: list[int] = []
    pos, size = 0, len(block)
    find = block.find
    while pos < size:
        quote = find(QUOTE, pos)
        if in_quotes:
            if quote < 0:
                return ends, True
            in_quotes, pos = False, quote + 1
            continue
        stop = size if quote < 0 else quote
        lf = find(LF, pos, stop)
        while lf >= 0:
            ends.append(lf)
            lf = find(LF, lf + 1, stop)
        if quote < 0:
            return ends, False
        in_quotes, pos = True, quote + 1
    return ends, in_quotes


@dataclass(frozen=True, slots=True)
class Record:
    """One row's raw bytes (its LF, and a CR before it, removed) and where it starts in the object."""

    offset: int
    data: bytes
    terminated: bool = True
    """False for a last row without a final LF, or (with ``unterminated_quote``) the tail of the file."""
    unterminated_quote: bool = False


def records(blocks: Iterator[bytes], start: int) -> Iterator[Record]:
    """Split a stream of blocks read from object offset ``start`` (a row boundary) into records.

    When the stream ends inside a quoted field, the rest from the start of that row is yielded one
    physical line at a time with ``unterminated_quote`` set: those rows are rejected, the ones before
    them are not.
    """
    carry = b""
    carry_offset = start
    in_quotes = False
    for block in blocks:
        if not block:
            continue
        ends, in_quotes = row_ends(block, in_quotes)
        if not ends:
            carry += block
            continue
        data = carry + block
        base = len(carry)
        previous = 0
        for end in ends:
            end += base
            yield Record(carry_offset + previous, _strip_cr(data[previous:end]))
            previous = end + 1
        carry_offset += previous
        carry = data[previous:]
    if not carry:
        return
    if not in_quotes:
        yield Record(carry_offset, _strip_cr(carry), terminated=False)
        return
    offset = carry_offset
    lines = carry.split(LF)
    if lines[-1] == b"":
        lines.pop()
    for index, line in enumerate(lines):
        last = index == len(lines) - 1
        yield Record(offset, _strip_cr(line), terminated=not last, unterminated_quote=True)
        offset += len(line) + 1


def _strip_cr(data: bytes) -> bytes:
    return data[:-1] if data.endswith(b"\r") else data


@dataclass
class RowCounter:
    """Counts rows over a stream of blocks and finds the first row boundary at or after given offsets.

    Feed it every block of the object in order (:meth:`feed`); ``boundary`` callbacks receive the object
    offset just after a row's LF and the number of rows before that point.
    """

    offset: int = 0
    rows: int = 0
    in_quotes: bool = False
    last_row_end: int = 0
    """Object offset just after the last row-ending LF (where the next row starts)."""
    lfs_since_row_end: int = 0
    """LFs seen inside quotes since the last row end: the physical lines of an unterminated tail."""
    ends_with_lf: bool = False

    def feed(self, block: bytes, want: int | None, found: Callable[[int, int], int | None]) -> int | None:
        """Count the rows ending in ``block``. For the first row ending at or after object offset
        ``want``, ``found(next_row_offset, rows_so_far)`` is called; it returns the next offset wanted
        (or None), which this returns after the block."""
        ends, in_quotes = row_ends(block, self.in_quotes)
        if ends:
            self.lfs_since_row_end = block.count(LF, ends[-1] + 1)
        else:
            self.lfs_since_row_end += block.count(LF)
        while want is not None:
            index = bisect.bisect_left(ends, want - self.offset - 1)
            if index >= len(ends):
                break
            want = found(self.offset + ends[index] + 1, self.rows + index + 1)
        self.rows += len(ends)
        if ends:
            self.last_row_end = self.offset + ends[-1] + 1
        self.in_quotes = in_quotes
        self.offset += len(block)
        if block:
            self.ends_with_lf = block.endswith(LF)
        return want

    def tail_rows(self) -> int:
        """Rows after the last row end at the end of the object: a last row without LF, or the physical
        lines of an unterminated quoted field (each a rejected row)."""
        tail = self.offset - self.last_row_end
        if tail == 0:
            return 0
        if not self.in_quotes:
            return 1
        return self.lfs_since_row_end + (0 if self.ends_with_lf else 1)
