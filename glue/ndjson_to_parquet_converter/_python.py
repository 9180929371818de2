"""Pure-Python fallback with the scanner's exact semantics, for when _scanner.so cannot load.

msgspec (``Decoder(dict[str, msgspec.Raw])``) finds the top-level value spans when it is importable;
otherwise the stdlib ``json`` module's scanners do. Both loop per value in Python: correct, but
an order of magnitude slower than the C scanner.
"""

from __future__ import annotations

import json
import json.decoder
import re
from collections.abc import Iterator
from typing import Any, Callable, Optional

import pyarrow as pa

from ._arrow import record_batch
from .exceptions import MalformedRecord

Row = dict[str, Optional[str]]  # evaluated at import: typing's Optional for Python 3.9
_WHITESPACE = b" \t\r"
_NUMBER_TAIL = frozenset("0123456789.+-eEabcdfghijklmnopqrstuvwxyzABCDFGHIJKLMNOPQRSTUVWXYZ")
_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|.)")
_BRACKET_OR_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
MAX_DEPTH = 512  # as the C scanner
_TOO_DEEP = f"nesting deeper than {MAX_DEPTH} levels"


class _Bad(Exception):
    """A reason why a line is malformed (becomes MalformedRecord with the line's number)."""


def _byte_position(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8")) + 1


def _utf8(value: str, text: str, index: int) -> str:
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _Bad(
                "lone surrogate in \\u escape (not representable in UTF-8) "
                f"at byte {_byte_position(text, index)}"
            ) from None
    return value


def _check_surrogates(raw: str, text: str, index: int) -> None:
    """Lone surrogate escapes inside nested values are malformed too (as in the C scanner)."""
    pending_high = -1
    for match in _ESCAPE.finditer(raw):
        code = int(match.group(1), 16) if match.group(1) else -1
        if pending_high >= 0:
            if match.start() == pending_high and 0xDC00 <= code <= 0xDFFF:
                pending_high = -1
                continue
            break
        if 0xD800 <= code <= 0xDBFF:
            pending_high = match.end()
        elif 0xDC00 <= code <= 0xDFFF:
            break
    else:
        if pending_high < 0:
            return
    raise _Bad(
        f"lone surrogate in \\u escape (not representable in UTF-8) at byte {_byte_position(text, index)}"
    )


def _check_depth(raw: str) -> None:
    """Nesting deeper than MAX_DEPTH is malformed, as in the C scanner."""
    if len(raw) <= 2 * MAX_DEPTH:
        return
    depth = 0
    for match in _BRACKET_OR_STRING.finditer(raw):
        bracket = match.group()
        if bracket in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                raise _Bad(_TOO_DEEP)
        elif bracket in ("]", "}"):
            depth -= 1


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid literal {name}")


# parse_int/parse_float keep numbers as text: no float rounding, no int digit limit.
_DECODER = json.JSONDecoder(parse_int=str, parse_float=str, parse_constant=_reject_constant, strict=True)
# Both are CPython's C scanners, public in practice but absent from typeshed's json stubs.
_scan_once: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]
_scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]


def _skip(text: str, index: int) -> int:
    length = len(text)
    while index < length and text[index] in " \t\r":
        index += 1
    return index


def _value_json(text: str, index: int) -> tuple[str | None, int]:
    if index >= len(text):
        raise _Bad("truncated record: the line ends inside the JSON object (expected a value)")
    first = text[index]
    if first == '"':
        value, end = _scanstring(text, index + 1, True)
        return _utf8(value, text, index), end
    if first in "+.":
        raise _Bad(f"invalid number at byte {_byte_position(text, index)}")
    try:
        _, end = _scan_once(text, index)
    except StopIteration:
        raise _Bad(f"expected a value at byte {_byte_position(text, index)}") from None
    raw = text[index:end]
    if first in "-0123456789" and end < len(text) and text[end] in _NUMBER_TAIL:
        raise _Bad(f"invalid number at byte {_byte_position(text, index)}")
    if raw == "null":
        return None, end
    if first in "[{":
        _check_depth(raw)
        if "\\u" in raw:
            _check_surrogates(raw, text, index)
    return raw, end


def _parse_json(line: bytes, text: str) -> Row:
    """One line as {key: decoded string | exact JSON text | None} with the stdlib json scanners."""
    length = len(text)
    index = _skip(text, 0)
    if text[index] != "{":
        raise _Bad("not a JSON object: each line must be one object")
    index = _skip(text, index + 1)
    row: Row = {}
    if index < length and text[index] == "}":
        index += 1
    else:
        while True:
            if index >= length or text[index] != '"':
                raise _Bad(_where(text, index, "expected a string key"))
            key, index = _scanstring(text, index + 1, True)
            key = _utf8(key, text, index)
            index = _skip(text, index)
            if index >= length or text[index] != ":":
                raise _Bad(_where(text, index, "expected ':' after the key"))
            index = _skip(text, index + 1)
            row[key], index = _value_json(text, index)
            index = _skip(text, index)
            if index < length and text[index] == ",":
                index = _skip(text, index + 1)
                continue
            if index < length and text[index] == "}":
                index += 1
                break
            raise _Bad(_where(text, index, "expected ',' or '}'"))
    index = _skip(text, index)
    if index < length:
        raise _Bad(_where(text, index, "trailing characters after the JSON object"))
    return row


