"""Settings and wiring of the manifest core, shared by manifest-builder and stream-manifest-creator.

Environment variables (Terraform sets them on both functions):

| variable | default | meaning |
| --- | --- | --- |
| ``FILE_TRACKING_TABLE`` | required | ``ndjson-parquet-sqs-file-tracking-{env}`` |
| ``METRICS_TABLE`` | required | ``ndjson-parquet-sqs-metrics-{env}`` (circuit breaker) |
| ``MANIFEST_BUCKET`` | required | bucket of ``manifests/YYYY-MM-DD/<id>.json`` |
| ``OUTPUT_BUCKET`` | required | bucket of ``pipeline/output/...`` (put in the execution input) |
| ``GLUE_JOB_NAME`` | required | the pythonshell job, ``ndjson-parquet-batch-job-{env}`` |
| ``SPARK_GLUE_JOB_NAME`` | "" | the glueetl job; used above ``SPARK_THRESHOLD_BYTES`` |
| ``SPARK_THRESHOLD_BYTES`` | 0 | 0 = never use the Spark job |
| ``START_MODE`` | ``stepfunctions`` | or ``eventbridge`` (``eventbridge_enabled``) |
| ``STATE_MACHINE_ARN`` | "" | required with ``stepfunctions`` |
| ``EVENT_BUS_NAME`` | "" | required with ``eventbridge`` |
| ``MAX_FILES_PER_MANIFEST`` | 100 | a batch is full at this many files ... |
| ``MAX_BYTES_PER_MANIFEST`` | 536870912 | ... or this many bytes |
| ``ORPHAN_AGE_SECONDS`` | 600 | a partial batch is built once its oldest file waited this long |
| ``START_RETRY_AFTER_SECONDS`` | 120 | a ``pending`` MANIFEST this old is started again by the flush |
| ``CLAIM_RECOVERY_AFTER_SECONDS`` | 900 | recover claims without record this old (> timeouts) |
| ``MAX_MANIFESTS_PER_RUN`` | 50 | per date and pass |
| ``CLAIM_WORKERS`` | 8 | parallel conditional updates per manifest |
| ``BREAKER_FAILURE_THRESHOLD`` | 3 | failures that open the breaker ... |
| ``BREAKER_WINDOW_SECONDS`` | 3600 | ... within this many seconds (after the last reset) |
| ``DEADLINE_MARGIN_SECONDS`` | 30 | no new manifest when less time than this is left |
| ``LOG_LEVEL`` | INFO | |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ndjson_to_parquet import tracking
from ndjson_to_parquet.breaker import CircuitBreaker
from ndjson_to_parquet.manifests import ManifestCore
from ndjson_to_parquet.policy import START_STEPFUNCTIONS, ManifestPolicy
from pipelines_shared import aws


@dataclass(frozen=True)
class CoreSettings:
    file_tracking_table: str
    metrics_table: str
    manifest_bucket: str
    output_bucket: str
    glue_job_name: str
    spark_glue_job_name: str = ""
    spark_threshold_bytes: int = 0
    start_mode: str = START_STEPFUNCTIONS
    state_machine_arn: str = ""
    event_bus_name: str = ""
    max_files_per_manifest: int = 100
    max_bytes_per_manifest: int = 512 * 1024 * 1024
    orphan_age_seconds: int = 600
    start_retry_after_seconds: int = 120
    claim_recovery_after_seconds: int = 900
    max_manifests_per_run: int = 50
    claim_workers: int = 8
    breaker_failure_threshold: int = 3
    breaker_window_seconds: int = 3600
    deadline_margin_seconds: float = 30.0
    log_level: str = "INFO"

    def policy(self) -> ManifestPolicy:
        return ManifestPolicy(
            manifest_bucket=self.manifest_bucket,
            output_bucket=self.output_bucket,
            glue_job_name=self.glue_job_name,
            spark_glue_job_name=self.spark_glue_job_name,
            spark_threshold_bytes=self.spark_threshold_bytes,
            max_files=self.max_files_per_manifest,
            max_bytes=self.max_bytes_per_manifest,
            orphan_age=timedelta(seconds=self.orphan_age_seconds),
            start_retry_after=timedelta(seconds=self.start_retry_after_seconds),
            claim_recovery_after=timedelta(seconds=self.claim_recovery_after_seconds),
            start_mode=self.start_mode,
            state_machine_arn=self.state_machine_arn,
            event_bus_name=self.event_bus_name,
            max_manifests_per_run=self.max_manifests_per_run,
            claim_workers=self.claim_workers,
        )


def build_core(settings: CoreSettings) -> ManifestCore:
    """The manifest core on the real AWS clients (cold start; no call is made here)."""
    policy = settings.policy()
    dynamodb = aws.client("dynamodb")
    return ManifestCore(
        files=tracking.file_store(settings.file_tracking_table, client=dynamodb),
        manifests=tracking.manifest_store(settings.file_tracking_table, client=dynamodb),
        s3=aws.client("s3"),
        sfn=aws.client("stepfunctions") if policy.start_mode == START_STEPFUNCTIONS else None,
        events=aws.client("events") if policy.start_mode != START_STEPFUNCTIONS else None,
        breaker=CircuitBreaker(
            settings.metrics_table,
            failure_threshold=settings.breaker_failure_threshold,
            window_seconds=settings.breaker_window_seconds,
            client=dynamodb,
        ),
        policy=policy,
    )


def deadline_check(context: Any, margin_seconds: float) -> Callable[[], bool]:
    """True once fewer than ``margin_seconds`` remain in this invocation (never without a context)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return lambda: False
    return lambda: remaining() / 1000.0 < margin_seconds
