"""The claim-and-manifest core: batches, orphans, the breaker, crash recovery, start modes, races.

Stores are in memory (two of them: in the real table files and MANIFEST records are told apart by
their sharded statuses) or moto DynamoDB (one table, as deployed); manifests go to moto S3.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from moto import mock_aws

from ndjson_fakes import (
    BUS,
    DAY,
    MANIFEST_BUCKET,
    SPARK_JOB,
    STATE_MACHINE_ARN,
    FakeBreaker,
    FakeClock,
    FakeEvents,
    FakeSfn,
    OneCallAtATime,
    client_error,
    make_core,
    pending_item,
    policy,
    track_pending,
)
from ndjson_to_parquet import contract as c
from ndjson_to_parquet import tracking as t
from ndjson_to_parquet.claims import ClaimUnresolved, plan_batches
from ndjson_to_parquet.manifests import lookback_dates
from pipelines_shared import aws
from pipelines_shared.tracking import TrackedItem
from pipelines_shared.tracking.dynamodb import create_table
from pipelines_shared.tracking.memory import MemoryTrackingStore


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        aws.reset_clients()
        client = aws.client("s3")
        client.create_bucket(Bucket=MANIFEST_BUCKET)
        yield OneCallAtATime(client)
    aws.reset_clients()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def files(clock: FakeClock) -> MemoryTrackingStore:
    return MemoryTrackingStore(clock=clock)


@pytest.fixture
def manifests(clock: FakeClock) -> MemoryTrackingStore:
    return MemoryTrackingStore(clock=clock)


def read_manifest(s3: Any, path: str) -> c.Manifest:
    bucket, key = c.parse_s3_uri(path)
    return c.Manifest.from_json(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def manifest_record(manifests: Any, manifest_id: str, day: str = DAY) -> TrackedItem:
    record = manifests.get(day, c.manifest_record_key(manifest_id))
    assert record is not None
    return record


def all_manifests(s3: Any, day: str = DAY) -> list[c.Manifest]:
    listed = s3.list_objects_v2(Bucket=MANIFEST_BUCKET, Prefix=f"manifests/{day}/").get("Contents", [])
    return [read_manifest(s3, f"s3://{MANIFEST_BUCKET}/{item['Key']}") for item in listed]


# -- batches ---------------------------------------------------------------------------------------


def test_full_batches_by_count_are_claimed_recorded_and_started(s3, files, manifests, clock):
    keys = track_pending(files, DAY, 25)
    sfn = FakeSfn()
    core = make_core(files, manifests, s3, sfn=sfn, clock=clock, max_files=10, max_bytes=10**9)

    report = core.build(DAY)

    assert len(report.created) == 2
    assert report.started == report.created
    assert report.waiting == 5  # a partial batch waits for more files or the orphan age
    assert sfn.names == report.created  # execution name = manifest id
    seen: list[str] = []
    for manifest_id in report.created:
        record = manifest_record(manifests, manifest_id)
        assert record.status == t.MANIFEST_PENDING
        manifest = read_manifest(s3, record.attributes[t.MANIFEST_PATH])
        assert manifest.reason == c.REASON_FULL
        assert manifest.file_count == record.attributes[t.FILE_COUNT] == 10
        assert manifest.total_bytes == record.attributes[t.TOTAL_BYTES] == 1000
        assert [f.file_key for f in manifest.files] == sorted(f.file_key for f in manifest.files)
        assert manifest.created_at == clock.now.isoformat()
        for f in manifest.files:
            item = files.get(DAY, f.file_key)
            assert item.status == t.MANIFESTED
            assert item.attributes[t.MANIFEST_ID] == manifest_id
            assert item.attributes[t.MANIFEST_PATH] == record.attributes[t.MANIFEST_PATH]
        seen += [f.file_key for f in manifest.files]
    assert sorted(seen) == keys[:20]  # oldest first
    started = json.loads(sfn.started[0]["input"])
    assert started == {
        "version": 1,
        "manifest_id": report.created[0],
        "date_prefix": DAY,
        "manifest_key": f"MANIFEST#{report.created[0]}",
        "manifest_path": f"s3://{MANIFEST_BUCKET}/manifests/{DAY}/{report.created[0]}.json",
        "file_count": 10,
        "total_bytes": 1000,
        "glue_job_name": "ndjson-parquet-batch-job-test",
        "output_path": f"s3://ndjson-parquet-output-test-123456789012/pipeline/output/merged-parquet-{DAY}/",
    }
    assert sfn.started[0]["stateMachineArn"] == STATE_MACHINE_ARN
    assert (
        manifest_record(manifests, report.created[0]).attributes[t.EXECUTION_ARN].endswith(report.created[0])
    )


def test_batches_by_bytes_and_an_oversized_file_alone(s3, files, manifests, clock):
    files.create_many(pending_item(DAY, f"early-{i}.ndjson", size=300) for i in range(3))
    clock.advance(seconds=1)
    files.create(pending_item(DAY, "huge.ndjson", size=5000))
    clock.advance(seconds=1)
    files.create_many(pending_item(DAY, f"late-{i}.ndjson", size=300) for i in range(4))
    core = make_core(files, manifests, s3, clock=clock, max_files=100, max_bytes=1000)

    report = core.build(DAY)

    # 3 x 300 = 900 and a fourth file would pass 1000: full. The huge file is a batch of its own.
    by_size = sorted((m.file_count, m.total_bytes, m.files[0].file_key[:4]) for m in all_manifests(s3))
    assert by_size == [(1, 5000, "huge"), (3, 900, "earl"), (3, 900, "late")]
    assert report.waiting == 1
    assert [item.key for item in files.list_by_status(DAY, t.PENDING)] == ["late-3.ndjson"]


def test_plan_is_oldest_first_and_only_the_last_batch_can_be_partial(clock):
    items = []
    for i in range(7):
        clock.advance(seconds=1)
        item = pending_item(DAY, f"f-{6 - i}.ndjson", size=10)
        items.append(
            TrackedItem(item.namespace, item.key, item.status, item.attributes, 1, clock.now, clock.now)
        )
    batches = plan_batches(reversed(items), max_files=3, max_bytes=10**6)
    assert [[i.key for i in batch.items] for batch in batches] == [
        ["f-6.ndjson", "f-5.ndjson", "f-4.ndjson"],
        ["f-3.ndjson", "f-2.ndjson", "f-1.ndjson"],
        ["f-0.ndjson"],
    ]
    assert [batch.full for batch in batches] == [True, True, False]


def test_orphans_are_flushed_once_the_oldest_file_waited_long_enough(s3, files, manifests, clock):
    track_pending(files, DAY, 4)
    core = make_core(files, manifests, s3, clock=clock, max_files=10)
    assert core.build(DAY).created == []
    clock.advance(minutes=9)
    files.create(pending_item(DAY, "late.ndjson"))
    assert core.flush(DAY).created == []
    clock.advance(minutes=1)

    report = core.flush(DAY)

    assert len(report.created) == 1
    (manifest,) = all_manifests(s3)
    assert manifest.reason == c.REASON_ORPHAN_FLUSH
    assert manifest.file_count == 5  # the late file goes along with the orphans
    assert files.list_by_status(DAY, t.PENDING) == []


def test_max_manifests_per_run_bounds_a_pass(s3, files, manifests, clock):
    track_pending(files, DAY, 50)
    core = make_core(files, manifests, s3, clock=clock, max_files=5, max_manifests_per_run=3)
    assert len(core.build(DAY).created) == 3
    assert len(core.build(DAY).created) == 3
    assert len(files.list_by_status(DAY, t.PENDING, limit=None)) == 20


def test_should_stop_ends_a_pass_between_manifests(s3, files, manifests, clock):
    track_pending(files, DAY, 30)
    core = make_core(files, manifests, s3, clock=clock, max_files=5)
    calls = iter([False, False, True])
    assert len(core.build(DAY, should_stop=lambda: next(calls)).created) == 2


def test_spark_job_above_the_threshold(s3, files, manifests, clock):
    track_pending(files, DAY, 10, size=100)
    track_pending(files, DAY, 10, size=300, prefix="big")
    sfn = FakeSfn()
    core = make_core(
        files, manifests, s3, sfn=sfn, clock=clock, max_bytes=10**6, spark_glue_job_name=SPARK_JOB,
        spark_threshold_bytes=1500,
    )  # fmt: skip
    core.build(DAY)
    jobs = sorted(
        (json.loads(s["input"])["total_bytes"], json.loads(s["input"])["glue_job_name"]) for s in sfn.started
    )
    assert jobs == [(1000, "ndjson-parquet-batch-job-test"), (3000, SPARK_JOB)]


def test_policy_refuses_a_start_mode_without_its_target():
    with pytest.raises(ValueError, match="state_machine_arn"):
        policy(state_machine_arn="")
    with pytest.raises(ValueError, match="event_bus_name"):
        policy(start_mode="eventbridge")
    with pytest.raises(ValueError, match="start_mode"):
        policy(start_mode="carrier-pigeon")


def test_lookback_dates_are_today_and_the_days_before():
    assert lookback_dates(FakeClock().now, 2) == ["2026-02-01", "2026-01-31", "2026-01-30"]


# -- start modes and the breaker -------------------------------------------------------------------


def test_eventbridge_mode_announces_manifest_ready_instead_of_starting(s3, files, manifests, clock):
    track_pending(files, DAY, 10)
    events = FakeEvents()
    core = make_core(
        files, manifests, s3, events=events, clock=clock, start_mode="eventbridge", event_bus_name=BUS,
        state_machine_arn="",
    )  # fmt: skip
    report = core.build(DAY)
    assert len(report.started) == 1
    (entry,) = events.entries
    assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == (
        "lambda-pipelines.ndjson-parquet",
        "ManifestReady",
        BUS,
    )
    detail = c.ExecutionInput.from_json(entry["Detail"])
    assert detail.manifest_id == report.created[0]
    assert t.EXECUTION_ARN not in manifest_record(manifests, detail.manifest_id).attributes


def test_breaker_open_holds_manifests_until_it_closes(s3, files, manifests, clock):
    track_pending(files, DAY, 20)
    sfn, breaker = FakeSfn(), FakeBreaker(open=True)
    core = make_core(files, manifests, s3, sfn=sfn, breaker=breaker, clock=clock)

    report = core.build(DAY)

    assert len(report.created) == 2
    assert report.held == report.created
    assert sfn.started == []
    assert all(manifest_record(manifests, m).status == t.MANIFEST_PENDING for m in report.created)
    clock.advance(minutes=5)
    assert core.flush(DAY).restarted == []  # still open: nothing started
    breaker.open = False  # reset, or failures aged out of the window
    flushed = core.flush(DAY)
    assert sorted(flushed.restarted) == sorted(report.created)
    assert sorted(sfn.names) == sorted(report.created)


def test_an_unreadable_breaker_holds_rather_than_starts(s3, files, manifests, clock):
    class Broken:
        def is_open(self):
            raise client_error("ProvisionedThroughputExceededException", "Query")

    track_pending(files, DAY, 10)
    sfn = FakeSfn()
    report = make_core(files, manifests, s3, sfn=sfn, breaker=Broken(), clock=clock).build(DAY)
    assert len(report.held) == 1
    assert sfn.started == []


# -- crash recovery --------------------------------------------------------------------------------


def test_a_failed_start_is_retried_by_the_flush_after_the_grace_period(s3, files, manifests, clock):
    track_pending(files, DAY, 10)
    sfn = FakeSfn(fail_with="ServiceUnavailable")
    core = make_core(files, manifests, s3, sfn=sfn, clock=clock)
    report = core.build(DAY)
    assert report.start_failed == report.created
    sfn.fail_with = None
    clock.advance(minutes=1)
    assert core.flush(DAY).restarted == []  # within the grace period: maybe still on its way
    clock.advance(minutes=1)
    assert core.flush(DAY).restarted == report.created
    assert sfn.names == report.created


def test_starting_an_already_started_manifest_is_fine(s3, files, manifests, clock):
    track_pending(files, DAY, 10)
    sfn = FakeSfn()
    core = make_core(files, manifests, s3, sfn=sfn, clock=clock)
    (manifest_id,) = core.build(DAY).created
    clock.advance(minutes=3)  # the state machine has not moved it to processing yet
    assert core.flush(DAY).restarted == [manifest_id]  # ExecutionAlreadyExists = started
    assert sfn.attempts == 2
    assert sfn.names == [manifest_id]


class CrashingS3:
    """An S3 client whose PutObject dies: the builder 'crashes' after claiming."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def put_object(self, **kwargs: Any) -> Any:
        raise RuntimeError("process killed")


