"""Tracking store: the status of many items, changed with compare-and-set.

Adapters: :class:`DynamoDBTrackingStore`, :class:`MemoryTrackingStore` (tests), and
``pipelines_shared.tracking.sql.SqlTrackingStore``, which is not imported here so that services
without SQLAlchemy can use the rest.
"""

from pipelines_shared.tracking.base import TrackingStore
from pipelines_shared.tracking.dynamodb import DynamoDBTrackingStore
from pipelines_shared.tracking.exceptions import InvalidItemError, TrackingError
from pipelines_shared.tracking.memory import MemoryTrackingStore
from pipelines_shared.tracking.types import TrackedItem

__all__ = [
    "DynamoDBTrackingStore",
    "InvalidItemError",
    "MemoryTrackingStore",
    "TrackedItem",
    "TrackingError",
    "TrackingStore",
]