def _where(text: str, index: int, what: str) -> str:
    if index >= len(text):
        return f"truncated record: the line ends inside the JSON object ({what})"
    return f"{what} at byte {_byte_position(text, index)}"


def _msgspec_parser() -> Callable[[bytes, str], Row] | None:
    try:
        import msgspec
    except ImportError:
        return None
    decode_line = msgspec.json.Decoder(dict[str, msgspec.Raw]).decode
    decode_string = msgspec.json.Decoder(str).decode

    def parse(line: bytes, text: str) -> Row:
        if not line.lstrip(_WHITESPACE).startswith(b"{"):
            raise _Bad("not a JSON object: each line must be one object")
        try:
            raws = decode_line(line)
            row: Row = {}
            for key, raw in raws.items():
                value = bytes(raw)
                if value[:1] == b'"':
                    row[key] = decode_string(value)
                elif value == b"null":
                    row[key] = None
                else:
                    text_value = value.decode("utf-8")
                    row[key] = text_value
                    if value[:1] in b"[{":
                        _check_depth(text_value)
        except msgspec.DecodeError as error:
            raise _Bad(str(error)) from None
        return row

    return parse


class Parser:
    """Splits a buffer of whole lines into rows; every malformed line raises MalformedRecord."""

    def __init__(self, decoder: str) -> None:
        parse = _msgspec_parser() if decoder == "msgspec" else _parse_json
        if parse is None:
            raise ImportError("msgspec is not installed")
        self.decoder = decoder
        self._parse = parse

    def rows(self, buf: Any, nbytes: int | None, source: str, first_line: int) -> Iterator[Row]:
        data = bytes(memoryview(buf)[: len(buf) if nbytes is None else nbytes])
        for number, line in enumerate(data.split(b"\n"), first_line):
            if not line.strip(_WHITESPACE):
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as error:
                raise MalformedRecord(source, number, f"invalid UTF-8 at byte {error.start + 1}") from None
            try:
                row = self._parse(line, text)
            except _Bad as error:
                raise MalformedRecord(source, number, str(error)) from None
            except json.JSONDecodeError as error:
                reason = f"{error.msg} (byte {_byte_position(text, error.pos)})"
                raise MalformedRecord(source, number, reason) from None
            except RecursionError:
                raise MalformedRecord(source, number, _TOO_DEEP) from None
            except ValueError as error:
                raise MalformedRecord(source, number, str(error)) from None
            yield row


class KeyCollector:
    def __init__(self, decoder: str) -> None:
        self._parser = Parser(decoder)
        self._keys: dict[str, None] = {}

    def feed(self, buf: Any, nbytes: int | None, source: str, first_line: int) -> int:
        keys = self._keys
        for row in self._parser.rows(buf, nbytes, source, first_line):
            for key in row:
                if key not in keys:
                    keys[key] = None
        return _line_count(buf, nbytes)

    def keys(self) -> list[str]:
        return list(self._keys)


class BatchBuilder:
    def __init__(self, decoder: str, schema: pa.Schema) -> None:
        self._parser = Parser(decoder)
        self._schema = schema
        self._index = {name: position for position, name in enumerate(schema.names)}

    def build(self, buf: Any, nbytes: int | None, source: str, first_line: int) -> tuple[pa.RecordBatch, int]:
        index = self._index
        columns: list[list[str | None]] = [[] for _ in index]
        rows = 0
        data = bytes(memoryview(buf)[: len(buf) if nbytes is None else nbytes])
        numbers = _line_numbers(data, first_line)
        for row in self._parser.rows(data, None, source, first_line):
            number = next(numbers)
            for key, value in row.items():
                position = index.get(key)
                if position is None:
                    raise MalformedRecord(source, number, f'key "{key}" is not one of the columns')
                column = columns[position]
                column.extend([None] * (rows - len(column)))
                column.append(value)
            rows += 1
        arrays = []
        for column in columns:
            column.extend([None] * (rows - len(column)))
            arrays.append(pa.array(column, type=pa.string()))
        return record_batch(arrays, self._schema, rows), data.count(b"\n")


def _line_numbers(data: bytes, first_line: int) -> Iterator[int]:
    """Line numbers of the non-blank lines, in the order Parser.rows yields them."""
    for number, line in enumerate(data.split(b"\n"), first_line):
        if line.strip(_WHITESPACE):
            yield number


def _line_count(buf: Any, nbytes: int | None) -> int:
    view = memoryview(buf)
    return bytes(view[: len(buf) if nbytes is None else nbytes]).count(b"\n")
