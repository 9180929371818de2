"""One scheduled pass over the open jobs.

A job is finalized when every one of its alerts is completed; the open -> finalized transition is a
compare-and-set, so concurrent finalizers finalize (and announce) each job exactly once. Alerts that
have waited longer than a threshold, jobs whose staging never finished, and pointers resting in the
DLQ are reported (log, metrics, and the returned report).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from alerts_to_sftp import tracking as t
from pipelines_shared.clock import Clock, utc_now
from pipelines_shared.log import get_logger
from pipelines_shared.tracking import TrackingStore

logger = get_logger(__name__)


class Announcer(Protocol):
    def job_finalized(self, job_id: str, alert_count: int, finalized_at: str) -> None: ...

    def metrics(self, values: dict[str, float]) -> None: ...


class DeadLetters(Protocol):
    def peek(self) -> list[dict[str, Any]]:
        """The messages resting in the DLQ (left there), as parsed bodies plus message ids."""
        ...

    def depth(self) -> int:
        """How many messages the DLQ holds (all of them, also those beyond what peek reads)."""
        ...


@dataclass
class Report:
    finalized: list[str] = field(default_factory=list)
    waiting: dict[str, dict[str, int]] = field(default_factory=dict)
    stuck_alerts: dict[str, list[str]] = field(default_factory=dict)
    stuck_staging: list[str] = field(default_factory=list)
    dead_lettered: list[dict[str, Any]] = field(default_factory=list)
    dead_letter_depth: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "finalized": self.finalized,
            "waiting": self.waiting,
            "stuck_alerts": self.stuck_alerts,
            "stuck_staging": self.stuck_staging,
            "dead_lettered": self.dead_lettered,
            "dead_letter_depth": self.dead_letter_depth,
        }


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Finalizer:
    def __init__(
        self,
        *,
        store: TrackingStore,
        announcer: Announcer,
        dead_letters: DeadLetters,
        stuck_after: timedelta,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._announcer = announcer
        self._dead_letters = dead_letters
        self._stuck_after = stuck_after
        self._clock = clock

    def run(self) -> Report:
        report = Report()
        now = self._clock()
        for job in self._store.list_by_status(t.JOBS, t.JOB_OPEN, limit=None):
            self._check_job(job.key, int(job.attributes.get("alert_count", 0)), now, report)
        for job in self._store.list_by_status(t.JOBS, t.JOB_STAGING, limit=None):
            if job.updated_at is not None and now - _utc(job.updated_at) > self._stuck_after:
                report.stuck_staging.append(job.key)
        report.dead_lettered = self._dead_letters.peek()
        report.dead_letter_depth = max(self._dead_letters.depth(), len(report.dead_lettered))
        self._announcer.metrics(
            {
                "JobsFinalized": len(report.finalized),
                "JobsOpen": len(report.waiting),
                "StuckAlerts": sum(len(ids) for ids in report.stuck_alerts.values()),
                "JobsStuckStaging": len(report.stuck_staging),
                "DeadLetteredAlerts": report.dead_letter_depth,
            }
        )
        if report.stuck_alerts or report.stuck_staging or report.dead_lettered:
            logger.warning("alerts need attention", **report.as_dict())
        logger.info("finalizer pass done", finalized=report.finalized, waiting=len(report.waiting))
        return report

    def _check_job(self, job_id: str, alert_count: int, now: datetime, report: Report) -> None:
        namespace = t.job_namespace(job_id)
        counts = self._store.count_by_status(namespace)
        completed = counts.get(t.COMPLETED, 0)
        if completed == alert_count == sum(counts.values()):
            finalized_at = now.isoformat()
            if self._store.transition(
                t.JOBS,
                job_id,
                from_statuses=[t.JOB_OPEN],
                to_status=t.JOB_FINALIZED,
                attributes={"finalized_at": finalized_at},
            ):
                # Only the finalizer whose compare-and-set won announces the job.
                self._announcer.job_finalized(job_id, alert_count, finalized_at)
                report.finalized.append(job_id)
                logger.info("job finalized", job_id=job_id, alert_count=alert_count)
            return
        report.waiting[job_id] = {"completed": completed, "total": alert_count}
        stuck = [
            item.key
            for state in (t.STAGED, t.QUEUED)
            for item in self._store.list_by_status(namespace, state, limit=None)
            if item.updated_at is not None and now - _utc(item.updated_at) > self._stuck_after
        ]
        if stuck:
            report.stuck_alerts[job_id] = sorted(stuck)


class AwsAnnouncer:
    """EventBridge event per finalized job, CloudWatch metrics per pass."""

    def __init__(self, events: Any, cloudwatch: Any, *, bus: str, namespace: str) -> None:
        self._events = events
        self._cloudwatch = cloudwatch
        self._bus = bus
        self._namespace = namespace

    def job_finalized(self, job_id: str, alert_count: int, finalized_at: str) -> None:
        detail = {"job_id": job_id, "alert_count": alert_count, "finalized_at": finalized_at}
        response = self._events.put_events(
            Entries=[
                {
                    "Source": "lambda-pipelines.alerts",
                    "DetailType": "AlertJobFinalized",
                    "Detail": json.dumps(detail),
                    "EventBusName": self._bus,
                }
            ]
        )
        if response.get("FailedEntryCount"):
            logger.error("finalized event not delivered", job_id=job_id, entries=response.get("Entries"))

    def metrics(self, values: dict[str, float]) -> None:
        self._cloudwatch.put_metric_data(
            Namespace=self._namespace,
            MetricData=[
                {"MetricName": name, "Value": float(value), "Unit": "Count"} for name, value in values.items()
            ],
        )


class SqsDeadLetters:
    """Reads the DLQ without consuming it: messages are hidden while counted, then made visible again."""

    def __init__(self, sqs: Any, dlq_url: str, *, max_messages: int = 1000) -> None:
        self._sqs = sqs
        self._url = dlq_url
        self._max = max_messages

    def depth(self) -> int:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self._url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def peek(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        handles: list[str] = []
        while len(found) < self._max:
            messages = self._sqs.receive_message(
                QueueUrl=self._url, MaxNumberOfMessages=10, VisibilityTimeout=60, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                handles.append(message["ReceiptHandle"])
                try:
                    body = json.loads(message["Body"])
                except json.JSONDecodeError:
                    body = {}
                found.append(
                    {
                        "message_id": message["MessageId"],
                        "job_id": body.get("job_id") if isinstance(body, dict) else None,
                        "alert_id": body.get("alert_id") if isinstance(body, dict) else None,
                    }
                )
        for start in range(0, len(handles), 10):
            self._sqs.change_message_visibility_batch(
                QueueUrl=self._url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                    for i, handle in enumerate(handles[start : start + 10])
                ],
            )
        return found
