"""Claim pending files into manifests and start their processing: the core of manifest-builder and
stream-manifest-creator, safe with any number of them running at once.

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
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import ClientError

from ndjson_to_parquet import tracking as t
from ndjson_to_parquet.contract import (
    EVENT_SOURCE,
    MANIFEST_READY,
    REASON_FULL,
    REASON_ORPHAN_FLUSH,
    REASON_RECOVERED,
    REASON_STREAM,
    ContractError,
    ExecutionInput,
    Manifest,
    ManifestFile,
    manifest_id_time,
    manifest_object_key,
    manifest_record_key,
    new_manifest_id,
    output_path,
    parse_s3_uri,
    s3_uri,
)
from pipelines_shared.clock import Clock, utc_now
from pipelines_shared.log import get_logger
from pipelines_shared.retry import TransientError, is_transient
from pipelines_shared.tracking import TrackedItem, TrackingStore

logger = get_logger(__name__)

START_STEPFUNCTIONS = "stepfunctions"
START_EVENTBRIDGE = "eventbridge"
START_MODES = frozenset({START_STEPFUNCTIONS, START_EVENTBRIDGE})
TRIGGERS = frozenset({REASON_FULL, REASON_STREAM})

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Breaker(Protocol):
    def is_open(self) -> bool: ...


class ClaimUnresolved(TransientError):
    """A claim failed in a way that hides whether it landed; the manifest is left to recovery."""


@dataclass(frozen=True)
class ManifestPolicy:
    """What to build and where to send it (from the handlers' settings)."""

    manifest_bucket: str
    output_bucket: str
    glue_job_name: str
    spark_glue_job_name: str = ""
    spark_threshold_bytes: int = 0
    """Manifests above this many bytes go to the Spark job (0, or no Spark job name: never)."""
    max_files: int = 100
    max_bytes: int = 512 * 1024 * 1024
    orphan_age: timedelta = timedelta(minutes=10)
    start_retry_after: timedelta = timedelta(minutes=2)
    claim_recovery_after: timedelta = timedelta(minutes=15)
    start_mode: str = START_STEPFUNCTIONS
    state_machine_arn: str = ""
    event_bus_name: str = ""
    max_manifests_per_run: int = 50
    claim_workers: int = 8
    min_fill: float = 0.5
    """A full batch that other builders left less than this share of (files or bytes, whichever is
    more) is given back to ``pending`` rather than sent as a small manifest."""

    def __post_init__(self) -> None:
        if self.start_mode not in START_MODES:
            raise ValueError(f"start_mode must be one of {sorted(START_MODES)}, got {self.start_mode!r}")
        if self.start_mode == START_STEPFUNCTIONS and not self.state_machine_arn:
            raise ValueError("start_mode stepfunctions needs state_machine_arn")
        if self.start_mode == START_EVENTBRIDGE and not self.event_bus_name:
            raise ValueError("start_mode eventbridge needs event_bus_name")
        if self.max_files < 1 or self.max_bytes < 1:
            raise ValueError("max_files and max_bytes must be positive")
        if self.max_manifests_per_run < 1 or self.claim_workers < 1:
            raise ValueError("max_manifests_per_run and claim_workers must be positive")

    def glue_job_for(self, total_bytes: int) -> str:
        spark = self.spark_glue_job_name and 0 < self.spark_threshold_bytes < total_bytes
        return self.spark_glue_job_name if spark else self.glue_job_name


@dataclass
class RunReport:
    """What one pass did for one ``date_prefix`` (manifest ids per outcome)."""

    date_prefix: str
    created: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    """Left ``pending`` because the circuit breaker is open."""
    start_failed: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    contended: int = 0
    """Planned batches skipped because another builder claimed their leader first."""
    released: int = 0
    """Batches given back to ``pending`` because other builders left too little of them."""
    waiting: int = 0
    """Pending files left for a later pass (partial batch, not yet orphaned)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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
        size = _size(item)
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


def _bytes(items: Iterable[TrackedItem]) -> int:
    return sum(_size(item) for item in items)


def _size(item: TrackedItem) -> int:
    size = item.attributes.get(t.SIZE, 0)
    return size if isinstance(size, int) and not isinstance(size, bool) else 0


def _manifest_file(item: TrackedItem) -> ManifestFile:
    return ManifestFile(
        file_key=item.key,
        uri=str(item.attributes[t.FILE_PATH]),
        size=_size(item),
        etag=str(item.attributes.get(t.ETAG) or ""),
    )


def _age(now: datetime, moment: datetime | None) -> timedelta:
    if moment is None:
        return timedelta.max
    return now - (moment if moment.tzinfo else moment.replace(tzinfo=UTC))


class _Gate:
    """Reads the breaker at most once per pass, and only if something is to be started."""

    def __init__(self, breaker: Breaker | None) -> None:
        self._breaker = breaker
        self._open: bool | None = None

    @property
    def open(self) -> bool:
        if self._open is None:
            if self._breaker is None:
                self._open = False
            else:
                try:
                    self._open = self._breaker.is_open()
                except Exception as exc:
                    # Unknown means "do not start": the manifests wait in pending for the next pass.
                    logger.warning("circuit breaker unreadable; holding manifests", error=str(exc))
                    self._open = True
            if self._open:
                logger.warning("circuit breaker open: manifests stay pending")
        return self._open


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
        if policy.start_mode == START_STEPFUNCTIONS and sfn is None:
            raise ValueError("start_mode stepfunctions needs an sfn client")
        if policy.start_mode == START_EVENTBRIDGE and events is None:
            raise ValueError("start_mode eventbridge needs an events client")
        self._files = files
        self._manifests = manifests
        self._s3 = s3
        self._sfn = sfn
        self._events = events
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
        self._build(date_prefix, trigger, should_stop, report, _Gate(self._breaker))
        return report

    def flush(self, date_prefix: str, *, should_stop: Callable[[], bool] | None = None) -> RunReport:
        """The scheduled pass: recover dead builders' claims (b), start waiting manifests (a), build."""
        report = RunReport(date_prefix)
        gate = _Gate(self._breaker)
        self._recover_claims(date_prefix, report, gate)
        self._restart_pending(date_prefix, report, gate)
        self._build(date_prefix, REASON_FULL, should_stop, report, gate)
        return report

    def recover_claims(self, date_prefix: str) -> RunReport:
        """(b): complete manifests whose files were claimed but whose MANIFEST record never appeared."""
        report = RunReport(date_prefix)
        self._recover_claims(date_prefix, report, _Gate(self._breaker))
        return report

    def restart_pending(self, date_prefix: str) -> RunReport:
        """(a): start MANIFEST records still ``pending`` after ``start_retry_after``, breaker permitting."""
        report = RunReport(date_prefix)
        self._restart_pending(date_prefix, report, _Gate(self._breaker))
        return report

    def _build(
        self,
        date_prefix: str,
        trigger: str,
        should_stop: Callable[[], bool] | None,
        report: RunReport,
        gate: _Gate,
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
            elif max(_age(now, item.created_at) for item in batch.items) >= self.policy.orphan_age:
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

    def _recover_claims(self, date_prefix: str, report: RunReport, gate: _Gate) -> None:
        claimed: dict[str, list[TrackedItem]] = defaultdict(list)
        for item in self._files.list_by_status(date_prefix, t.MANIFESTED, limit=None):
            manifest_id = item.attributes.get(t.MANIFEST_ID)
            if isinstance(manifest_id, str) and manifest_id:
                claimed[manifest_id].append(item)
            else:
                logger.error("manifested file has no manifest_id", date_prefix=date_prefix, file_key=item.key)
        if not claimed:
            return
        recorded = self._manifests.get_many(date_prefix, [manifest_record_key(m) for m in claimed])
        now = self._clock()
        for manifest_id, items in sorted(claimed.items()):
            if manifest_record_key(manifest_id) in recorded:
                continue
            if min(_age(now, item.updated_at) for item in items) < self.policy.claim_recovery_after:
                continue  # its builder may still be at work
            try:
                manifest = Manifest.build(
                    manifest_id,
                    date_prefix,
                    manifest_id_time(manifest_id),
                    REASON_RECOVERED,
                    [_manifest_file(item) for item in items],
                )
            except (ContractError, KeyError) as exc:
                logger.error("claims cannot be recovered", manifest_id=manifest_id, error=str(exc))
                continue
            path = items[0].attributes.get(t.MANIFEST_PATH) or self._manifest_path(date_prefix, manifest_id)
            logger.warning(
                "recovering a manifest whose builder stopped after claiming",
                manifest_id=manifest_id,
                date_prefix=date_prefix,
                file_count=manifest.file_count,
            )
            if self._publish(manifest, str(path), gate, report):
                report.recovered.append(manifest_id)

    def _restart_pending(self, date_prefix: str, report: RunReport, gate: _Gate) -> None:
        now = self._clock()
        for record in self._manifests.list_by_status(date_prefix, t.MANIFEST_PENDING, limit=None):
            if not t.is_manifest_record(record.key):
                continue
            if _age(now, record.updated_at) < self.policy.start_retry_after:
                continue
            manifest_id = record.key[len(t.MANIFEST_KEY_PREFIX) :]
            try:
                execution_input = self._execution_input(
                    manifest_id,
                    date_prefix,
                    str(record.attributes[t.MANIFEST_PATH]),
                    int(record.attributes[t.FILE_COUNT]),
                    int(record.attributes[t.TOTAL_BYTES]),
                )
            except (KeyError, TypeError, ValueError) as exc:
                logger.error("MANIFEST record cannot be started", manifest_id=manifest_id, error=str(exc))
                continue
            if self._start(execution_input, gate, report):
                report.restarted.append(manifest_id)

    # -- one manifest ------------------------------------------------------------------------------

    def _build_one(
        self,
        date_prefix: str,
        batch: Batch,
        items: list[TrackedItem],
        reason: str,
        spare: list[TrackedItem],
        tried: set[str],
        gate: _Gate,
        report: RunReport,
    ) -> None:
        now = self._clock()
        manifest_id = new_manifest_id(now, self._id_token())
        path = self._manifest_path(date_prefix, manifest_id)
        claim = {t.MANIFEST_ID: manifest_id, t.MANIFEST_PATH: path}
        leader, *members = items
        tried.add(leader.key)
        if not self._claim(date_prefix, leader, claim):
            report.contended += 1
            return
        won = [leader]
        if members:
            tried.update(item.key for item in members)
            workers = min(self.policy.claim_workers, len(members))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                outcomes = list(pool.map(lambda item: self._try_claim(date_prefix, item, claim), members))
            errors = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
            if errors:
                # Some claims are of unknown outcome: recovery (b) completes this manifest from the table.
                raise ClaimUnresolved(
                    f"{len(errors)} claims for {manifest_id} unresolved; left to recovery: {errors[0]}"
                ) from errors[0]
            won += [item for item, outcome in zip(members, outcomes, strict=True) if outcome is True]
        planned = batch.items  # this pass may have topped up other manifests with some of them
        if reason != REASON_ORPHAN_FLUSH and len(won) < len(planned):
            lost = len(planned) - len(won)
            self._top_up(date_prefix, claim, won, spare, tried)
            fill = max(len(won) / len(planned), _bytes(won) / max(1, _bytes(planned)))
            logger.info(
                "batch partly claimed by another builder", manifest_id=manifest_id, lost=lost, fill=fill
            )
            if fill < self.policy.min_fill:
                self._release(date_prefix, manifest_id, won)
                report.released += 1
                return
        manifest = Manifest.build(manifest_id, date_prefix, now, reason, [_manifest_file(i) for i in won])
        self._publish(manifest, path, gate, report)

    def _top_up(
        self,
        date_prefix: str,
        claim: dict[str, str],
        won: list[TrackedItem],
        spare: list[TrackedItem],
        tried: set[str],
    ) -> None:
        """Claim spare files into a manifest that lost some of its own, up to the batch limits."""
        size = sum(_size(item) for item in won)
        for item in spare:
            if len(won) >= self.policy.max_files or size >= self.policy.max_bytes:
                return
            if item.key in tried or size + _size(item) > self.policy.max_bytes:
                continue
            tried.add(item.key)
            if self._claim(date_prefix, item, claim):
                won.append(item)
                size += _size(item)

    def _release(self, date_prefix: str, manifest_id: str, won: list[TrackedItem]) -> None:
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

    def _publish(self, manifest: Manifest, path: str, gate: _Gate, report: RunReport) -> bool:
        """Write the JSON, then the MANIFEST record, then start; False if the record already existed."""
        bucket, key = parse_s3_uri(path)
        self._s3.put_object(
            Bucket=bucket, Key=key, Body=manifest.to_json().encode(), ContentType="application/json"
        )
        created = self._manifests.create(
            TrackedItem(
                manifest.date_prefix,
                manifest_record_key(manifest.manifest_id),
                t.MANIFEST_PENDING,
                {
                    t.MANIFEST_PATH: path,
                    t.FILE_COUNT: manifest.file_count,
                    t.TOTAL_BYTES: manifest.total_bytes,
                    t.REASON: manifest.reason,
                },
            )
        )
        if not created:
            logger.info("MANIFEST record exists; its owner starts it", manifest_id=manifest.manifest_id)
            return False
        report.created.append(manifest.manifest_id)
        logger.info(
            "manifest created",
            manifest_id=manifest.manifest_id,
            date_prefix=manifest.date_prefix,
            file_count=manifest.file_count,
            total_bytes=manifest.total_bytes,
            reason=manifest.reason,
        )
        execution_input = self._execution_input(
            manifest.manifest_id, manifest.date_prefix, path, manifest.file_count, manifest.total_bytes
        )
        self._start(execution_input, gate, report)
        return True

    def _start(self, execution_input: ExecutionInput, gate: _Gate, report: RunReport) -> bool:
        manifest_id = execution_input.manifest_id
        if gate.open:
            report.held.append(manifest_id)
            return False
        try:
            execution_arn = self._send(execution_input)
        except Exception as exc:
            # The record stays pending: the scheduled pass (a) tries again after start_retry_after.
            logger.error(
                "manifest not started; the scheduled pass retries",
                manifest_id=manifest_id,
                error_type=type(exc).__name__,
                error=str(exc),
            )
            report.start_failed.append(manifest_id)
            return False
        report.started.append(manifest_id)
        logger.info("manifest started", manifest_id=manifest_id, mode=self.policy.start_mode)
        if execution_arn:
            try:
                self._manifests.transition(
                    execution_input.date_prefix,
                    execution_input.manifest_key,
                    from_statuses=t.MANIFEST_PENDING,
                    to_status=t.MANIFEST_PENDING,
                    attributes={t.EXECUTION_ARN: execution_arn},
                )
            except Exception as exc:  # only a note for operators
                logger.warning("execution_arn not recorded", manifest_id=manifest_id, error=str(exc))
        return True

    def _send(self, execution_input: ExecutionInput) -> str | None:
        if self.policy.start_mode == START_EVENTBRIDGE:
            response = self._events.put_events(
                Entries=[
                    {
                        "Source": EVENT_SOURCE,
                        "DetailType": MANIFEST_READY,
                        "Detail": execution_input.to_json(),
                        "EventBusName": self.policy.event_bus_name,
                    }
                ]
            )
            if response.get("FailedEntryCount"):
                entry = (response.get("Entries") or [{}])[0]
                error = f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}"
                raise TransientError(f"ManifestReady not accepted: {error}")
            return None
        try:
            response = self._sfn.start_execution(
                stateMachineArn=self.policy.state_machine_arn,
                name=execution_input.manifest_id,
                input=execution_input.to_json(),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                logger.info("execution already exists", manifest_id=execution_input.manifest_id)
                return self._execution_arn(execution_input.manifest_id)
            raise
        return str(response.get("executionArn") or "") or None

    def _execution_arn(self, manifest_id: str) -> str:
        return f"{self.policy.state_machine_arn.replace(':stateMachine:', ':execution:')}:{manifest_id}"

    def _execution_input(
        self, manifest_id: str, date_prefix: str, path: str, file_count: int, total_bytes: int
    ) -> ExecutionInput:
        return ExecutionInput(
            manifest_id=manifest_id,
            date_prefix=date_prefix,
            manifest_key=manifest_record_key(manifest_id),
            manifest_path=path,
            file_count=file_count,
            total_bytes=total_bytes,
            glue_job_name=self.policy.glue_job_for(total_bytes),
            output_path=output_path(self.policy.output_bucket, date_prefix),
        )

    # -- helpers -----------------------------------------------------------------------------------

    def _manifest_path(self, date_prefix: str, manifest_id: str) -> str:
        return s3_uri(self.policy.manifest_bucket, manifest_object_key(date_prefix, manifest_id))

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
