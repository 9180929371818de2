"""Claiming pending files into manifests: batch planning, the leader claim, filling up, giving back,
and finding the claims of builders that died before recording their manifest.

A claim is one compare-and-set ``pending#N -> manifested#N`` that also sets ``manifest_id`` and
``manifest_path`` (``ndjson_to_parquet.manifests`` explains why this is safe with any number of
builders). The table, not a builder's memory, says which files a manifest holds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ndjson_to_parquet import tracking as t
from ndjson_to_parquet.contract import ManifestFile
from ndjson_to_parquet.policy import ManifestPolicy
from pipelines_shared.log import get_logger
from pipelines_shared.retry import TransientError, is_transient
from pipelines_shared.tracking import TrackedItem, TrackingStore

logger = get_logger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ClaimUnresolved(TransientError):
    """A claim failed in a way that hides whether it landed; the manifest is left to recovery."""


@dataclass(frozen=True)
class Batch:
    items: tuple[TrackedItem, ...]
    full: bool


def plan_batches(items: Iterable[TrackedItem], max_files: int, max_bytes: int) -> list[Batch]:
    """Cut files, oldest first (then by key), into batches of at most ``max_files`` / ``max_bytes``.

    A batch is full when it holds ``max_files`` files or ``max_bytes`` bytes, or when the next file
    does not fit; a single file larger than ``max_bytes`` is a full batch of its own. Only the last
    batch can be partial. The order is the same for every builder that lists the same files, which
    is what lets the leader claim split them batch by batch.
    """
    ordered = sorted(items, key=lambda item: (item.created_at or _EPOCH, item.key))
    batches: list[Batch] = []
    current: list[TrackedItem] = []
    current_bytes = 0
    for item in ordered:
        size = item_size(item)
        if current and current_bytes + size > max_bytes:
            batches.append(Batch(tuple(current), full=True))
            current, current_bytes = [], 0
        current.append(item)
        current_bytes += size
        if len(current) >= max_files or current_bytes >= max_bytes:
            batches.append(Batch(tuple(current), full=True))
            current, current_bytes = [], 0
    if current:
        batches.append(Batch(tuple(current), full=False))
    return batches


def total_bytes(items: Iterable[TrackedItem]) -> int:
    return sum(item_size(item) for item in items)


def item_size(item: TrackedItem) -> int:
    size = item.attributes.get(t.SIZE, 0)
    return size if isinstance(size, int) and not isinstance(size, bool) else 0


def manifest_file(item: TrackedItem) -> ManifestFile:
    """The manifest's entry for a claimed file record."""
    return ManifestFile(
        file_key=item.key,
        uri=str(item.attributes[t.FILE_PATH]),
        size=item_size(item),
        etag=str(item.attributes.get(t.ETAG) or ""),
    )


def age(now: datetime, moment: datetime | None) -> timedelta:
    """How long ago ``moment`` was (forever when unknown; naive moments are UTC)."""
    if moment is None:
        return timedelta.max
    return now - (moment if moment.tzinfo else moment.replace(tzinfo=UTC))


