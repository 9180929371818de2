"""The messages between the pipeline's steps (docs/csv_to_api.md; JSON Schemas in docs/csv_to_api/schemas/).

A file is one object version: (bucket, key, ETag). Its ``file_id`` names its Step Functions execution
(so a duplicate event starts nothing new) and prefixes each row's ``Idempotency-Key`` (``<file_id>:<row>``).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

VERSION = 1


class FileStatus(StrEnum):
    RECEIVED = "received"
    SPLITTING = "splitting"
    SENDING = "sending"
    COMPLETED = "completed"
    COMPLETED_WITH_REJECTS = "completed_with_rejects"
    FAILED = "failed"


FINAL_STATUSES = frozenset({FileStatus.COMPLETED, FileStatus.COMPLETED_WITH_REJECTS, FileStatus.FAILED})


def make_file_id(bucket: str, key: str, etag: str) -> str:
    """32 hex characters, stable for one object version; a valid execution name and key prefix."""
    digest = hashlib.sha256("\0".join((bucket, key, etag.strip('"'))).encode()).hexdigest()
    return digest[:32]


@dataclass(frozen=True)
class FileRef:
    bucket: str
    key: str
    etag: str
    size: int
    file_id: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "etag", self.etag.strip('"'))
        if not self.file_id:
            object.__setattr__(self, "file_id", make_file_id(self.bucket, self.key, self.etag))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileRef:
        ref = cls(bucket=data["bucket"], key=data["key"], etag=data["etag"], size=int(data["size"]))
        if data.get("file_id") and data["file_id"] != ref.file_id:
            raise ValueError(
                f"file_id {data['file_id']} does not belong to {ref.bucket}/{ref.key}@{ref.etag}"
            )
        return ref


@dataclass(frozen=True)
class Chunk:
    """Bytes ``[start, end)`` of the object, from a row boundary to a row boundary, holding data rows
    ``first_row .. first_row + rows - 1`` (1-based; the header row is not counted)."""

    index: int
    start: int
    end: int
    first_row: int
    rows: int
    wait_seconds: int = 0
    """How long the Map waits before the chunk's first invocation: the staggered start."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Chunk:
        return cls(**{name: int(data[name]) for name in ("index", "start", "end", "first_row", "rows")})


@dataclass(frozen=True)
class Resume:
    """Where a chunk's next invocation starts when the previous one stopped before its deadline."""

    offset: int
    row: int
