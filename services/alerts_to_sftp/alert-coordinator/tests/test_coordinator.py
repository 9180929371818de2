"""The coordinator with in-memory collaborators: every alert staged, tracked and queued once, however
often the job is triggered, and a run that died half-way is resumed."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from alert_coordinator.coordinator import Coordinator, InvalidAlert, JobBusy
from alert_coordinator.request import JobRequest

from alerts_to_sftp import tracking as t
from alerts_to_sftp.staging import MemoryPayloadStore
from pipelines_shared.tracking.memory import MemoryTrackingStore


def alerts_for(status: int, count: int) -> list[dict]:
    return [
        {"alert_id": f"ALR-{status:02d}-{i:04d}", "status": status, "data": {"i": i}} for i in range(count)
    ]


class FakeApi:
    def __init__(self, per_status: int = 25, page_size: int = 10, fail_status: int | None = None) -> None:
        self.data = {status: alerts_for(status, per_status) for status in range(1, 21)}
        self.page_size = page_size
        self.fail_status = fail_status

    def pages(self, status: int):
        alerts = self.data[status]
        for start in range(0, len(alerts), self.page_size):
            if status == self.fail_status and start > 0:
                raise ConnectionError("API went away")
            yield alerts[start : start + self.page_size]


class FakeQueue:
    def __init__(self) -> None:
        self.sent: list = []
        self.lock = threading.Lock()
        self.fail_next = False

    def send(self, pointers, correlation_id):
        with self.lock:
            if self.fail_next:
                self.fail_next = False
                raise RuntimeError("SQS unavailable")
            self.sent.extend(pointers)


class FakeLock:
    def __init__(self) -> None:
        self.held: set[str] = set()

    @contextlib.contextmanager
    def hold(self, job_id):
        if job_id in self.held:
            yield False
            return
        self.held.add(job_id)
        try:
            yield True
        finally:
            self.held.discard(job_id)


@pytest.fixture
def parts():
    return MemoryTrackingStore(), MemoryPayloadStore(), FakeQueue(), FakeLock()


def coordinator(parts, api: FakeApi) -> Coordinator:
    store, payloads, queue, lock = parts
    return Coordinator(store=store, payloads=payloads, queue=queue, pages=api.pages, lock=lock, concurrency=4)


def test_a_job_stages_tracks_and_queues_every_alert_once(parts):
    store, payloads, queue, _ = parts
    api = FakeApi(per_status=25)
    summary = coordinator(parts, api).run(JobRequest("job-1"), "corr-1")
    assert summary.state == t.JOB_OPEN
    assert summary.alert_count == 500
    assert summary.as_dict()["totals"] == {
        "fetched": 500, "staged": 500, "queued": 500, "already_queued": 0, "already_completed": 0
    }  # fmt: skip
    assert sorted(p.alert_id for p in queue.sent) == sorted(
        a["alert_id"] for s in api.data.values() for a in s
    )
    assert store.count_by_status(t.job_namespace("job-1")) == {t.QUEUED: 500}
    job = store.get(t.JOBS, "job-1")
    assert (job.status, job.attributes["alert_count"]) == (t.JOB_OPEN, 500)
    # Each pointer names staged bytes that are the alert's JSON, with their checksum and size.
    pointer = next(p for p in queue.sent if p.alert_id == "ALR-07-0003")
    body = payloads.fetch(pointer.location)
    assert json.loads(body) == api.data[7][3]
    assert (pointer.sha256, pointer.size, pointer.status) == (hashlib.sha256(body).hexdigest(), len(body), 7)


def test_retriggering_changes_nothing(parts):
    _, payloads, queue, _ = parts
    api = FakeApi(per_status=5)
    coordinator(parts, api).run(JobRequest("job-1"), "c")
    objects, sent = dict(payloads.objects), len(queue.sent)
    again = coordinator(parts, api).run(JobRequest("job-1"), "c")
    assert len(queue.sent) == sent
    assert payloads.objects == objects
    assert again.as_dict()["totals"]["already_queued"] == 100
    assert again.as_dict()["totals"]["staged"] == 0


def test_new_alerts_of_a_retriggered_job_are_added(parts):
    _, _, queue, _ = parts
    api = FakeApi(per_status=5)
    coordinator(parts, api).run(JobRequest("job-1"), "c")
    api.data[3].append({"alert_id": "ALR-03-new", "status": 3})
    summary = coordinator(parts, api).run(JobRequest("job-1"), "c")
    assert [p.alert_id for p in queue.sent[100:]] == ["ALR-03-new"]
    assert summary.alert_count == 101


def test_a_failed_status_leaves_the_job_staging_and_a_retrigger_finishes_it(parts):
    store, _, queue, _ = parts
    failing = FakeApi(per_status=25, fail_status=4)
    first = coordinator(parts, failing).run(JobRequest("job-1"), "c")
    assert first.state == t.JOB_STAGING
    assert "ConnectionError" in first.errors[4]
    assert store.get(t.JOBS, "job-1").status == t.JOB_STAGING
    second = coordinator(parts, FakeApi(per_status=25)).run(JobRequest("job-1"), "c")
    assert second.state == t.JOB_OPEN
    assert sorted(p.alert_id for p in queue.sent) == sorted({p.alert_id for p in queue.sent})  # none twice
    assert len(queue.sent) == 500


def test_alerts_staged_but_never_queued_are_queued_by_the_next_run(parts):
    store, payloads, queue, _ = parts
    api = FakeApi(per_status=3)
    queue.fail_next = True  # the first send dies: its page stays "staged"
    first = coordinator(parts, api).run(JobRequest("job-1", statuses=(1,)), "c")
    assert first.errors
    assert store.count_by_status(t.job_namespace("job-1")) == {t.STAGED: 3}
    second = coordinator(parts, api).run(JobRequest("job-1", statuses=(1,)), "c")
    assert second.state == t.JOB_OPEN
    assert sorted(p.alert_id for p in queue.sent) == [a["alert_id"] for a in api.data[1]]
    assert store.count_by_status(t.job_namespace("job-1")) == {t.QUEUED: 3}
    assert len(payloads.objects) == 3


def test_completed_alerts_are_not_requeued(parts):
    store, _, queue, _ = parts
    api = FakeApi(per_status=2)
    coordinator(parts, api).run(JobRequest("job-1", statuses=(1,)), "c")
    store.transition(t.job_namespace("job-1"), "ALR-01-0000", from_statuses=[t.QUEUED], to_status=t.COMPLETED)
    summary = coordinator(parts, api).run(JobRequest("job-1", statuses=(1,)), "c")
    assert summary.statuses[1].already_completed == 1
    assert len(queue.sent) == 2


def test_a_finalized_job_is_not_touched(parts):
    store, _, queue, _ = parts
    api = FakeApi(per_status=1)
    coordinator(parts, api).run(JobRequest("job-1"), "c")
    store.transition(t.JOBS, "job-1", from_statuses=[t.JOB_OPEN], to_status=t.JOB_FINALIZED)
    api.data[1].append({"alert_id": "late"})
    summary = coordinator(parts, api).run(JobRequest("job-1"), "c")
    assert summary.state == t.JOB_FINALIZED
    assert len(queue.sent) == 20


def test_a_job_being_staged_elsewhere_is_refused(parts):
    _, _, _, lock = parts
    lock.held.add("job-1")
    with pytest.raises(JobBusy):
        coordinator(parts, FakeApi(per_status=1)).run(JobRequest("job-1"), "c")


def test_an_alert_seen_twice_is_kept_once(parts):
    _, _, queue, _ = parts
    api = FakeApi(per_status=2)
    api.data[2].append(dict(api.data[1][0]))  # moved from status 1 to 2 while we paged
    coordinator(parts, api).run(JobRequest("job-1"), "c")
    assert len(queue.sent) == 40


def test_an_alert_without_id_fails_its_status(parts):
    api = FakeApi(per_status=2)
    api.data[5].append({"no": "id"})
    summary = coordinator(parts, api).run(JobRequest("job-1"), "c")
    assert summary.errors[5].startswith(InvalidAlert.__name__)
    assert summary.state == t.JOB_STAGING


def test_status_reads_the_tracker_without_calling_the_api(parts):
    api = FakeApi(per_status=2)
    coordinator(parts, api).run(JobRequest("job-1", statuses=(1, 2)), "c")
    api.data.clear()  # the API is gone: status must not need it
    status = coordinator(parts, api).status("job-1")
    assert status["state"] == t.JOB_OPEN
    assert status["alert_count"] == 4
    assert status["alerts"] == {t.QUEUED: 4}
    assert coordinator(parts, api).status("nope") is None


def test_recent_lists_the_newest_jobs_first_by_state():
    api = FakeApi(per_status=1)
    ticks = itertools.count()  # every store write one second after the one before
    store = MemoryTrackingStore(
        clock=lambda: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=next(ticks))
    )
    parts = (store, MemoryPayloadStore(), FakeQueue(), FakeLock())
    for job_id in ("job-a", "job-b", "job-c"):
        coordinator(parts, api).run(JobRequest(job_id, statuses=(1,)), "c")
    store.transition(t.JOBS, "job-a", from_statuses=t.JOB_OPEN, to_status=t.JOB_FINALIZED)
    listed = coordinator(parts, api).recent(None, 50)
    assert [(job["job_id"], job["state"]) for job in listed] == [
        ("job-c", t.JOB_OPEN), ("job-b", t.JOB_OPEN), ("job-a", t.JOB_FINALIZED)
    ]  # fmt: skip
    assert all(job["alert_count"] == 1 for job in listed)
    assert [job["job_id"] for job in coordinator(parts, api).recent(t.JOB_OPEN, 1)] == ["job-c"]
    assert coordinator(parts, api).recent(t.JOB_STAGING, 50) == []
