"""The worker with in-memory collaborators: uploads once, skips what is done, fails what cannot work."""

from __future__ import annotations

import contextlib
import hashlib
from datetime import UTC, datetime

import pytest
from sftp_worker.worker import DeadlineReached, UnknownAlert, Worker, payload_router

from alerts_to_sftp import tracking as t
from alerts_to_sftp.contract import AlertPointer, InvalidPointer
from alerts_to_sftp.staging import MemoryPayloadStore, StagedPayloadCorrupt, StagedPayloadMissing
from pipelines_shared.clock import ManualClock
from pipelines_shared.deadline import Deadline
from pipelines_shared.sftp import safe_remote_name
from pipelines_shared.tracking import TrackedItem
from pipelines_shared.tracking.memory import MemoryTrackingStore


class FakeServer:
    def __init__(self, fail_connect: Exception | None = None) -> None:
        self.files: dict[str, bytes] = {}
        self.dirs: set[str] = set()
        self.connects = 0
        self.fail_connect = fail_connect

    @contextlib.contextmanager
    def session(self):
        self.connects += 1
        if self.fail_connect:
            raise self.fail_connect
        yield self

    def ensure_directory(self, path):
        self.dirs.add(path)

    def upload_atomic(self, remote_dir, name, data):
        assert remote_dir in self.dirs
        self.files[f"{remote_dir}/{name}"] = data
        return f"{remote_dir}/{name}"


NO_DEADLINE = Deadline.never()
CLOCK = ManualClock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))


@pytest.fixture
def world():
    store, payloads, server = MemoryTrackingStore(), MemoryPayloadStore(), FakeServer()
    return store, payloads, server


def stage(store, payloads, job_id: str, alert_id: str, body: bytes, status: str = t.QUEUED) -> AlertPointer:
    staged = payloads.stage_many(job_id, [(alert_id, body)])[0]
    attrs = {"api_status": 1, "location": staged.location, "sha256": staged.sha256, "size": staged.size}
    store.create(TrackedItem(t.job_namespace(job_id), alert_id, status, attrs))
    return AlertPointer(job_id, alert_id, 1, staged.location, staged.sha256, staged.size)


def worker(world, *, deadline: Deadline = NO_DEADLINE) -> Worker:
    store, payloads, server = world
    return Worker(
        store=store,
        payloads=payload_router({"s3": payloads}),
        open_session=server.session,
        remote_dir="/upload/",
        deadline=deadline,
        clock=CLOCK,
    )


def test_uploads_and_marks_completed_over_one_connection(world):
    store, payloads, server = world
    pointers = [stage(store, payloads, "job-1", f"A-{i}", b'{"i": %d}' % i) for i in range(5)]
    with worker(world) as w:
        paths = [w.process(p.to_body()) for p in pointers]
    assert server.connects == 1
    assert paths == [f"/upload/job-1/{safe_remote_name(f'A-{i}')}" for i in range(5)]
    assert server.files[paths[3]] == b'{"i": 3}'
    item = store.get(t.job_namespace("job-1"), "A-3")
    assert item.status == t.COMPLETED
    assert item.attributes["remote_path"] == paths[3]
    assert item.attributes["uploaded_sha256"] == hashlib.sha256(b'{"i": 3}').hexdigest()
    assert item.attributes["completed_at"] == CLOCK.now.isoformat()  # the injected clock, not today's


def test_a_duplicate_delivery_changes_nothing(world):
    store, payloads, server = world
    pointer = stage(store, payloads, "job-1", "A-1", b"{}")
    with worker(world) as w:
        w.process(pointer.to_body())
    version = store.get(t.job_namespace("job-1"), "A-1").version
    server.files.clear()
    with worker(world) as w:
        w.process(pointer.to_body())
    assert server.files == {}  # not uploaded again
    assert server.connects == 1  # not even connected: nothing to upload
    assert store.get(t.job_namespace("job-1"), "A-1").version == version


def test_hostile_alert_ids_stay_inside_the_job_directory(world):
    store, payloads, _ = world
    ids = ["../../etc/passwd", "a/b", "x\ny", ".hidden", "tab\there"]
    with worker(world) as w:
        paths = [w.process(stage(store, payloads, "job-1", i, b"{}").to_body()) for i in ids]
    assert len(set(paths)) == len(ids)
    for path in paths:
        directory, _, name = path.rpartition("/")
        assert directory == "/upload/job-1"
        assert name
        assert not name.startswith(".")
        assert ".." not in name
        assert all(c.isprintable() for c in name)


def test_poison_pointers_fail_permanently(world):
    store, payloads, _ = world
    good = stage(store, payloads, "job-1", "A-1", b"{}")
    untracked = AlertPointer("job-1", "nobody", 1, good.location, good.sha256, 2)
    missing = AlertPointer("job-1", "A-2", 1, "s3://memory/job-1/none.json", good.sha256, 2)
    store.create(TrackedItem(t.job_namespace("job-1"), "A-2", t.QUEUED, {"location": missing.location}))
    corrupt = stage(store, payloads, "job-1", "A-3", b"{}")
    payloads.objects[corrupt.location] = b"{tampered}"
    with worker(world) as w:
        with pytest.raises(InvalidPointer):
            w.process("{not json")
        with pytest.raises(UnknownAlert):
            w.process(untracked.to_body())
        with pytest.raises(StagedPayloadMissing):
            w.process(missing.to_body())
        with pytest.raises(StagedPayloadCorrupt):
            w.process(corrupt.to_body())
        assert w.process(good.to_body()).endswith(safe_remote_name("A-1"))


def test_an_unreachable_server_fails_every_record_after_one_attempt(world):
    store, payloads, _ = world
    server = FakeServer(fail_connect=ConnectionRefusedError("refused"))
    pointers = [stage(store, payloads, "job-1", f"A-{i}", b"{}") for i in range(3)]
    w = Worker(
        store=store,
        payloads=payload_router({"s3": payloads}),
        open_session=server.session,
        remote_dir="/upload",
        deadline=NO_DEADLINE,
    )
    for pointer in pointers:
        with pytest.raises(ConnectionRefusedError):
            w.process(pointer.to_body())
    assert server.connects == 1
    assert store.count_by_status(t.job_namespace("job-1")) == {t.QUEUED: 3}


def test_no_upload_starts_past_the_deadline(world):
    store, payloads, server = world
    pointer = stage(store, payloads, "job-1", "A-1", b"{}")
    reached = Deadline(100.0, monotonic=lambda: 100.0)
    with worker(world, deadline=reached) as w, pytest.raises(DeadlineReached):
        w.process(pointer.to_body())
    assert server.files == {}
