"""Lambda entry point: SQS batches of S3 events (validate, track, build manifests) and the schedule
(orphan flush and crash recovery over recent days). Settings and collaborators once per cold start."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ndjson_to_parquet import tracking
from ndjson_to_parquet.config import CoreSettings, build_core, deadline_check
from pipelines_shared import aws
from pipelines_shared.log import configure_logging, inject_lambda_context
from pipelines_shared.settings import load_settings

from .builder import MODE_BUILDER, ManifestBuilder
from .intake import FileIntake
from .validation import Inspector, Limits


@dataclass(frozen=True)
class Settings:
    """Besides ``CoreSettings`` (ndjson_to_parquet.config)."""

    quarantine_bucket: str
    manifest_mode: str = MODE_BUILDER  # "stream": only validate and track
    max_file_bytes: int = 5 * 1024**3
    validate_lines: int = 5
    validate_bytes: int = 256 * 1024
    flush_lookback_days: int = 2


_state: dict[str, Any] = {}


def _parts() -> dict[str, Any]:
    # Built on first use, not at import: importing the module makes no network call.
    if not _state:
        settings = load_settings(Settings)
        core_settings = load_settings(CoreSettings)
        configure_logging(level=core_settings.log_level)
        s3 = aws.client("s3")
        limits = Limits(
            max_file_bytes=settings.max_file_bytes,
            lines=settings.validate_lines,
            read_bytes=settings.validate_bytes,
        )
        intake = FileIntake(
            s3=s3,
            files=tracking.file_store(core_settings.file_tracking_table, client=aws.client("dynamodb")),
            inspector=Inspector(s3, limits),
            quarantine_bucket=settings.quarantine_bucket,
        )
        _state["builder"] = ManifestBuilder(
            intake=intake,
            core=build_core(core_settings),
            manifest_mode=settings.manifest_mode,
            lookback_days=settings.flush_lookback_days,
        )
        _state["margin"] = core_settings.deadline_margin_seconds
    return _state


@inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    parts = _parts()
    return parts["builder"].handle(event, context, deadline_check(context, parts["margin"]))
