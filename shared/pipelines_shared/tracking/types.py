"""Data types of the tracking store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class TrackedItem:
    """One tracked unit of work: an alert of a job, a file of a day, ...

    ``version``, ``created_at`` and ``updated_at`` are owned by the store: they are ignored on
    :meth:`~pipelines_shared.tracking.base.TrackingStore.create` and filled in on reads.
    """

    namespace: str
    """Groups items that are listed and counted together (job id, date prefix)."""
    key: str
    """Identifies the item within its namespace (alert id, file key)."""
    status: str
    attributes: dict[str, Any] = field(default_factory=dict)
    """JSON-able values. DynamoDB returns whole numbers as int, so prefer int for counters."""
    version: int = 0
    """1 after creation, +1 on every successful transition."""
    created_at: datetime | None = None
    updated_at: datetime | None = None