def test_claims_of_a_builder_that_died_before_its_record_are_completed_by_the_flush(
    s3, files, manifests, clock
):
    keys = track_pending(files, DAY, 10)
    dead = make_core(files, manifests, CrashingS3(s3), clock=clock)
    with pytest.raises(RuntimeError, match="killed"):
        dead.build(DAY)
    claimed = files.list_by_status(DAY, t.MANIFESTED, limit=None)
    assert len(claimed) == 10
    (manifest_id,) = {item.attributes[t.MANIFEST_ID] for item in claimed}

    sfn = FakeSfn()
    survivor = make_core(files, manifests, s3, sfn=sfn, clock=clock)
    clock.advance(minutes=14)
    assert survivor.flush(DAY).recovered == []  # the builder might still be at work
    clock.advance(minutes=1)
    report = survivor.flush(DAY)

    assert report.recovered == [manifest_id]
    assert sfn.names == [manifest_id]
    record = manifest_record(manifests, manifest_id)
    manifest = read_manifest(s3, record.attributes[t.MANIFEST_PATH])
    assert [f.file_key for f in manifest.files] == keys
    assert manifest.reason == c.REASON_RECOVERED
    assert manifest.created_at == c.manifest_id_time(manifest_id).isoformat()
    assert survivor.flush(DAY).recovered == []  # done once


