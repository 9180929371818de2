"""Lambda entry point: DynamoDB Streams batches of the file-tracking table."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from ndjson_to_parquet.config import CoreSettings, build_core
from pipelines_shared.deadline import Deadline
from pipelines_shared.log import configure_logging, inject_lambda_context
from pipelines_shared.settings import load_settings

from .creator import StreamManifestCreator


@dataclass(frozen=True, kw_only=True)
class Settings(CoreSettings):
    """The manifest core's settings (``ndjson_to_parquet.config``); the creator has none of its own."""


@dataclass(frozen=True)
class Dependencies:
    settings: Settings
    creator: StreamManifestCreator


@functools.cache
def dependencies() -> Dependencies:
    settings = load_settings(Settings)
    configure_logging(level=settings.log_level)
    return Dependencies(settings, StreamManifestCreator(build_core(settings)))


@inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deps = dependencies()
    deadline = Deadline.from_context(context, deps.settings.deadline_margin_seconds)
    return deps.creator.handle(event, deadline.passed)
