"""One job: fetch every requested status, stage each new alert, track it, queue a pointer to it.

Safe to re-trigger at any point: an alert already tracked is never staged again; an alert tracked as
``staged`` (its pointer not yet sent, e.g. the last run died) gets its pointer now; ``queued`` and
``completed`` alerts are left alone. A job lock keeps two runs of one job from interleaving.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from alerts_to_sftp import tracking as t
from alerts_to_sftp.contract import MAX_ALERT_ID_LENGTH, AlertPointer
from alerts_to_sftp.staging import PayloadStore
from pipelines_shared.log import get_logger
from pipelines_shared.retry import PermanentError
from pipelines_shared.tracking import TrackedItem, TrackingStore

from .request import JobBusy, JobRequest

logger = get_logger(__name__)

Pages = Callable[[int], Iterator[list[dict[str, Any]]]]
"""status -> the API's pages of alerts for it."""


class InvalidAlert(PermanentError):
    """The API returned an alert we cannot track (no id, or an id too long)."""


class PointerQueue(Protocol):
    def send(self, pointers: list[AlertPointer], correlation_id: str) -> None:
        """Send every pointer or raise; a pointer may be sent more than once, never zero times."""
        ...


class JobLock(Protocol):
    def hold(self, job_id: str) -> contextlib.AbstractContextManager[bool]:
        """Try to take the job's lock without waiting; the context's value says whether it was taken."""
        ...


@dataclass
class StatusSummary:
    fetched: int = 0
    staged: int = 0
    queued: int = 0
    already_queued: int = 0
    already_completed: int = 0


@dataclass
class JobSummary:
    job_id: str
    state: str
    statuses: dict[int, StatusSummary] = field(default_factory=dict)
    errors: dict[int, str] = field(default_factory=dict)
    alert_count: int | None = None

    def as_dict(self) -> dict[str, Any]:
        totals = StatusSummary()
        for summary in self.statuses.values():
            for name in vars(totals):
                setattr(totals, name, getattr(totals, name) + getattr(summary, name))
        return {
            "job_id": self.job_id,
            "state": self.state,
            "alert_count": self.alert_count,
            "totals": vars(totals),
            "statuses": {str(status): vars(summary) for status, summary in sorted(self.statuses.items())},
            "errors": {str(status): error for status, error in sorted(self.errors.items())},
        }


