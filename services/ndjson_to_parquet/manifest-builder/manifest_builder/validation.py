"""Is a landed object an NDJSON file worth converting? Decided from its name, its size and one
ranged read of its beginning, never the whole object.

Checks, in order (first failure wins; reason codes from the contract): ``bad_key``,
``bad_extension``, ``empty`` (0 bytes, or blank lines only), ``too_large``, ``unreadable`` (S3 denies
or cannot serve it), ``not_utf8``, ``not_json``, ``not_object`` (the first ``lines`` non-blank lines
must each be a JSON object).
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ndjson_to_parquet import contract as c
from pipelines_shared.retry import is_transient

_GONE = frozenset({"NoSuchKey", "404", "NotFound"})


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int
    lines: int = 5
    read_bytes: int = 256 * 1024


@dataclass(frozen=True)
class Verdict:
    size: int
    etag: str
    reason: str | None = None
    detail: str = ""

    @property
    def valid(self) -> bool:
        return self.reason is None


def check_name(key: str) -> tuple[str, str] | None:
    """(reason, detail) if the key breaks the landing layout or has the wrong extension."""
    try:
        parsed = c.parse_landing_key(key)
    except c.InvalidLandingKey as exc:
        return c.BAD_KEY, str(exc)
    if not parsed.file_key.lower().endswith(c.EXTENSIONS):
        return c.BAD_EXTENSION, f"{parsed.file_key!r} does not end in {' or '.join(c.EXTENSIONS)}"
    return None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def check_content(data: bytes, *, complete: bool, lines: int) -> tuple[str, str] | None:
    """(reason, detail) if the first ``lines`` non-blank lines of ``data`` are not JSON objects.

    ``complete`` says whether ``data`` is the whole object; if not, it is cut after its last newline
    so that no line is judged by a fragment. A first line longer than ``data`` cannot be parsed:
    only its encoding is checked.
    """
    if not complete:
        cut = data.rfind(b"\n")
        if cut < 0:
            try:
                codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
            except UnicodeDecodeError as exc:
                return c.NOT_UTF8, f"invalid UTF-8 at byte {exc.start}: {exc.reason}"
            return None
        data = data[: cut + 1]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return c.NOT_UTF8, f"invalid UTF-8 at byte {exc.start}: {exc.reason}"
    checked = 0
    # split("\n"), not splitlines(): U+2028 and friends may sit inside JSON strings.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            return c.NOT_JSON, f"line {number}: {exc.msg} (column {exc.colno})"
        except ValueError as exc:
            return c.NOT_JSON, f"line {number}: {exc}"
        except RecursionError:
            return c.NOT_JSON, f"line {number}: nested deeper than {MAX_DEPTH} levels"
        if not isinstance(value, dict):
            return c.NOT_OBJECT, f"line {number} is a JSON {type(value).__name__}, not an object"
        problem = _beyond_the_converter(value)
        if problem:
            return c.NOT_JSON, f"line {number}: {problem}"
        checked += 1
        if checked >= lines:
            break
    if checked == 0 and complete:
        return c.EMPTY, "no records: blank lines only"
    return None


# The Glue converter's limits (glue/ndjson_to_parquet): what json.loads accepts but it refuses must be
# quarantined here, not fail a whole manifest later.
MAX_DEPTH = 512


def _beyond_the_converter(value: Any) -> str | None:
    """Why the converter would refuse a parsed record: a lone surrogate escape, or too deep nesting."""
    stack: list[tuple[Any, int]] = [(value, 0)]  # the record itself is level 0, as in the converter
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)) and depth > MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH} levels"
        if isinstance(item, dict):
            for key, inner in item.items():
                stack.append((key, depth))
                stack.append((inner, depth + 1))
        elif isinstance(item, list):
            stack.extend((inner, depth + 1) for inner in item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "a \\u escape is a lone surrogate (no UTF-8 form)"
    return None


class _Gone(Exception):
    """The object was deleted after its event: nothing to validate."""


class Inspector:
    """Reads what validation needs from S3: a HEAD and one ranged GET."""

    def __init__(self, s3: Any, limits: Limits) -> None:
        self._s3 = s3
        self._limits = limits

    def inspect(self, bucket: str, key: str) -> Verdict | None:
        """The object's verdict, or None if it no longer exists (deleted since the event)."""
        try:
            head = self._s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _GONE:
                return None
            if is_transient(exc):
                raise
            return Verdict(0, "", c.UNREADABLE, f"HeadObject failed: {_code(exc)}")
        size = int(head.get("ContentLength", 0))
        etag = str(head.get("ETag", "")).strip('"')
        problem = check_name(key)
        if problem is None and size == 0:
            problem = (c.EMPTY, "the object has 0 bytes")
        if problem is None and size > self._limits.max_file_bytes:
            problem = (c.TOO_LARGE, f"{size} bytes > the limit of {self._limits.max_file_bytes}")
        if problem is None:
            try:
                problem = self._check_beginning(bucket, key, size)
            except _Gone:
                return None
        if problem is None:
            return Verdict(size, etag)
        return Verdict(size, etag, *problem)

    def _check_beginning(self, bucket: str, key: str, size: int) -> tuple[str, str] | None:
        wanted = min(size, self._limits.read_bytes)
        try:
            response = self._s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{wanted - 1}")
            data = response["Body"].read()
        except ClientError as exc:
            if _code(exc) in _GONE:
                raise _Gone from exc
            if is_transient(exc):
                raise
            return c.UNREADABLE, f"GetObject failed: {_code(exc)}"
        # A server that ignores Range sends everything: judge only what we meant to read.
        return check_content(data[:wanted], complete=wanted >= size, lines=self._limits.lines)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
