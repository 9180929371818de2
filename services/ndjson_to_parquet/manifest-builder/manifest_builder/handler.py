"""Lambda entry point: SQS batches of S3 events (validate, track, build manifests) and the schedule
(orphan flush and crash recovery over recent days). Settings and collaborators once per cold start."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from ndjson_to_parquet import tracking
from ndjson_to_parquet.config import CoreSettings, build_core
from pipelines_shared import aws
from pipelines_shared.deadline import Deadline
from pipelines_shared.log import configure_logging, inject_lambda_context
from pipelines_shared.settings import load_settings

from .builder import ManifestBuilder, Response
from .intake import FileIntake
from .validation import Inspector, Limits


@dataclass(frozen=True, kw_only=True)
class Settings(CoreSettings):
    """The manifest core's settings (``ndjson_to_parquet.config``) and the builder's own."""

    quarantine_bucket: str
    manifest_mode: str  # "stream": only validate and track
    max_file_bytes: int
    validate_lines: int = 5
    validate_bytes: int = 256 * 1024
    flush_lookback_days: int = 2


@dataclass(frozen=True)
class Dependencies:
    settings: Settings
    builder: ManifestBuilder


@functools.cache
def dependencies() -> Dependencies:
    settings = load_settings(Settings)
    configure_logging(level=settings.log_level)
    s3 = aws.client("s3")
    limits = Limits(
        max_file_bytes=settings.max_file_bytes,
        lines=settings.validate_lines,
        read_bytes=settings.validate_bytes,
    )
    intake = FileIntake(
        s3=s3,
        files=tracking.file_store(settings.file_tracking_table, client=aws.client("dynamodb")),
        inspector=Inspector(s3, limits),
        quarantine_bucket=settings.quarantine_bucket,
    )
    builder = ManifestBuilder(
        intake=intake,
        core=build_core(settings),
        manifest_mode=settings.manifest_mode,
        lookback_days=settings.flush_lookback_days,
    )
    return Dependencies(settings, builder)


@inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> Response:
    deps = dependencies()
    deadline = Deadline.from_context(context, deps.settings.deadline_margin_seconds)
    return deps.builder.handle(event, context, deadline.passed)
