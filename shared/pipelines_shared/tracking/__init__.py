"""Tracking store: the status of many items, changed with compare-and-set.

This package exports the port: :class:`TrackingStore`, :class:`TrackedItem` and the errors. Each
adapter is imported from its own module, so a service loads only the one it uses (a Lambda pays for
every import at each cold start): ``pipelines_shared.tracking.dynamodb.DynamoDBTrackingStore``,
``pipelines_shared.tracking.sql.SqlTrackingStore`` (needs SQLAlchemy) and
``pipelines_shared.tracking.memory.MemoryTrackingStore`` (tests).
"""

from pipelines_shared.tracking.base import TrackingStore
from pipelines_shared.tracking.exceptions import InvalidItemError, TrackingError
from pipelines_shared.tracking.types import TrackedItem

__all__ = ["InvalidItemError", "TrackedItem", "TrackingError", "TrackingStore"]
