"""The behaviour every tracking store must have, as pytest tests to inherit.

Shared by the unit suite (memory, DynamoDB on moto, SQLite), the functional suite (a real DynamoDB API,
MariaDB) and any new adapter, so that all run the very same checks (``shared/tests`` is on pytest's
pythonpath; nothing here ships in a Lambda zip)::

    class TestMyStore(TrackingStoreContract):
        @pytest.fixture
        def store(self):
            return MyStore(...)   # empty, or at least without the namespaces the tests generate
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from pipelines_shared.tracking.base import TrackingStore
from pipelines_shared.tracking.exceptions import InvalidItemError
from pipelines_shared.tracking.types import TrackedItem

RACERS = 8


def _namespace() -> str:
    # Unique per test, so suites may share one table and never see each other's items.
    return f"ns-{uuid.uuid4().hex[:12]}"


class TrackingStoreContract:
    """Contract tests; a subclass provides a ``store`` fixture."""

    def test_create_is_idempotent_and_never_overwrites(self, store: TrackingStore) -> None:
        ns = _namespace()
        assert store.create(TrackedItem(ns, "alert-1", "pending", {"severity": "high"})) is True
        assert store.create(TrackedItem(ns, "alert-1", "done", {"severity": "low"})) is False

        item = store.get(ns, "alert-1")
        assert item is not None
        assert (item.status, item.attributes, item.version) == ("pending", {"severity": "high"}, 1)
        assert item.created_at is not None
        assert item.created_at.utcoffset() == timedelta(0)  # aware, in UTC
        assert item.updated_at == item.created_at

    def test_items_read_back_are_copies(self, store: TrackingStore) -> None:
        ns = _namespace()
        attributes = {"files": ["a.csv"]}
        store.create(TrackedItem(ns, "k", "pending", attributes))
        attributes["files"].append("changed-after-create")
        store.get(ns, "k").attributes["files"].append("changed-after-get")
        assert store.get(ns, "k").attributes == {"files": ["a.csv"]}

    def test_get_missing_item_returns_none(self, store: TrackingStore) -> None:
        assert store.get(_namespace(), "nothing-here") is None

    def test_create_many_returns_only_newly_created_keys(self, store: TrackingStore) -> None:
        ns = _namespace()
        store.create(TrackedItem(ns, "a", "done", {"n": 1}))
        batch = [TrackedItem(ns, key, "pending") for key in ("a", "b", "c", "c")]

        assert store.create_many(batch) == {"b", "c"}
        assert store.create_many(batch) == set()
        assert store.create_many([]) == set()
        assert store.get(ns, "a").status == "done"  # the existing item was not overwritten

    def test_create_many_stores_every_item_of_a_large_batch(self, store: TrackingStore) -> None:
        ns = _namespace()
        keys = [f"2024/01/02/file-{i:04d}.ndjson" for i in range(130)]
        assert store.create_many(
            TrackedItem(ns, key, "pending", {"i": i}) for i, key in enumerate(keys)
        ) == set(keys)

        # More keys than one DynamoDB BatchGetItem takes, plus some that do not exist.
        found = store.get_many(ns, [*keys, "missing-1", "missing-2"])
        assert set(found) == set(keys)
        assert found[keys[7]].attributes == {"i": 7}
        assert store.get_many(ns, []) == {}

    def test_keys_are_case_sensitive(self, store: TrackingStore) -> None:
        ns = _namespace()
        assert store.create_many(
            [TrackedItem(ns, "File.csv", "pending"), TrackedItem(ns, "file.csv", "done")]
        ) == {
            "File.csv",
            "file.csv",
        }
        assert store.get(ns, "File.csv").status == "pending"
        assert store.get(ns, "file.csv").status == "done"

    def test_namespaces_are_separate(self, store: TrackingStore) -> None:
        first, second = _namespace(), _namespace()
        assert store.create(TrackedItem(first, "k", "pending")) is True
        assert store.create(TrackedItem(second, "k", "done")) is True
        assert store.get(first, "k").status == "pending"
        assert store.count_by_status(second) == {"done": 1}

    def test_attribute_values_round_trip(self, store: TrackingStore) -> None:
        ns = _namespace()
        attributes = {
            "count": 3,
            "ratio": 0.25,
            "name": "report.csv",
            "empty": "",
            "ok": True,
            "missing": None,
            "tags": ["a", 1],
            "nested": {"rows": [1, 2], "source": {"host": "sftp"}},
        }
        store.create(TrackedItem(ns, "k", "pending", attributes))
        assert store.get(ns, "k").attributes == attributes

    def test_transition_changes_status_merges_attributes_and_bumps_version(
        self, store: TrackingStore
    ) -> None:
        ns = _namespace()
        store.create(TrackedItem(ns, "k", "pending", {"attempt": 0, "source": "sftp"}))
        before = store.get(ns, "k")

        changed = store.transition(
            ns, "k", from_statuses=["pending"], to_status="running", attributes={"attempt": 1, "worker": "w1"}
        )

        assert changed is True
        after = store.get(ns, "k")
        assert after.status == "running"
        assert after.attributes == {"attempt": 1, "source": "sftp", "worker": "w1"}
        assert after.version == before.version + 1
        assert after.created_at == before.created_at
        assert after.updated_at >= before.updated_at

    def test_transition_without_attributes_keeps_them(self, store: TrackingStore) -> None:
        ns = _namespace()
        store.create(TrackedItem(ns, "k", "pending", {"rows": 10}))
        assert store.transition(ns, "k", from_statuses="pending", to_status="running") is True
        assert store.transition(ns, "k", from_statuses=("pending", "running"), to_status="done") is True
        item = store.get(ns, "k")
        assert (item.status, item.attributes, item.version) == ("done", {"rows": 10}, 3)

    def test_transition_from_another_status_changes_nothing(self, store: TrackingStore) -> None:
        ns = _namespace()
        store.create(TrackedItem(ns, "k", "done", {"rows": 10}))

        assert store.transition(ns, "k", from_statuses=["pending", "running"], to_status="running") is False
        assert (
            store.transition(ns, "k", from_statuses="running", to_status="x", attributes={"rows": 0}) is False
        )

        item = store.get(ns, "k")
        assert (item.status, item.attributes, item.version) == ("done", {"rows": 10}, 1)

    def test_transition_of_missing_item_returns_false_and_creates_nothing(self, store: TrackingStore) -> None:
        ns = _namespace()
        assert store.transition(ns, "ghost", from_statuses="pending", to_status="running") is False
        assert (
            store.transition(ns, "ghost", from_statuses="pending", to_status="x", attributes={"a": 1})
            is False
        )
        assert store.get(ns, "ghost") is None

    def test_completing_twice_succeeds_once(self, store: TrackingStore) -> None:
        ns = _namespace()
        store.create(TrackedItem(ns, "alert-9", "claimed"))
        assert store.transition(ns, "alert-9", from_statuses="claimed", to_status="completed") is True
        assert store.transition(ns, "alert-9", from_statuses="claimed", to_status="completed") is False
        assert store.get(ns, "alert-9").version == 2

    @pytest.mark.parametrize("with_attributes", [False, True], ids=["status-only", "with-attributes"])
    def test_exactly_one_of_concurrent_claims_wins(self, store: TrackingStore, with_attributes: bool) -> None:
        ns = _namespace()
        store.create(TrackedItem(ns, "job", "pending", {"claims": 0}))
        start = threading.Barrier(RACERS)

        def claim(worker: int) -> bool:
            start.wait()
            attributes = {"worker": worker} if with_attributes else None
            return store.transition(
                ns, "job", from_statuses="pending", to_status="claimed", attributes=attributes
            )

        with ThreadPoolExecutor(max_workers=RACERS) as pool:
            results = list(pool.map(claim, range(RACERS)))

        assert results.count(True) == 1
        item = store.get(ns, "job")
        assert (item.status, item.version) == ("claimed", 2)
        if with_attributes:
            assert item.attributes == {"claims": 0, "worker": results.index(True)}

    def test_list_by_status_returns_the_namespaces_items_in_that_status(self, store: TrackingStore) -> None:
        ns, other = _namespace(), _namespace()
        pending = {f"file-{i:03d}" for i in range(23)}
        store.create_many([TrackedItem(ns, key, "pending") for key in pending])
        store.create_many([TrackedItem(ns, f"done-{i}", "done") for i in range(4)])
        store.create_many([TrackedItem(other, f"file-{i:03d}", "pending") for i in range(3)])

        listed = store.list_by_status(ns, "pending", limit=None)
        assert {item.key for item in listed} == pending
        assert all(item.status == "pending" and item.namespace == ns for item in listed)
        assert len(store.list_by_status(ns, "done")) == 4
        assert store.list_by_status(ns, "unknown") == []

    def test_list_by_status_honours_limit(self, store: TrackingStore) -> None:
        ns = _namespace()
        store.create_many([TrackedItem(ns, f"file-{i:03d}", "pending") for i in range(23)])
        limited = store.list_by_status(ns, "pending", limit=7)
        assert len(limited) == 7
        assert len({item.key for item in limited}) == 7

    def test_list_by_status_follows_transitions(self, store: TrackingStore) -> None:
        ns = _namespace()
        store.create_many([TrackedItem(ns, f"k{i}", "pending") for i in range(6)])
        for key in ("k1", "k4"):
            store.transition(ns, key, from_statuses="pending", to_status="done")
        assert {item.key for item in store.list_by_status(ns, "done")} == {"k1", "k4"}
        assert {item.key for item in store.list_by_status(ns, "pending")} == {"k0", "k2", "k3", "k5"}

    def test_count_by_status(self, store: TrackingStore) -> None:
        ns = _namespace()
        assert store.count_by_status(ns) == {}
        store.create_many([TrackedItem(ns, f"k{i}", "pending") for i in range(9)])
        for i in range(3):
            store.transition(ns, f"k{i}", from_statuses="pending", to_status="failed")
        store.transition(ns, "k8", from_statuses="pending", to_status="done")
        assert store.count_by_status(ns) == {"pending": 5, "failed": 3, "done": 1}

    @pytest.mark.parametrize(
        "attributes",
        [{"status": "x"}, {"version": 9}, {"ratio": float("nan")}, {"when": object()}, {"": 1}],
        ids=["reserved-status", "reserved-version", "nan", "not-json", "empty-name"],
    )
    def test_rejects_attributes_it_could_not_store_faithfully(
        self, store: TrackingStore, attributes: dict
    ) -> None:
        ns = _namespace()
        with pytest.raises(InvalidItemError):
            store.create(TrackedItem(ns, "k", "pending", attributes))
        store.create(TrackedItem(ns, "k2", "pending"))
        with pytest.raises(InvalidItemError):
            store.transition(ns, "k2", from_statuses="pending", to_status="x", attributes=attributes)
        assert store.get(ns, "k") is None
        assert store.get(ns, "k2").status == "pending"

    def test_rejects_empty_names(self, store: TrackingStore) -> None:
        with pytest.raises(InvalidItemError):
            store.create(TrackedItem("", "k", "pending"))
        with pytest.raises(InvalidItemError):
            store.create_many([TrackedItem(_namespace(), "", "pending")])
        with pytest.raises(InvalidItemError):
            store.transition(_namespace(), "k", from_statuses=[], to_status="done")