class Coordinator:
    def __init__(
        self,
        *,
        store: TrackingStore,
        payloads: PayloadStore,
        queue: PointerQueue,
        pages: Pages,
        lock: JobLock,
        concurrency: int = 8,
    ) -> None:
        self._store = store
        self._payloads = payloads
        self._queue = queue
        self._pages = pages
        self._lock = lock
        self._concurrency = concurrency
        self._ids_lock = threading.Lock()

    def status(self, job_id: str) -> dict[str, Any] | None:
        """The job's state and its alerts' counts by state (a tracker read: the API is not called)."""
        job = self._store.get(t.JOBS, job_id)
        if job is None:
            return None
        return {
            "job_id": job_id,
            "state": job.status,
            "alert_count": job.attributes.get("alert_count"),
            "alerts": self._store.count_by_status(t.job_namespace(job_id)),
            "finalized_at": job.attributes.get("finalized_at"),
        }

    def recent(self, state: str | None, limit: int) -> list[dict[str, Any]]:
        """The ``limit`` most recently created jobs of ``state`` (or of every state), newest first."""
        states = (state,) if state else (t.JOB_STAGING, t.JOB_OPEN, t.JOB_FINALIZED)
        found = [job for one in states for job in self._store.list_by_status(t.JOBS, one, limit=None)]
        epoch = datetime.min.replace(tzinfo=UTC)
        found.sort(key=lambda job: (job.created_at or epoch, job.key), reverse=True)
        return [
            {
                "job_id": job.key,
                "state": job.status,
                "alert_count": job.attributes.get("alert_count"),
                "created_at": job.created_at.isoformat() if job.created_at else None,
                "updated_at": job.updated_at.isoformat() if job.updated_at else None,
                "finalized_at": job.attributes.get("finalized_at"),
            }
            for job in found[:limit]
        ]

    def run(self, request: JobRequest, correlation_id: str) -> JobSummary:
        job = self._store.get(t.JOBS, request.job_id)
        if job is not None and job.status == t.JOB_FINALIZED:
            return JobSummary(request.job_id, t.JOB_FINALIZED, alert_count=job.attributes.get("alert_count"))
        with self._lock.hold(request.job_id) as held:
            if not held:
                raise JobBusy(f"job {request.job_id} is being staged by another run")
            return self._run_locked(request, correlation_id)

    def _run_locked(self, request: JobRequest, correlation_id: str) -> JobSummary:
        job_id = request.job_id
        attributes = {"statuses": list(request.statuses), "staging": self._payloads.kind}
        if not self._store.create(TrackedItem(t.JOBS, job_id, t.JOB_STAGING, attributes)):
            job = self._store.get(t.JOBS, job_id)
            if job is not None and job.status == t.JOB_FINALIZED:  # finalized while we waited for the lock
                return JobSummary(job_id, t.JOB_FINALIZED, alert_count=job.attributes.get("alert_count"))
            self._store.transition(t.JOBS, job_id, from_statuses=[t.JOB_OPEN], to_status=t.JOB_STAGING)
        summary = JobSummary(job_id, t.JOB_STAGING)
        seen: set[str] = set()

        def one_status(status: int) -> None:
            counts = summary.statuses.setdefault(status, StatusSummary())
            try:
                for page in self._pages(status):
                    self._process_page(job_id, status, page, counts, seen, correlation_id)
            except Exception as error:
                logger.exception("status failed", job_id=job_id, status=status)
                summary.errors[status] = f"{type(error).__name__}: {error}"

        with ThreadPoolExecutor(max_workers=min(self._concurrency, len(request.statuses))) as pool:
            list(pool.map(one_status, request.statuses))

        if summary.errors:
            logger.warning(
                "job left in staging: re-trigger it to resume", job_id=job_id, errors=summary.errors
            )
            return summary
        counts = self._store.count_by_status(t.job_namespace(job_id))
        summary.alert_count = sum(counts.values())
        self._store.transition(
            t.JOBS,
            job_id,
            from_statuses=[t.JOB_STAGING],
            to_status=t.JOB_OPEN,
            attributes={"alert_count": summary.alert_count},
        )
        summary.state = t.JOB_OPEN
        logger.info("job staged", job_id=job_id, alert_count=summary.alert_count, by_state=counts)
        return summary

    def _process_page(
        self,
        job_id: str,
        status: int,
        alerts: list[dict[str, Any]],
        counts: StatusSummary,
        seen: set[str],
        correlation_id: str,
    ) -> None:
        namespace = t.job_namespace(job_id)
        bodies = dict(self._validated(alerts, seen))
        counts.fetched += len(bodies)
        existing = self._store.get_many(namespace, bodies)
        new = [(alert_id, body) for alert_id, body in bodies.items() if alert_id not in existing]
        to_send: list[AlertPointer] = []
        if new:
            staged = self._payloads.stage_many(job_id, new)
            created = self._store.create_many(
                TrackedItem(
                    namespace,
                    item.alert_id,
                    t.STAGED,
                    {
                        "api_status": status,
                        "location": item.location,
                        "sha256": item.sha256,
                        "size": item.size,
                    },
                )
                for item in staged
            )
            counts.staged += len(created)
            to_send += [
                AlertPointer(job_id, s.alert_id, status, s.location, s.sha256, s.size) for s in staged
            ]
        for alert_id, item in existing.items():
            if item.status == t.STAGED:  # tracked by an earlier run that died before queueing it
                attrs = item.attributes
                to_send.append(
                    AlertPointer(job_id, alert_id, status, attrs["location"], attrs["sha256"], attrs["size"])
                )
            elif item.status == t.COMPLETED:
                counts.already_completed += 1
            else:
                counts.already_queued += 1
        if to_send:
            self._queue.send(to_send, correlation_id)
            for pointer in to_send:
                self._store.transition(
                    namespace, pointer.alert_id, from_statuses=[t.STAGED], to_status=t.QUEUED
                )
            counts.queued += len(to_send)

    def _validated(self, alerts: Iterable[dict[str, Any]], seen: set[str]) -> Iterator[tuple[str, bytes]]:
        for alert in alerts:
            alert_id = alert.get("alert_id") if isinstance(alert, dict) else None
            if not isinstance(alert_id, str) or not alert_id or len(alert_id) > MAX_ALERT_ID_LENGTH:
                raise InvalidAlert(f"alert without a usable alert_id (1-{MAX_ALERT_ID_LENGTH} characters)")
            with self._ids_lock:
                duplicate = alert_id in seen
                seen.add(alert_id)
            if duplicate:
                # An alert that changed status while we paged shows up twice: the first one wins.
                logger.warning("alert returned twice, kept once", alert_id=alert_id)
                continue
            # The file written to SFTP: the alert object as compact UTF-8 JSON, keys in API order.
            yield alert_id, json.dumps(alert, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
