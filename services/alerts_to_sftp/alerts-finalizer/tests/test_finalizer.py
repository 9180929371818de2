"""The finalizer with in-memory collaborators: exactly-once finalization, reports of what is stuck."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from alerts_finalizer.finalizer import Finalizer

from alerts_to_sftp import tracking as t
from pipelines_shared.clock import ManualClock
from pipelines_shared.tracking import TrackedItem
from pipelines_shared.tracking.memory import MemoryTrackingStore

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.values: list[dict] = []
        self.lock = threading.Lock()

    def job_finalized(self, job_id, alert_count, finalized_at):
        with self.lock:
            self.events.append(job_id)

    def metrics(self, values):
        self.values.append(values)


class Dlq:
    def __init__(self, messages=()):
        self.messages = list(messages)

    def peek(self):
        return list(self.messages)

    def depth(self):
        return len(self.messages) + 5  # more than a peek reads


def job(store, job_id: str, states: list[str], job_state: str = t.JOB_OPEN) -> None:
    store.create(TrackedItem(t.JOBS, job_id, job_state, {"alert_count": len(states)}))
    for i, state in enumerate(states):
        store.create(TrackedItem(t.job_namespace(job_id), f"A-{i}", state, {}))


def stores() -> tuple[MemoryTrackingStore, ManualClock]:
    """A store on a clock of the test's own: items are stamped at NOW, whatever day the suite runs."""
    clock = ManualClock(NOW)
    return MemoryTrackingStore(clock=clock), clock


def finalizer(store, recorder, dlq=None, now=NOW) -> Finalizer:
    return Finalizer(
        store=store,
        announcer=recorder,
        dead_letters=dlq or Dlq(),
        stuck_after=timedelta(hours=1),
        clock=lambda: now,
    )


def test_a_complete_job_is_finalized_once_and_announced():
    (store, _), recorder = stores(), Recorder()
    job(store, "done", [t.COMPLETED] * 3)
    job(store, "busy", [t.COMPLETED, t.QUEUED])
    report = finalizer(store, recorder).run()
    assert report.finalized == ["done"]
    assert report.waiting == {"busy": {"completed": 1, "total": 2}}
    assert recorder.events == ["done"]
    final = store.get(t.JOBS, "done")
    assert final.status == t.JOB_FINALIZED
    assert final.attributes["finalized_at"] == NOW.isoformat()
    assert finalizer(store, recorder).run().finalized == []  # a second pass changes nothing
    assert recorder.events == ["done"]
    assert recorder.values[0]["JobsFinalized"] == 1


def test_concurrent_finalizers_finalize_each_job_exactly_once():
    (store, _), recorder = stores(), Recorder()
    for n in range(20):
        job(store, f"job-{n}", [t.COMPLETED] * 2)
    threads = [threading.Thread(target=finalizer(store, recorder).run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(recorder.events) == sorted(f"job-{n}" for n in range(20))


def test_a_job_with_an_alert_count_mismatch_is_not_finalized():
    (store, _), recorder = stores(), Recorder()
    store.create(TrackedItem(t.JOBS, "j", t.JOB_OPEN, {"alert_count": 3}))
    store.create(TrackedItem(t.job_namespace("j"), "A-0", t.COMPLETED, {}))
    assert finalizer(store, recorder).run().finalized == []


def test_stuck_alerts_staging_jobs_and_dead_letters_are_reported():
    (store, clock), recorder = stores(), Recorder()
    job(store, "slow", [t.COMPLETED, t.QUEUED, t.QUEUED])
    job(store, "crashed", [], job_state=t.JOB_STAGING)
    dead = [{"message_id": "m1", "job_id": "slow", "alert_id": "A-2"}]
    report = finalizer(store, recorder, Dlq(dead), now=clock.advance(hours=1, seconds=1)).run()
    assert report.stuck_alerts == {"slow": ["A-1", "A-2"]}
    assert report.stuck_staging == ["crashed"]
    assert report.dead_lettered == dead
    assert report.dead_letter_depth == 6
    assert recorder.values[0]["DeadLetteredAlerts"] == 6
    assert recorder.values[0]["StuckAlerts"] == 2


def test_nothing_is_stuck_before_the_threshold():
    (store, clock), recorder = stores(), Recorder()
    job(store, "fresh", [t.QUEUED])
    report = finalizer(store, recorder, now=clock.advance(hours=1)).run()
    assert report.stuck_alerts == {}
