"""Errors raised by ndjson_to_parquet_converter."""

from __future__ import annotations


class MalformedRecord(ValueError):
    """A line of the input is not one JSON object (bad JSON, not an object, invalid UTF-8, ...).

    ``line_number`` is 1-based and counts every physical line, blank ones included.
    """

    def __init__(self, source: str, line_number: int, reason: str) -> None:
        super().__init__(source, line_number, reason)
        self.source = source
        self.line_number = line_number
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.source}:{self.line_number}: {self.reason}"
