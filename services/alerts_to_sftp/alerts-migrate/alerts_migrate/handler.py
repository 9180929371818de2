"""Invoked by Terraform (aws_lambda_invocation) whenever the migrations change; safe to run again."""

from __future__ import annotations

import os
from typing import Any

from pipelines_shared.db import engine_from_secret
from pipelines_shared.log import configure_logging, get_logger, inject_lambda_context
from pipelines_shared.migrations import migrate

PACKAGE = "alerts_to_sftp.migrations"
logger = get_logger(__name__)


@inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    configure_logging(level=os.environ.get("LOG_LEVEL", "INFO"))
    engine = engine_from_secret(os.environ["MYSQL_SECRET_ARN"], pool_size=1)
    try:
        applied = migrate(engine, PACKAGE)
    finally:
        engine.dispose()
    logger.info("migrations applied", applied=applied)
    return {"applied": applied}
