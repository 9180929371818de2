"""Feeds: what a file under a prefix must look like, configured in one place (the Terraform module's
``feeds`` variable, stored as one JSON document in SSM; docs/csv_to_api/schemas/feeds.schema.json).

A file matches the feed with the longest prefix its key starts with. A key no feed claims gets the
default feed: structural checks only (unique non-empty header names, field counts, encoding, field
size) and every value sent as text.
"""

from __future__ import annotations

import codecs
import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

TYPES = ("string", "integer", "decimal", "boolean", "date", "timestamp")
DEFAULT_MAX_FIELD_BYTES = 128 * 1024


class FeedConfigError(ValueError):
    """The feeds document is invalid; the message says where."""


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str = "string"
    required: bool = False
    pattern: re.Pattern[str] | None = None
    min_length: int | None = None
    max_length: int | None = None
    allowed: frozenset[str] | None = None


@dataclass(frozen=True)
class Feed:
    name: str
    prefix: str = ""
    encoding: str = "utf-8"
    delimiter: str = ","
    max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES
    columns: tuple[Column, ...] = ()
    allow_extra_columns: bool = False
    by_name: Mapping[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {column.name: column for column in self.columns})

    @property
    def has_schema(self) -> bool:
        return bool(self.columns)


DEFAULT_FEED = Feed(name="default")


@dataclass(frozen=True)
class Feeds:
    feeds: tuple[Feed, ...] = ()
    default: Feed = DEFAULT_FEED

    def for_key(self, key: str) -> Feed:
        """The feed of the longest prefix ``key`` starts with, else the default (structural) feed."""
        best: Feed | None = None
        for feed in self.feeds:
            if key.startswith(feed.prefix) and (best is None or len(feed.prefix) > len(best.prefix)):
                best = feed
        return best or self.default

    def by_name(self, name: str) -> Feed:
        for feed in self.feeds:
            if feed.name == name:
                return feed
        if name == self.default.name:
            return self.default
        raise FeedConfigError(f"no feed named {name!r}")


