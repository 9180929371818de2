"""batch-status-updater on moto: files move once, outcomes count once, bad events fail permanently."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from batch_status_updater.updater import ManifestNotFound, StatusUpdater

from ndjson_fakes import (
    DAY,
    MANIFEST_BUCKET,
    METRICS_TABLE,
    TRACKING_TABLE,
    LambdaContext,
    client_error,
    make_core,
    moto_stack,
    track_pending,
)
from ndjson_to_parquet import contract as c
from ndjson_to_parquet import tracking as t
from ndjson_to_parquet.breaker import CircuitBreaker, OutcomeLog
from pipelines_shared import aws
from pipelines_shared.retry import PermanentError


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    with moto_stack(monkeypatch) as env:
        yield env


@pytest.fixture
def manifest(stack: dict[str, str]) -> c.Manifest:
    """Five files claimed into one manifest, as manifest-builder leaves them."""
    files = t.file_store(TRACKING_TABLE)
    track_pending(files, DAY, 5)
    (manifest_id,) = (
        make_core(files, t.manifest_store(TRACKING_TABLE), aws.client("s3"), max_files=5).build(DAY).created
    )
    body = aws.client("s3").get_object(Bucket=MANIFEST_BUCKET, Key=f"manifests/{DAY}/{manifest_id}.json")[
        "Body"
    ]
    return c.Manifest.from_json(body.read())


def event(manifest: c.Manifest, outcome: str, **extra: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "manifest_id": manifest.manifest_id,
        "date_prefix": manifest.date_prefix,
        "manifest_path": f"s3://{MANIFEST_BUCKET}/manifests/{DAY}/{manifest.manifest_id}.json",
        "outcome": outcome,
        "glue_job_run_id": "jr_123",
        "error": None,
        **extra,
    }


def updater(files: Any = None) -> StatusUpdater:
    return StatusUpdater(
        s3=aws.client("s3"),
        files=files or t.file_store(TRACKING_TABLE),
        breaker=OutcomeLog(METRICS_TABLE),
        workers=4,
    )


def statuses(manifest: c.Manifest) -> set[str]:
    files = t.file_store(TRACKING_TABLE)
    return {files.get(DAY, f.file_key).status for f in manifest.files}


def test_completed_through_the_handler_and_again_is_already(manifest, monkeypatch):
    from batch_status_updater import handler as module

    module.dependencies.cache_clear()  # a fresh cold start
    first = module.lambda_handler(event(manifest, "completed"), LambdaContext())
    again = module.lambda_handler(event(manifest, "completed"), LambdaContext())

    assert first == {
        "manifest_id": manifest.manifest_id,
        "outcome": "completed",
        "updated": 5,
        "already": 0,
        "missing": 0,
        "skipped": 0,
    }
    assert (again["updated"], again["already"]) == (0, 5)
    assert statuses(manifest) == {t.COMPLETED}
    item = t.file_store(TRACKING_TABLE).get(DAY, manifest.files[0].file_key)
    assert item.attributes[t.GLUE_JOB_RUN_ID] == "jr_123"
    status = CircuitBreaker(METRICS_TABLE, failure_threshold=3, window_seconds=900).status()
    assert (status.successes, status.failures) == (1, 0)


def test_failed_counts_once_for_the_breaker_however_often_it_arrives(manifest):
    for _ in range(3):
        updater().update(event(manifest, "failed", error="Glue job failed: OOM"))
    assert statuses(manifest) == {t.FAILED}
    item = t.file_store(TRACKING_TABLE).get(DAY, manifest.files[0].file_key)
    assert item.attributes[t.ERROR] == "Glue job failed: OOM"
    raw = aws.client("dynamodb").get_item(
        TableName=TRACKING_TABLE,
        Key={"date_prefix": {"S": DAY}, "file_key": {"S": manifest.files[0].file_key}},
    )["Item"]
    assert raw["status"]["S"] == f"failed#{t.shard_id(manifest.files[0].file_key)}"
    assert CircuitBreaker(METRICS_TABLE, failure_threshold=3, window_seconds=900).status().failures == 1


def test_a_redriven_manifest_that_succeeds_repairs_its_files(manifest):
    updater().update(event(manifest, "failed", error="boom"))
    result = updater().update(event(manifest, "completed", glue_job_run_id="jr_2"))
    assert result["updated"] == 5
    assert statuses(manifest) == {t.COMPLETED}
    item = t.file_store(TRACKING_TABLE).get(DAY, manifest.files[0].file_key)
    assert (item.attributes[t.GLUE_JOB_RUN_ID], item.attributes[t.ERROR]) == ("jr_2", None)


def test_a_late_failure_never_undoes_completed_files(manifest):
    updater().update(event(manifest, "completed"))
    result = updater().update(event(manifest, "failed", error="duplicate execution"))
    assert (result["updated"], result["skipped"]) == (0, 5)
    assert statuses(manifest) == {t.COMPLETED}


def test_files_missing_from_the_table_are_counted(manifest):
    aws.client("dynamodb").delete_item(
        TableName=TRACKING_TABLE,
        Key={"date_prefix": {"S": DAY}, "file_key": {"S": manifest.files[1].file_key}},
    )
    result = updater().update(event(manifest, "completed"))
    assert (result["updated"], result["missing"]) == (4, 1)


@pytest.mark.parametrize(
    "bad",
    [
        {"outcome": "maybe"},
        {"version": 2},
        {"manifest_path": "not-a-uri"},
        {"date_prefix": "2026-02-02"},  # not the manifest's day
    ],
)
def test_a_malformed_event_is_a_permanent_error(manifest, bad):
    with pytest.raises(PermanentError):
        updater().update({**event(manifest, "completed"), **bad})
    assert statuses(manifest) == {t.MANIFESTED}


def test_a_missing_manifest_is_a_permanent_error(manifest):
    with pytest.raises(ManifestNotFound):
        updater().update(
            event(manifest, "completed", manifest_path=f"s3://{MANIFEST_BUCKET}/manifests/x.json")
        )


def test_a_throttled_update_raises_for_the_state_machine_to_retry_and_records_no_outcome(manifest):
    class Throttled:
        def __init__(self, store):
            self.store = store

        def transition(self, *args, **kwargs):
            raise client_error("ProvisionedThroughputExceededException", "UpdateItem")

        def __getattr__(self, name):
            return getattr(self.store, name)

    with pytest.raises(Exception, match="ProvisionedThroughputExceeded"):
        updater(Throttled(t.file_store(TRACKING_TABLE))).update(event(manifest, "failed"))
    assert CircuitBreaker(METRICS_TABLE, failure_threshold=3, window_seconds=900).status().failures == 0
    assert updater().update(event(manifest, "failed"))["updated"] == 5  # the retry does the work