class Claims:
    """Claims, tops up, gives back and reads back file records on the file store."""

    def __init__(self, files: TrackingStore, policy: ManifestPolicy) -> None:
        self._files = files
        self.policy = policy

    def claim_leader(self, date_prefix: str, leader: TrackedItem, claim: dict[str, str]) -> bool:
        """Claim a batch's first file alone: whoever wins it owns the batch."""
        return self._claim(date_prefix, leader, claim)

    def claim_members(
        self, date_prefix: str, members: list[TrackedItem], claim: dict[str, str]
    ) -> list[TrackedItem]:
        """Claim the rest of a won batch in parallel; the files won. Raises :class:`ClaimUnresolved` when
        some claims' outcome stays unknown (recovery then completes the manifest from the table)."""
        if not members:
            return []
        workers = min(self.policy.claim_workers, len(members))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            outcomes = list(pool.map(lambda item: self._try_claim(date_prefix, item, claim), members))
        errors = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        if errors:
            raise ClaimUnresolved(
                f"{len(errors)} claims for {claim[t.MANIFEST_ID]} unresolved; left to recovery: {errors[0]}"
            ) from errors[0]
        return [item for item, outcome in zip(members, outcomes, strict=True) if outcome is True]

    def top_up(
        self,
        date_prefix: str,
        claim: dict[str, str],
        won: list[TrackedItem],
        spare: list[TrackedItem],
        tried: set[str],
    ) -> None:
        """Claim spare files into a manifest that lost some of its own, up to the batch limits."""
        size = total_bytes(won)
        for item in spare:
            if len(won) >= self.policy.max_files or size >= self.policy.max_bytes:
                return
            if item.key in tried or size + item_size(item) > self.policy.max_bytes:
                continue
            tried.add(item.key)
            if self._claim(date_prefix, item, claim):
                won.append(item)
                size += item_size(item)

    def release(self, date_prefix: str, manifest_id: str, won: list[TrackedItem]) -> None:
        """Give claims back (``manifested -> pending``): too few files are left for a full manifest.

        Safe without a condition on ``manifest_id``: until the MANIFEST record exists only this
        builder moves files claimed for it (recovery waits ``claim_recovery_after``, the status
        updater needs the record). A release that fails leaves its file to recovery (b).
        """
        undo = {t.MANIFEST_ID: None, t.MANIFEST_PATH: None}
        for item in won:
            try:
                self._files.transition(
                    date_prefix, item.key, from_statuses=t.MANIFESTED, to_status=t.PENDING, attributes=undo
                )
            except Exception as exc:
                logger.warning(
                    "claim not released; recovery completes its manifest",
                    manifest_id=manifest_id,
                    file_key=item.key,
                    error=str(exc),
                )
        logger.info("claims released: too few files left for a full manifest", manifest_id=manifest_id)

    def claimed_by_manifest(self, date_prefix: str) -> dict[str, list[TrackedItem]]:
        """The day's ``manifested`` files, grouped by the manifest id they were claimed for."""
        claimed: dict[str, list[TrackedItem]] = defaultdict(list)
        for item in self._files.list_by_status(date_prefix, t.MANIFESTED, limit=None):
            manifest_id = item.attributes.get(t.MANIFEST_ID)
            if isinstance(manifest_id, str) and manifest_id:
                claimed[manifest_id].append(item)
            else:
                logger.error("manifested file has no manifest_id", date_prefix=date_prefix, file_key=item.key)
        return claimed

    def _try_claim(self, date_prefix: str, item: TrackedItem, claim: dict[str, str]) -> bool | BaseException:
        try:
            return self._claim(date_prefix, item, claim)
        except Exception as exc:
            return exc

    def _claim(self, date_prefix: str, item: TrackedItem, claim: dict[str, str]) -> bool:
        """Compare-and-set pending -> manifested; an unknown outcome is settled by reading the item.

        A failed condition is read back too: the SDK retries an UpdateItem whose response was lost,
        and the retry fails the condition that its own first attempt already changed.
        """
        try:
            if self._files.transition(
                date_prefix, item.key, from_statuses=t.PENDING, to_status=t.MANIFESTED, attributes=claim
            ):
                return True
        except Exception as exc:
            if not is_transient(exc):
                raise
            try:
                return self._claimed_by(date_prefix, item.key, claim[t.MANIFEST_ID])
            except Exception as read_error:
                raise ClaimUnresolved(f"claim of {item.key} unknown: {exc}; read back: {read_error}") from exc
        return self._claimed_by(date_prefix, item.key, claim[t.MANIFEST_ID])

    def _claimed_by(self, date_prefix: str, key: str, manifest_id: str) -> bool:
        current = self._files.get(date_prefix, key)
        return (
            current is not None
            and current.status == t.MANIFESTED
            and current.attributes.get(t.MANIFEST_ID) == manifest_id
        )
