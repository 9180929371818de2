"""Lambda entry point: DynamoDB Streams batches of the file-tracking table."""

from __future__ import annotations

from typing import Any

from ndjson_to_parquet.config import CoreSettings, build_core, deadline_check
from pipelines_shared.log import configure_logging, inject_lambda_context
from pipelines_shared.settings import load_settings

from .creator import StreamManifestCreator

_state: dict[str, Any] = {}


def _parts() -> dict[str, Any]:
    # Built on first use, not at import: importing the module makes no network call.
    if not _state:
        settings = load_settings(CoreSettings)
        configure_logging(level=settings.log_level)
        _state["creator"] = StreamManifestCreator(build_core(settings))
        _state["margin"] = settings.deadline_margin_seconds
    return _state


@inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    parts = _parts()
    return parts["creator"].handle(event, deadline_check(context, parts["margin"]))
