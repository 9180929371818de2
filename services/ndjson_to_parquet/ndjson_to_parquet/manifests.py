"""The manifest passes: claim pending files into manifests and start their processing; the core of
manifest-builder and stream-manifest-creator, safe with any number of them running at once.

This module runs the passes; :mod:`.claims` claims files (steps 1-3), :mod:`.publish` writes, records and
starts manifests (steps 4-6), :mod:`.policy` holds what a pass may do and the report of what it did.

One pass over a ``date_prefix`` (:meth:`ManifestCore.build`):

1. list the day's ``pending`` files (every status shard, through ``status-index``);
2. plan batches over them, oldest first: at most ``max_files`` files and ``max_bytes`` bytes each.
   Full batches are built, in random order; the last, partial one only once its oldest file has
   waited ``orphan_age`` (then the manifest's reason is ``orphan_flush``);
3. per batch, claim each file with a compare-and-set ``pending#N -> manifested#N`` that also sets
   ``manifest_id``/``manifest_path``; the first file (the batch's *leader*) is claimed alone first;
4. write the manifest JSON (the files won, sorted by ``file_key``) to the manifest bucket;
5. create the MANIFEST record (``pending``, conditional: it must not exist);
6. start it: StartExecution named after the manifest, or a ``ManifestReady`` event
   (``start_mode="eventbridge"``); while the circuit breaker is open it stays ``pending``.

The scheduled pass (:meth:`ManifestCore.flush`) also repairs what a crash can leave behind:
(b) :meth:`~ManifestCore.recover_claims` completes manifests whose files were claimed but whose
MANIFEST record was never written, (a) :meth:`~ManifestCore.restart_pending` starts MANIFEST
records still ``pending`` (start failed, builder died, breaker was open) once the breaker is closed.

Races, and why they are safe
----------------------------
* **Builders over the same files.** A claim is one conditional UpdateItem on the file's status, so
  of any number of builders exactly one moves a file out of ``pending``: a file is in at most one
  manifest. Builders that listed the same files plan the same batches (same order: creation time,
  then key) and visit the full ones in random order; the leader claim decides a batch's owner
  before anyone touches its other files, so concurrent builders split the day batch by batch rather
  than file by file. A loser skips the batch (``contended``) and goes on to the next one.
* **Plans that differ** (listed at different moments; ``status-index`` is eventually consistent).
  A builder may win a leader and then lose members to another builder. It fills up with other
  pending files it listed (the partial batch's first, then the batches it would reach last), and if
  it still holds less than ``min_fill`` of the batch it gives the claims back (``manifested ->
  pending``, ``released``) rather than send a small manifest. Giving back needs no condition on
  ``manifest_id``: until a manifest has its record, only its builder moves its files (recovery
  waits ``claim_recovery_after``, the status updater needs the record). A listed file that another
  builder already claimed fails its condition and is skipped; a file tracked after the listing
  waits for the next pass.
* **A claim whose outcome is unknown** (timeout, throttle after the write landed). The file is read
  back strongly consistent: it is ours if it is ``manifested`` with our ``manifest_id``. If even that
  fails, the pass stops and leaves the manifest to (b); the table, not this process, is the
  authority on which files a manifest holds.
* **A builder dies after claiming, before the MANIFEST record** (between 3 and 5). Its files sit in
  ``manifested`` with a ``manifest_id`` that has no record. (b) finds them once the newest claim is
  ``claim_recovery_after`` old and completes the manifest from the table: files = every file claimed
  with that id, ``created_at`` = the time in the id, reason ``recovered``. Two recoverers therefore
  write the same bytes, and the conditional record create lets exactly one of them start it.
  ``claim_recovery_after`` must exceed the timeout of every function running this code, so that the
  original builder cannot still be claiming: the default, 900 s, is Lambda's maximum timeout.
* **A builder dies after the record, before starting; a start fails; the breaker is open.** The
  record stays ``pending``; (a) starts it once it is ``start_retry_after`` old (measured from its last
  change) and the breaker is closed. Starting twice is harmless: the execution name is the manifest
  id (ExecutionAlreadyExists = already started), and with EventBridge the state machine's first step
  is a conditional ``pending -> processing``, so a duplicate execution stops there.
* **(a) against the state machine.** Once the execution moved the record to ``processing`` it is no
  longer listed as ``pending``; (a) can only race the first seconds of an execution, and then the
  name collision (or the conditional first step) absorbs the duplicate.
* **(b) against batch-status-updater.** The updater only moves files of a manifest that ran, i.e.
  that has a record; (b) only touches manifest ids without one. They never meet.
* **Nothing is lost**: a file waits in ``pending`` until a full batch or the orphan rule takes it,
  sits in ``manifested`` without record until (b), or in a ``pending`` manifest until (a). The
  scheduled pass covers today and ``FLUSH_LOOKBACK_DAYS`` before it; older days are only revisited
  when a new file lands there.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ndjson_to_parquet import tracking as t
from ndjson_to_parquet.claims import (
    Batch,
    Claims,
    ClaimUnresolved,
    age,
    manifest_file,
    plan_batches,
    total_bytes,
)
from ndjson_to_parquet.contract import (
    REASON_FULL,
    REASON_ORPHAN_FLUSH,
    REASON_RECOVERED,
    REASON_STREAM,
    ContractError,
    Manifest,
    manifest_id_time,
    new_manifest_id,
)
from ndjson_to_parquet.policy import ManifestPolicy, RunReport
from ndjson_to_parquet.publish import Breaker, Gate, Publisher
from pipelines_shared.clock import Clock, utc_now
from pipelines_shared.log import get_logger
from pipelines_shared.tracking import TrackedItem, TrackingStore

logger = get_logger(__name__)

TRIGGERS = frozenset({REASON_FULL, REASON_STREAM})

__all__ = ["ClaimUnresolved", "ManifestCore", "lookback_dates"]


class ManifestCore:
    """Builds, records and starts manifests; see the module docstring for the guarantees."""

    def __init__(
        self,
        *,
        files: TrackingStore,
        manifests: TrackingStore,
        s3: Any,
        policy: ManifestPolicy,
        sfn: Any = None,
        events: Any = None,
        breaker: Breaker | None = None,
        clock: Clock = utc_now,
        id_token: Callable[[], str] = lambda: secrets.token_hex(4),
        rng: random.Random | None = None,
    ) -> None:
        self._claims = Claims(files, policy)
        self._publisher = Publisher(manifests=manifests, s3=s3, policy=policy, sfn=sfn, events=events)
        self._files = files
        self._breaker = breaker
        self._clock = clock
        self._id_token = id_token
        self._random = rng or random.Random()  # noqa: S311  # nosec B311  # spreads builders, not security
        self.policy = policy

    # -- passes ------------------------------------------------------------------------------------

    def build(
        self, date_prefix: str, *, trigger: str = REASON_FULL, should_stop: Callable[[], bool] | None = None
    ) -> RunReport:
        """Claim the day's pending files into manifests: full batches, and orphaned partial ones."""
        if trigger not in TRIGGERS:
            raise ValueError(f"trigger must be one of {sorted(TRIGGERS)}")
        report = RunReport(date_prefix)
        self._build(date_prefix, trigger, should_stop, report, Gate(self._breaker))
        return report

    def flush(self, date_prefix: str, *, should_stop: Callable[[], bool] | None = None) -> RunReport:
        """The scheduled pass: recover dead builders' claims (b), start waiting manifests (a), build."""
        report = RunReport(date_prefix)
        gate = Gate(self._breaker)
        self._recover_claims(date_prefix, report, gate)
        self._publisher.restart_pending(date_prefix, self._clock(), gate, report)
        self._build(date_prefix, REASON_FULL, should_stop, report, gate)
        return report

    def recover_claims(self, date_prefix: str) -> RunReport:
        """(b): complete manifests whose files were claimed but whose MANIFEST record never appeared."""
        report = RunReport(date_prefix)
        self._recover_claims(date_prefix, report, Gate(self._breaker))
        return report

    def restart_pending(self, date_prefix: str) -> RunReport:
        """(a): start MANIFEST records still ``pending`` after ``start_retry_after``, breaker permitting."""
        report = RunReport(date_prefix)
        self._publisher.restart_pending(date_prefix, self._clock(), Gate(self._breaker), report)
        return report

    def _build(
        self,
        date_prefix: str,
        trigger: str,
        should_stop: Callable[[], bool] | None,
        report: RunReport,
        gate: Gate,
    ) -> None:
        pending = [
            item
            for item in self._files.list_by_status(date_prefix, t.PENDING, limit=None)
            if self._buildable(item)
        ]
        now = self._clock()
        batches = plan_batches(pending, self.policy.max_files, self.policy.max_bytes)
        full = [batch for batch in batches if batch.full]
        # Concurrent builders start on different batches instead of all fighting over the oldest.
        self._random.shuffle(full)
        order = full + [batch for batch in batches if not batch.full]
        tried: set[str] = set()  # files this pass tried to claim, won or lost
        for position, batch in enumerate(order):
            if batch.full:
                reason = trigger
            elif max(age(now, item.created_at) for item in batch.items) >= self.policy.orphan_age:
                reason = REASON_ORPHAN_FLUSH  # its oldest file has waited long enough
            else:
                report.waiting += len(batch.items)
                continue
            items = [item for item in batch.items if item.key not in tried]
            if not items:
                continue
            if self._out_of_budget(report, should_stop):
                break
            # Files to fill up with when other builders take some of ours: first those nobody builds
            # as a full batch (the partial one), then the batches this pass would reach last.
            spare = [item for later in reversed(order[position + 1 :]) for item in later.items]
            self._build_one(date_prefix, batch, items, reason, spare, tried, gate, report)
        if report.created or report.contended or report.released or report.recovered or report.restarted:
            logger.info("manifest pass done", **report.as_dict())

    def _recover_claims(self, date_prefix: str, report: RunReport, gate: Gate) -> None:
        claimed = self._claims.claimed_by_manifest(date_prefix)
        if not claimed:
            return
        recorded = self._publisher.recorded(date_prefix, list(claimed))
        now = self._clock()
        for manifest_id, items in sorted(claimed.items()):
            if manifest_id in recorded:
                continue
            if min(age(now, item.updated_at) for item in items) < self.policy.claim_recovery_after:
                continue  # its builder may still be at work
            try:
                manifest = Manifest.build(
                    manifest_id,
                    date_prefix,
                    manifest_id_time(manifest_id),
                    REASON_RECOVERED,
                    [manifest_file(item) for item in items],
                )
            except (ContractError, KeyError) as exc:
                logger.error("claims cannot be recovered", manifest_id=manifest_id, error=str(exc))
                continue
            path = items[0].attributes.get(t.MANIFEST_PATH) or self._publisher.manifest_path(
                date_prefix, manifest_id
            )
            logger.warning(
                "recovering a manifest whose builder stopped after claiming",
                manifest_id=manifest_id,
                date_prefix=date_prefix,
                file_count=manifest.file_count,
            )
            if self._publisher.publish(manifest, str(path), gate, report):
                report.recovered.append(manifest_id)

    # -- one manifest ------------------------------------------------------------------------------

    def _build_one(
        self,
        date_prefix: str,
        batch: Batch,
        items: list[TrackedItem],
        reason: str,
        spare: list[TrackedItem],
        tried: set[str],
        gate: Gate,
        report: RunReport,
    ) -> None:
        now = self._clock()
        manifest_id = new_manifest_id(now, self._id_token())
        path = self._publisher.manifest_path(date_prefix, manifest_id)
        claim = {t.MANIFEST_ID: manifest_id, t.MANIFEST_PATH: path}
        leader, *members = items
        tried.add(leader.key)
        if not self._claims.claim_leader(date_prefix, leader, claim):
            report.contended += 1
            return
        tried.update(item.key for item in members)
        won = [leader, *self._claims.claim_members(date_prefix, members, claim)]
        planned = batch.items  # this pass may have topped up other manifests with some of them
        if reason != REASON_ORPHAN_FLUSH and len(won) < len(planned):
            lost = len(planned) - len(won)
            self._claims.top_up(date_prefix, claim, won, spare, tried)
            fill = max(len(won) / len(planned), total_bytes(won) / max(1, total_bytes(planned)))
            logger.info(
                "batch partly claimed by another builder", manifest_id=manifest_id, lost=lost, fill=fill
            )
            if fill < self.policy.min_fill:
                self._claims.release(date_prefix, manifest_id, won)
                report.released += 1
                return
        manifest = Manifest.build(manifest_id, date_prefix, now, reason, [manifest_file(i) for i in won])
        self._publisher.publish(manifest, path, gate, report)

    # -- helpers -----------------------------------------------------------------------------------

    def _out_of_budget(self, report: RunReport, should_stop: Callable[[], bool] | None) -> bool:
        if len(report.created) >= self.policy.max_manifests_per_run:
            logger.info("manifest budget of this pass used up", limit=self.policy.max_manifests_per_run)
            return True
        if should_stop is not None and should_stop():
            logger.info("stopping before the function's deadline")
            return True
        return False

    @staticmethod
    def _buildable(item: TrackedItem) -> bool:
        if t.FILE_PATH not in item.attributes:
            logger.error("pending file has no file_path", date_prefix=item.namespace, file_key=item.key)
            return False
        return True


def lookback_dates(now: datetime, days: int) -> list[str]:
    """Today (UTC) and the ``days`` before it, newest first."""
    today = now.astimezone(UTC).date()
    return [(today - timedelta(days=offset)).isoformat() for offset in range(days + 1)]
