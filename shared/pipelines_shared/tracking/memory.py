"""In-memory tracking store: the fake for unit tests of services, held to the same contract as the others."""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from pipelines_shared.clock import Clock, utc_now
from pipelines_shared.tracking.base import TrackingStore, unique_items
from pipelines_shared.tracking.types import TrackedItem


class MemoryTrackingStore(TrackingStore):
    """Thread-safe dict-backed store. Items are copied in and out, as a real store serialises them."""

    def __init__(self, *, clock: Clock = utc_now) -> None:
        super().__init__(clock=clock)
        self._items: dict[tuple[str, str], TrackedItem] = {}
        self._lock = threading.Lock()

    def create(self, item: TrackedItem) -> bool:
        """Insert ``item`` unless (namespace, key) exists; True if it was created."""
        self._check_item(item)
        now = self._now()
        stored = dataclasses.replace(
            item, attributes=copy.deepcopy(dict(item.attributes)), version=1, created_at=now, updated_at=now
        )
        with self._lock:
            if (item.namespace, item.key) in self._items:
                return False
            self._items[(item.namespace, item.key)] = stored
            return True

    def create_many(self, items: Iterable[TrackedItem]) -> set[str]:
        """Insert the items that do not exist yet; return the keys of those newly created."""
        batch = unique_items(items)
        for item in batch:
            self._check_item(item)
        return {item.key for item in batch if self.create(item)}

    def get(self, namespace: str, key: str) -> TrackedItem | None:
        """Return a copy of the item, or None."""
        with self._lock:
            found = self._items.get((namespace, key))
        return _copy(found) if found else None

    def get_many(self, namespace: str, keys: Iterable[str]) -> dict[str, TrackedItem]:
        """Return copies of the existing items among ``keys``, by key."""
        found = {}
        for key in dict.fromkeys(keys):
            item = self.get(namespace, key)
            if item is not None:
                found[key] = item
        return found

    def transition(
        self,
        namespace: str,
        key: str,
        *,
        from_statuses: Iterable[str] | str,
        to_status: str,
        attributes: Mapping[str, Any] | None = None,
    ) -> bool:
        """Compare-and-set the status under the store's lock."""
        statuses = self._check_transition(namespace, key, from_statuses, to_status, attributes)
        now = self._now()
        with self._lock:
            current = self._items.get((namespace, key))
            if current is None or current.status not in statuses:
                return False
            merged = {**current.attributes, **copy.deepcopy(dict(attributes or {}))}
            self._items[(namespace, key)] = dataclasses.replace(
                current, status=to_status, attributes=merged, version=current.version + 1, updated_at=now
            )
            return True

    def list_by_status(self, namespace: str, status: str, *, limit: int | None = 100) -> list[TrackedItem]:
        """Return up to ``limit`` copies of the namespace's items in ``status``."""
        with self._lock:
            matching = [
                _copy(item)
                for (item_namespace, _), item in self._items.items()
                if item_namespace == namespace and item.status == status
            ]
        return matching if limit is None else matching[:limit]

    def count_by_status(self, namespace: str) -> dict[str, int]:
        """Count the namespace's items per status."""
        with self._lock:
            return dict(Counter(item.status for (ns, _), item in self._items.items() if ns == namespace))


def _copy(item: TrackedItem) -> TrackedItem:
    return dataclasses.replace(item, attributes=copy.deepcopy(item.attributes))
