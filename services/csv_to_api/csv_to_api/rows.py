"""A file's header and each row: decode, parse with CSV semantics, validate against the feed, and encode
the API body (keys the header's names, values the fields' text unless the feed declares a type).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from dataclasses import dataclass
from enum import StrEnum

from csv_to_api.feeds import Column, Feed
from csv_to_api.scan import Record

BOM = b"\xef\xbb\xbf"
# The csv module refuses fields over 128 KiB by default; the feed's max_field_bytes is the limit we
# enforce (with its own reason), so the parser itself must not stop earlier.
csv.field_size_limit(2**31 - 1)
RAW_EXCERPT_BYTES = 1024


class Reason(StrEnum):
    """Why a row was rejected (the report's ``reason``; docs/csv_to_api.md lists each)."""

    INVALID_ENCODING = "invalid_encoding"
    WRONG_FIELD_COUNT = "wrong_field_count"
    FIELD_TOO_LONG = "field_too_long"
    UNTERMINATED_QUOTE = "unterminated_quote"
    MALFORMED_QUOTES = "malformed_quotes"
    BLANK_ROW = "blank_row"
    MISSING_REQUIRED = "missing_required"
    INVALID_TYPE = "invalid_type"
    PATTERN_MISMATCH = "pattern_mismatch"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    NOT_ALLOWED = "not_allowed"
    API_REJECTED = "api_rejected"


class FileReason(StrEnum):
    """Why a whole file was rejected before any row was sent."""

    HEADER_MISSING = "header_missing"
    HEADER_INVALID = "header_invalid"
    HEADER_EMPTY_NAME = "header_empty_name"
    HEADER_DUPLICATE = "header_duplicate"
    HEADER_MISMATCH = "header_mismatch"


class HeaderError(ValueError):
    def __init__(self, reason: FileReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: Reason
    detail: str


@dataclass(frozen=True, slots=True)
class Header:
    names: tuple[str, ...]
    feed: Feed

    @property
    def columns(self) -> tuple[Column | None, ...]:
        return tuple(self.feed.by_name.get(name) for name in self.names)


def parse_header(data: bytes, feed: Feed) -> Header:
    """The header row's names, checked: decodable, unique, non-empty, and matching the feed's schema."""
    if data.startswith(BOM):
        data = data[len(BOM) :]
    if not data.strip():
        raise HeaderError(FileReason.HEADER_MISSING, "the file has no header row")
    try:
        fields = _fields(data.decode(feed.encoding), feed.delimiter)
    except (UnicodeDecodeError, csv.Error) as error:
        raise HeaderError(FileReason.HEADER_INVALID, f"header row: {error}") from error
    names = tuple(name.strip() for name in fields)
    if any(not name for name in names):
        raise HeaderError(FileReason.HEADER_EMPTY_NAME, f"header has an empty column name: {list(names)}")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise HeaderError(FileReason.HEADER_DUPLICATE, f"header repeats {duplicates}")
    if feed.has_schema:
        missing = [column.name for column in feed.columns if column.name not in names]
        extra = [name for name in names if name not in feed.by_name]
        if missing or (extra and not feed.allow_extra_columns):
            raise HeaderError(
                FileReason.HEADER_MISMATCH,
                f"header does not match feed {feed.name!r}: missing {missing}, unexpected {extra}",
            )
    return Header(names=names, feed=feed)


def _fields(text: str, delimiter: str) -> list[str]:
    # One record, whose only LFs are inside quoted fields (csv_to_api.scan cut it): csv reads it whole.
    rows = list(csv.reader([text], delimiter=delimiter, strict=True))
    if len(rows) != 1:
        raise csv.Error("a line break outside quotes")
    return rows[0]


def excerpt(data: bytes) -> str:
    """The raw row for the report: at most 1 KiB, bytes that do not decode shown as U+FFFD."""
    return data[:RAW_EXCERPT_BYTES].decode("utf-8", errors="replace")


def check_row(header: Header, record: Record) -> bytes | Rejected:
    """The API body (JSON bytes) of a good row, or why it is rejected."""
    feed = header.feed
    if record.unterminated_quote:
        return Rejected(
            Reason.UNTERMINATED_QUOTE, "a quoted field is never closed before the end of the file"
        )
    data = record.data
    if record.offset == 0 and data.startswith(BOM):  # only a header-less stream could start here
        data = data[len(BOM) :]
    if not data:
        return Rejected(Reason.BLANK_ROW, "empty line")
    try:
        text = data.decode(feed.encoding)
    except UnicodeDecodeError as error:
        return Rejected(Reason.INVALID_ENCODING, f"not valid {feed.encoding} at byte {error.start}")
    try:
        fields = _fields(text, feed.delimiter)
    except csv.Error as error:
        return Rejected(Reason.MALFORMED_QUOTES, str(error))
    if len(fields) != len(header.names):
        return Rejected(Reason.WRONG_FIELD_COUNT, f"{len(fields)} fields, header has {len(header.names)}")
    if len(data) > feed.max_field_bytes:
        for name, value in zip(header.names, fields, strict=True):
            size = len(value.encode(feed.encoding))
            if size > feed.max_field_bytes:
                return Rejected(Reason.FIELD_TOO_LONG, f"{name}: {size} bytes > {feed.max_field_bytes}")
    if not feed.has_schema:
        return encode_body(header.names, fields)
    parts: list[str] = []
    for name, column, value in zip(header.names, header.columns, fields, strict=True):
        if column is None:  # an extra column the feed allows: sent as text
            parts.append(f"{json.dumps(name)}:{json.dumps(value)}")
            continue
        checked = check_value(column, value)
        if isinstance(checked, Rejected):
            return checked
        parts.append(f"{json.dumps(name)}:{checked}")
    return ("{" + ",".join(parts) + "}").encode()


def encode_body(names: tuple[str, ...], values: list[str]) -> bytes:
    return json.dumps(dict(zip(names, values, strict=True)), separators=(",", ":")).encode()


_INTEGER = re.compile(r"[+-]?\d{1,300}")
# JSON's number grammar: the text goes to the API as it is, so no digit is lost to a float.
_DECIMAL = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_BOOLEANS = {
    "true": "true",
    "false": "false",
    "TRUE": "true",
    "FALSE": "false",
    "True": "true",
    "False": "false",
}


def check_value(column: Column, value: str) -> str | Rejected:
    """The value as a JSON fragment, or why it is rejected."""
    if value == "":
        if column.required:
            return Rejected(Reason.MISSING_REQUIRED, f"{column.name}: required")
        return "null" if column.type != "string" else '""'
    if column.min_length is not None and len(value) < column.min_length:
        return Rejected(Reason.TOO_SHORT, f"{column.name}: {len(value)} characters < {column.min_length}")
    if column.max_length is not None and len(value) > column.max_length:
        return Rejected(Reason.TOO_LONG, f"{column.name}: {len(value)} characters > {column.max_length}")
    if column.allowed is not None and value not in column.allowed:
        return Rejected(Reason.NOT_ALLOWED, f"{column.name}: {value[:64]!r} is not an allowed value")
    if column.pattern is not None and not column.pattern.fullmatch(value):
        return Rejected(Reason.PATTERN_MISMATCH, f"{column.name}: does not match {column.pattern.pattern!r}")
    invalid = Rejected(Reason.INVALID_TYPE, f"{column.name}: {value[:64]!r} is not a {column.type}")
    match column.type:
        case "integer":
            return str(int(value)) if _INTEGER.fullmatch(value) else invalid
        case "decimal":
            return value if _DECIMAL.fullmatch(value) else invalid
        case "boolean":
            return _BOOLEANS.get(value, "") or invalid
        case "date":
            try:
                return json.dumps(dt.date.fromisoformat(value).isoformat()) if len(value) == 10 else invalid
            except ValueError:
                return invalid
        case "timestamp":
            try:
                dt.datetime.fromisoformat(value)
            except ValueError:
                return invalid
            return json.dumps(value)
    return json.dumps(value)