def test_concurrent_recoverers_write_one_manifest_and_start_it_once(s3, files, manifests, clock):
    track_pending(files, DAY, 30)
    with pytest.raises(RuntimeError):
        make_core(files, manifests, CrashingS3(s3), clock=clock, max_files=10).build(DAY)
    clock.advance(minutes=20)
    sfn = FakeSfn()
    cores = [make_core(files, manifests, s3, sfn=sfn, clock=clock) for _ in range(6)]
    start = threading.Barrier(len(cores))

    def recover(core):
        start.wait()
        return core.recover_claims(DAY).recovered

    with ThreadPoolExecutor(len(cores)) as pool:
        recovered = [m for result in pool.map(recover, cores) for m in result]
    assert len(recovered) == 1
    assert sfn.names == recovered
    assert len(all_manifests(s3)) == 1


class FlakyFiles:
    """A store whose transitions land but answer with a throttle, as a timed-out UpdateItem can."""

    def __init__(self, store: MemoryTrackingStore, *, get_fails: bool = False) -> None:
        self.store = store
        self.get_fails = get_fails

    def transition(self, *args: Any, **kwargs: Any) -> bool:
        landed = self.store.transition(*args, **kwargs)
        if args[1].endswith("3.ndjson"):
            raise client_error("ProvisionedThroughputExceededException", "UpdateItem")
        return landed

    def get(self, *args: Any) -> Any:
        if self.get_fails:
            raise client_error("ThrottlingException", "GetItem")
        return self.store.get(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_a_claim_of_unknown_outcome_is_read_back(s3, files, manifests, clock):
    track_pending(files, DAY, 10)
    report = make_core(FlakyFiles(files), manifests, s3, clock=clock).build(DAY)
    (manifest,) = all_manifests(s3)
    assert manifest.file_count == 10  # data-0003 landed: read back as ours
    assert report.created == [manifest.manifest_id]


class RetriedClaims:
    """A store whose UpdateItem lands, loses its response, and whose SDK retry then fails its own
    condition: the call answers False although the claim is ours."""

    def __init__(self, store: MemoryTrackingStore) -> None:
        self.store = store

    def transition(self, *args: Any, **kwargs: Any) -> bool:
        landed = self.store.transition(*args, **kwargs)
        return False if args[1].endswith(("3.ndjson", "7.ndjson")) else landed

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_a_claim_whose_retry_failed_its_own_condition_is_still_ours(s3, files, manifests, clock):
    keys = track_pending(files, DAY, 10)
    report = make_core(RetriedClaims(files), manifests, s3, clock=clock).build(DAY)
    (manifest,) = all_manifests(s3)
    assert sorted(f.file_key for f in manifest.files) == sorted(keys)  # none left out of the JSON
    assert report.created == [manifest.manifest_id]
    assert {files.get(DAY, key).attributes["manifest_id"] for key in keys} == {manifest.manifest_id}


def test_a_claim_that_cannot_be_settled_leaves_the_manifest_to_recovery(s3, files, manifests, clock):
    track_pending(files, DAY, 10)
    with pytest.raises(ClaimUnresolved):
        make_core(FlakyFiles(files, get_fails=True), manifests, s3, clock=clock).build(DAY)
    assert all_manifests(s3) == []
    clock.advance(minutes=16)
    report = make_core(files, manifests, s3, clock=clock).flush(DAY)
    assert len(report.recovered) == 1
    assert all_manifests(s3)[0].file_count == 10


# -- concurrency -----------------------------------------------------------------------------------


def test_a_batch_whose_leader_another_builder_claimed_is_skipped(s3, files, manifests, clock):
    keys = track_pending(files, DAY, 20)
    # Another builder already won the first batch's leader (and is claiming the rest).
    files.transition(
        DAY, keys[0], from_statuses=t.PENDING, to_status=t.MANIFESTED, attributes={"manifest_id": "x"}
    )
    core = make_core(files, manifests, s3, clock=clock, max_files=10)
    report = core.build(DAY)
    # Listing after the claim: the plan is keys[1:11], keys[11:20]; the first batch is ours now.
    assert len(report.created) == 1
    assert report.waiting == 9


class Interloper:
    """Files whose listed batch another builder raids right after our leader claim."""

    def __init__(self, store: MemoryTrackingStore, raid: list[str]) -> None:
        self.store = store
        self.raid = raid

    def transition(self, namespace: str, key: str, **kwargs: Any) -> bool:
        won = self.store.transition(namespace, key, **kwargs)
        for other in self.raid:
            self.store.transition(namespace, other, from_statuses=t.PENDING, to_status=t.MANIFESTED)
        self.raid = []
        return won

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


@pytest.mark.parametrize(("raided", "kept"), [(6, None), (3, 7)])
def test_a_batch_raided_below_min_fill_is_given_back(s3, files, manifests, clock, raided, kept):
    keys = track_pending(files, DAY, 10)
    core = make_core(Interloper(files, keys[10 - raided :]), manifests, s3, clock=clock, max_files=10)
    report = core.build(DAY)
    if kept is None:  # 4 of 10 left: less than half a manifest
        assert (report.created, report.released) == ([], 1)
        assert all_manifests(s3) == []
        back = files.list_by_status(DAY, t.PENDING, limit=None)
        assert sorted(item.key for item in back) == keys[:4]
        assert all(item.attributes[t.MANIFEST_ID] is None for item in back)
    else:
        assert report.released == 0
        assert [m.file_count for m in all_manifests(s3)] == [kept]


def _race(core_factory, rounds_per_builder: int = 50) -> list[str]:
    builders = 8
    start = threading.Barrier(builders)

    def run(n: int) -> list[str]:
        core = core_factory()
        start.wait()
        created: list[str] = []
        for _ in range(rounds_per_builder):
            report = core.build(DAY)
            created += report.created
            if not (report.created or report.contended or report.released or report.waiting):
                break
        return created

    with ThreadPoolExecutor(builders) as pool:
        return [m for created in pool.map(run, range(builders)) for m in created]


def _assert_every_file_in_exactly_one_manifest(s3, files, manifests, keys, created):
    found = all_manifests(s3)
    assert sorted(m.manifest_id for m in found) == sorted(created)  # no manifest twice, none unrecorded
    placed = Counter(f.file_key for m in found for f in m.files)
    assert set(placed) == set(keys)  # none lost
    assert set(placed.values()) == {1}  # none in two manifests
    for manifest in found:
        assert (
            manifest_record(manifests, manifest.manifest_id).attributes[t.FILE_COUNT] == manifest.file_count
        )
        for f in manifest.files:
            assert files.get(DAY, f.file_key).attributes[t.MANIFEST_ID] == manifest.manifest_id


def test_eight_builders_racing_over_100_files_never_share_or_lose_a_file(s3, files, manifests, clock):
    keys = track_pending(files, DAY, 100)
    sfn = FakeSfn()
    created = _race(
        lambda: make_core(files, manifests, s3, sfn=sfn, clock=clock, max_files=7, orphan_age=timedelta(0))
    )
    _assert_every_file_in_exactly_one_manifest(s3, files, manifests, keys, created)
    assert sorted(sfn.names) == sorted(created)


def test_racing_builders_send_no_small_manifests_before_the_orphan_age(s3, files, manifests, clock):
    keys = track_pending(files, DAY, 100)
    created = _race(lambda: make_core(files, manifests, s3, clock=clock, max_files=7))
    found = all_manifests(s3)
    assert sorted(m.manifest_id for m in found) == sorted(created)
    assert min(m.file_count for m in found) >= 4  # at least min_fill (half) of a batch of 7
    placed = Counter(f.file_key for m in found for f in m.files)
    waiting = {item.key for item in files.list_by_status(DAY, t.PENDING, limit=None)}
    assert set(placed.values()) == {1}
    assert set(placed) | waiting == set(keys)
    assert not set(placed) & waiting
    assert len(waiting) < 7  # what is left cannot make a full batch


@pytest.fixture
def table(s3: Any, clock: FakeClock) -> tuple[Any, Any]:
    """The deployed shape on moto: one table, files sharded, MANIFEST records beside them."""
    client = OneCallAtATime(aws.client("dynamodb"))
    files = t.file_store("ndjson-parquet-sqs-file-tracking-test", client=client, clock=clock)
    create_table(files)
    return files, t.manifest_store(files.table_name, client=client, clock=clock)


def test_the_race_on_one_sharded_table(s3, table, clock):
    files, manifests = table
    keys = track_pending(files, DAY, 100)
    created = _race(
        lambda: make_core(files, manifests, s3, clock=clock, max_files=9, orphan_age=timedelta(0))
    )
    _assert_every_file_in_exactly_one_manifest(s3, files, manifests, keys, created)
    raw = files.client.scan(TableName=files.table_name)["Items"]
    statuses = Counter(item["status"]["S"].split("#")[0] for item in raw if "#" in item["status"]["S"])
    assert statuses == {"manifested": 100}
    assert sum(1 for item in raw if item["file_key"]["S"].startswith("MANIFEST#")) == len(created)