@functools.lru_cache(maxsize=4)
def feeds_from_text(text: str) -> Feeds:
    """:func:`parse_feeds` of the document's JSON text, parsed once per text (a warm function reads the
    parameter through its settings cache on every invocation; the patterns compile once)."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise FeedConfigError(f"the feeds document is not JSON: {error}") from error
    return parse_feeds(document)


def parse_feeds(document: Mapping[str, Any] | None) -> Feeds:
    """Build :class:`Feeds` from the decoded feeds document; :class:`FeedConfigError` on any mistake."""
    if not document:
        return Feeds()
    if not isinstance(document, Mapping) or not isinstance(document.get("feeds", []), list):
        raise FeedConfigError('expected {"feeds": [...]}')
    unknown = set(document) - {"feeds", "default"}
    if unknown:
        raise FeedConfigError(f"unknown keys {sorted(unknown)}")
    feeds = tuple(_feed(raw, f"feeds[{index}]") for index, raw in enumerate(document.get("feeds", [])))
    names = [feed.name for feed in feeds]
    prefixes = [feed.prefix for feed in feeds]
    if len(set(names)) != len(names) or len(set(prefixes)) != len(prefixes):
        raise FeedConfigError("feed names and prefixes must be unique")
    default = DEFAULT_FEED
    if document.get("default"):
        default = _feed({"name": "default", **document["default"]}, "default")
        if default.columns:
            raise FeedConfigError("default: the default feed has no columns (structural checks only)")
    return Feeds(feeds=feeds, default=default)


_FEED_KEYS = {"name", "prefix", "encoding", "delimiter", "max_field_bytes", "columns", "allow_extra_columns"}
_COLUMN_KEYS = {"name", "type", "required", "pattern", "min_length", "max_length", "allowed"}


def _feed(raw: Any, where: str) -> Feed:
    if not isinstance(raw, Mapping):
        raise FeedConfigError(f"{where}: expected an object")
    unknown = set(raw) - _FEED_KEYS
    if unknown:
        raise FeedConfigError(f"{where}: unknown keys {sorted(unknown)}")
    name = raw.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_-]{1,64}", name):
        raise FeedConfigError(f"{where}.name: 1-64 characters of a-z 0-9 _ -")
    encoding = str(raw.get("encoding", "utf-8"))
    try:
        codec = codecs.lookup(encoding)
    except LookupError as error:
        raise FeedConfigError(f"{where}.encoding: unknown encoding {encoding!r}") from error
    # Row boundaries are found on bytes (csv_to_api.scan): the quote and LF bytes must mean the same
    # thing in the encoding, which rules out UTF-16/32 and the like.
    if codec.name.startswith(("utf-16", "utf-32")) or '"\n,'.encode(codec.name, "replace") != b'"\n,':
        raise FeedConfigError(f"{where}.encoding: {encoding} is not ASCII-compatible")
    delimiter = str(raw.get("delimiter", ","))
    if len(delimiter) != 1 or delimiter in '"\r\n':
        raise FeedConfigError(f"{where}.delimiter: one character, not a quote or a line break")
    max_field_bytes = raw.get("max_field_bytes", DEFAULT_MAX_FIELD_BYTES)
    if not isinstance(max_field_bytes, int) or max_field_bytes < 1:
        raise FeedConfigError(f"{where}.max_field_bytes: a positive integer")
    columns_raw = raw.get("columns", [])
    if not isinstance(columns_raw, Sequence) or isinstance(columns_raw, str):
        raise FeedConfigError(f"{where}.columns: expected a list")
    columns = tuple(_column(column, f"{where}.columns[{i}]") for i, column in enumerate(columns_raw))
    if len({column.name for column in columns}) != len(columns):
        raise FeedConfigError(f"{where}.columns: names must be unique")
    return Feed(
        name=name,
        prefix=str(raw.get("prefix", "")),
        encoding=codec.name,
        delimiter=delimiter,
        max_field_bytes=max_field_bytes,
        columns=columns,
        allow_extra_columns=_flag(raw, "allow_extra_columns", where),
    )


def _flag(raw: Mapping[str, Any], key: str, where: str) -> bool:
    # A JSON boolean only: bool("false") would be True, and a feed meant optional would reject rows.
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise FeedConfigError(f"{where}.{key}: true or false (a JSON boolean), not {value!r}")
    return value


def _column(raw: Any, where: str) -> Column:
    if not isinstance(raw, Mapping):
        raise FeedConfigError(f"{where}: expected an object")
    unknown = set(raw) - _COLUMN_KEYS
    if unknown:
        raise FeedConfigError(f"{where}: unknown keys {sorted(unknown)}")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise FeedConfigError(f"{where}.name: a non-empty string")
    kind = raw.get("type", "string")
    if kind not in TYPES:
        raise FeedConfigError(f"{where}.type: one of {', '.join(TYPES)}")
    pattern = None
    if raw.get("pattern") is not None:
        try:
            pattern = re.compile(str(raw["pattern"]))
        except re.error as error:
            raise FeedConfigError(f"{where}.pattern: {error}") from error
    lengths = {key: raw.get(key) for key in ("min_length", "max_length")}
    for key, value in lengths.items():
        if value is not None and (not isinstance(value, int) or value < 0):
            raise FeedConfigError(f"{where}.{key}: a non-negative integer")
    allowed = raw.get("allowed")
    if allowed is not None and (
        not isinstance(allowed, list) or not all(isinstance(v, str) for v in allowed)
    ):
        raise FeedConfigError(f"{where}.allowed: a list of strings")
    return Column(
        name=name,
        type=kind,
        required=_flag(raw, "required", where),
        pattern=pattern,
        min_length=lengths["min_length"],
        max_length=lengths["max_length"],
        allowed=frozenset(allowed) if allowed is not None else None,
    )
