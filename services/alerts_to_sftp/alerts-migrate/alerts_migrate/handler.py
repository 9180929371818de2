"""Invoked by Terraform (aws_lambda_invocation) whenever the migrations change; safe to run again."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from alerts_to_sftp import migrations
from pipelines_shared.db import engine_from_secret
from pipelines_shared.log import configure_logging, get_logger, inject_lambda_context
from pipelines_shared.migrations import migrate
from pipelines_shared.settings import load_settings

logger = get_logger(__name__)


@dataclass(frozen=True, kw_only=True)
class Settings:
    mysql_secret_arn: str
    log_level: str


@dataclass(frozen=True)
class Dependencies:
    settings: Settings


@functools.cache
def dependencies() -> Dependencies:
    settings = load_settings(Settings)
    configure_logging(level=settings.log_level)
    return Dependencies(settings)


@inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = dependencies().settings
    # An engine per run, not per cold start: migrations run once a deploy, and an idle pool would
    # only hold a database connection open between deploys.
    engine = engine_from_secret(settings.mysql_secret_arn, pool_size=1)
    try:
        applied = migrate(engine, migrations.__name__)
    finally:
        engine.dispose()
    logger.info("migrations applied", applied=applied)
    return {"applied": applied}
