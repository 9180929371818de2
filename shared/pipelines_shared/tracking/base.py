"""The tracking-store interface that every adapter (DynamoDB, SQL, in-memory) implements."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from pipelines_shared.clock import Clock, utc_now
from pipelines_shared.tracking.exceptions import InvalidItemError
from pipelines_shared.tracking.types import TrackedItem

RESERVED_ATTRIBUTES = frozenset({"namespace", "key", "status", "version", "created_at", "updated_at"})
"""Names an attribute may not have on any adapter, so items move between stores unchanged."""


class TrackingStore(ABC):
    """Records the status of many items and changes it with compare-and-set, safely under concurrency.

    ``transition`` is the primitive that makes "claim" and "complete exactly once" safe: of several
    workers moving the same item out of the same status, exactly one gets True.
    """

    def __init__(self, *, clock: Clock = utc_now) -> None:
        self.clock = clock

    @abstractmethod
    def create(self, item: TrackedItem) -> bool:
        """Insert ``item`` unless (namespace, key) exists; True if it was created. Never overwrites."""

    @abstractmethod
    def create_many(self, items: Iterable[TrackedItem]) -> set[str]:
        """Insert the items that do not exist yet; return the keys of those newly created.

        Idempotent but not atomic: if it raises part-way, some items exist and a retry will not
        report them as new. Callers that act on new items should, after a failure, find the ones
        still in their initial status with :meth:`list_by_status` instead of relying on the result.
        """

    @abstractmethod
    def get(self, namespace: str, key: str) -> TrackedItem | None:
        """Return the item, or None if it does not exist (strongly consistent read)."""

    @abstractmethod
    def get_many(self, namespace: str, keys: Iterable[str]) -> dict[str, TrackedItem]:
        """Return the existing items among ``keys``, by key; missing keys are left out."""

    @abstractmethod
    def transition(
        self,
        namespace: str,
        key: str,
        *,
        from_statuses: Iterable[str] | str,
        to_status: str,
        attributes: Mapping[str, Any] | None = None,
    ) -> bool:
        """Atomically move the item to ``to_status`` if its status is one of ``from_statuses``.

        ``attributes`` are merged into the item's (top-level keys replaced) and the version goes up by
        one. Returns False, changing nothing, if the item is missing or in another status.
        """

    @abstractmethod
    def list_by_status(self, namespace: str, status: str, *, limit: int | None = 100) -> list[TrackedItem]:
        """Return up to ``limit`` items (all if None) of the namespace in ``status``, in no set order."""

    @abstractmethod
    def count_by_status(self, namespace: str) -> dict[str, int]:
        """Return how many items of the namespace are in each status (statuses with none left out)."""

    # Helpers shared by the adapters, so that every store rejects the same input the same way.

    reserved_attributes: frozenset[str] = RESERVED_ATTRIBUTES

    def _now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise InvalidItemError("the store's clock must return aware datetimes")
        return now.astimezone(UTC)

    def _check_item(self, item: TrackedItem) -> None:
        _check_text("namespace", item.namespace)
        _check_text("key", item.key)
        _check_text("status", item.status)
        self._check_attributes(item.attributes)

    def _check_transition(
        self,
        namespace: str,
        key: str,
        from_statuses: Iterable[str] | str,
        to_status: str,
        attributes: Mapping[str, Any] | None,
    ) -> tuple[str, ...]:
        """Validate a transition's arguments; return ``from_statuses`` as a non-empty tuple."""
        _check_text("namespace", namespace)
        _check_text("key", key)
        _check_text("to_status", to_status)
        self._check_attributes(attributes)
        return normalise_statuses(from_statuses)

    def _check_attributes(self, attributes: Mapping[str, Any] | None) -> None:
        if not attributes:
            return
        for name in attributes:
            if not isinstance(name, str) or not name:
                raise InvalidItemError(f"attribute names must be non-empty strings, got {name!r}")
            if name in self.reserved_attributes:
                raise InvalidItemError(f"attribute name {name!r} is reserved by the tracking store")
        try:
            json.dumps(attributes, allow_nan=False)
        except (TypeError, ValueError) as exc:
            # allow_nan=False also rejects NaN and infinity, which neither DynamoDB nor JSON can hold.
            raise InvalidItemError(f"attributes must be JSON-serialisable: {exc}") from None


def normalise_statuses(from_statuses: Iterable[str] | str) -> tuple[str, ...]:
    """Turn ``from_statuses`` into a non-empty tuple; a bare string means that one status."""
    statuses = (from_statuses,) if isinstance(from_statuses, str) else tuple(dict.fromkeys(from_statuses))
    if not statuses:
        raise InvalidItemError("from_statuses must name at least one status")
    for status in statuses:
        _check_text("from status", status)
    return statuses


def unique_items(items: Iterable[TrackedItem]) -> list[TrackedItem]:
    """Drop repeated (namespace, key) pairs, keeping the first, so a batch never races with itself."""
    seen: dict[tuple[str, str], TrackedItem] = {}
    for item in items:
        seen.setdefault((item.namespace, item.key), item)
    return list(seen.values())


def _check_text(what: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidItemError(f"{what} must be a non-empty string, got {value!r}")
