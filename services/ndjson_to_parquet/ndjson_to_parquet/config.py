"""Settings and wiring of the manifest core, shared by manifest-builder and stream-manifest-creator.

Environment variables. "Terraform" means ``terraform/modules/ndjson_to_parquet/functions.tf`` sets it
on both functions, and the module's variables hold the default (one place: this code has none);
the others are tuning the code owns.

| variable | default | meaning |
| --- | --- | --- |
| ``FILE_TRACKING_TABLE`` | Terraform | ``ndjson-parquet-sqs-file-tracking-{env}`` |
| ``METRICS_TABLE`` | Terraform | ``ndjson-parquet-sqs-metrics-{env}`` (circuit breaker) |
| ``MANIFEST_BUCKET`` | Terraform | bucket of ``manifests/YYYY-MM-DD/<id>.json`` |
| ``OUTPUT_BUCKET`` | Terraform | bucket of ``pipeline/output/...`` (put in the execution input) |
| ``GLUE_JOB_NAME`` | Terraform | the pythonshell job, ``ndjson-parquet-batch-job-{env}`` |
| ``SPARK_GLUE_JOB_NAME`` | Terraform | the glueetl job; used above ``SPARK_THRESHOLD_BYTES`` |
| ``SPARK_THRESHOLD_BYTES`` | Terraform | 0 = never use the Spark job |
| ``START_MODE`` | Terraform | ``stepfunctions`` or ``eventbridge`` (``eventbridge_enabled``) |
| ``STATE_MACHINE_ARN`` | Terraform | used with ``stepfunctions`` |
| ``EVENT_BUS_NAME`` | Terraform | used with ``eventbridge`` |
| ``MAX_FILES_PER_MANIFEST`` | Terraform | a batch is full at this many files ... |
| ``MAX_BYTES_PER_MANIFEST`` | Terraform | ... or this many bytes |
| ``ORPHAN_AGE_SECONDS`` | Terraform | a partial batch is built once its oldest file waited this long |
| ``BREAKER_FAILURE_THRESHOLD`` | Terraform | failures that open the breaker ... |
| ``BREAKER_WINDOW_SECONDS`` | Terraform | ... within this many seconds (after the last reset) |
| ``LOG_LEVEL`` | Terraform | |
| ``START_RETRY_AFTER_SECONDS`` | 120 | a ``pending`` MANIFEST this old is started again by the flush |
| ``CLAIM_RECOVERY_AFTER_SECONDS`` | 900 | recover claims without record this old (> timeouts) |
| ``MAX_MANIFESTS_PER_RUN`` | 50 | per date and pass |
| ``CLAIM_WORKERS`` | 8 | parallel conditional updates per manifest |
| ``DEADLINE_MARGIN_SECONDS`` | 30 | no new manifest when less time than this is left |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ndjson_to_parquet import tracking
from ndjson_to_parquet.breaker import CircuitBreaker
from ndjson_to_parquet.manifests import ManifestCore
from ndjson_to_parquet.policy import START_STEPFUNCTIONS, ManifestPolicy
from pipelines_shared import aws


@dataclass(frozen=True, kw_only=True)
class CoreSettings:
    """Terraform sets every field without a default (functions.tf); the defaults are tuning that only
    the code knows."""

    file_tracking_table: str
    metrics_table: str
    manifest_bucket: str
    output_bucket: str
    glue_job_name: str
    spark_glue_job_name: str
    spark_threshold_bytes: int
    start_mode: str
    state_machine_arn: str
    event_bus_name: str
    max_files_per_manifest: int
    max_bytes_per_manifest: int
    orphan_age_seconds: int
    breaker_failure_threshold: int
    breaker_window_seconds: int
    log_level: str
    start_retry_after_seconds: int = 120
    claim_recovery_after_seconds: int = 900
    max_manifests_per_run: int = 50
    claim_workers: int = 8
    deadline_margin_seconds: float = 30.0

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
