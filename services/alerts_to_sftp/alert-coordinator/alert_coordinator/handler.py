"""ALB target: authenticate, then run the job and answer with its summary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alerts_to_sftp.contract import JOB_ID
from alerts_to_sftp.staging import MySqlPayloadStore, PayloadStore, S3PayloadStore
from alerts_to_sftp.tracking import TABLE
from pipelines_shared import aws
from pipelines_shared.db import engine_from_secret
from pipelines_shared.http import JsonHttpClient
from pipelines_shared.log import bind_correlation_id, configure_logging, get_logger, inject_lambda_context
from pipelines_shared.settings import get_secret, load_settings
from pipelines_shared.tracking.sql import SqlTrackingStore

from .adapters import MySqlJobLock, SqsPointerQueue, api_pages
from .coordinator import Coordinator, JobBusy
from .request import BadRequest, JobRequest, alb_response, authenticated

logger = get_logger(__name__)


@dataclass(frozen=True)
class Settings:
    trigger_secret_arn: str
    mysql_secret_arn: str
    alerts_api_url: str
    alerts_api_token_secret_arn: str
    queue_url: str
    staging: str = "s3"  # s3 | mysql
    staging_bucket: str = ""
    page_size: int = 500
    fetch_concurrency: int = 8
    api_connect_timeout: float = 3.0
    api_read_timeout: float = 20.0
    log_level: str = "INFO"


_state: dict[str, Any] = {}


def _coordinator() -> tuple[Settings, Coordinator]:
    # Built once per cold start, on first use: importing this module makes no network call.
    if not _state:
        settings = load_settings(Settings)
        configure_logging(level=settings.log_level)
        engine = engine_from_secret(settings.mysql_secret_arn, pool_size=settings.fetch_concurrency + 1)
        payloads: PayloadStore
        if settings.staging == "s3":
            payloads = S3PayloadStore(settings.staging_bucket)
        elif settings.staging == "mysql":
            payloads = MySqlPayloadStore(engine)
        else:
            raise ValueError(f"STAGING must be s3 or mysql, not {settings.staging!r}")
        api = JsonHttpClient(
            settings.alerts_api_url,
            token_provider=lambda: get_secret(settings.alerts_api_token_secret_arn),
            connect_timeout=settings.api_connect_timeout,
            read_timeout=settings.api_read_timeout,
        )
        _state["settings"] = settings
        _state["coordinator"] = Coordinator(
            store=SqlTrackingStore(engine, table_name=TABLE),
            payloads=payloads,
            queue=SqsPointerQueue(aws.client("sqs"), settings.queue_url),
            pages=api_pages(api, page_size=settings.page_size),
            lock=MySqlJobLock(engine),
            concurrency=settings.fetch_concurrency,
        )
    return _state["settings"], _state["coordinator"]


@inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings, coordinator = _coordinator()
    if not authenticated(event, get_secret(settings.trigger_secret_arn)):
        logger.warning("unauthenticated trigger refused", path=event.get("path"))
        return alb_response(401, {"error": "unauthorized"})
    if event.get("httpMethod") == "GET":
        job_id = str(event.get("path", "")).rstrip("/").rsplit("/", 1)[-1]
        if not JOB_ID.match(job_id):
            return alb_response(400, {"error": "GET /jobs/<job_id>"})
        found = coordinator.status(job_id)
        return alb_response(200, found) if found else alb_response(404, {"error": f"no job {job_id}"})
    try:
        request = JobRequest.from_event(event)
    except BadRequest as error:
        return alb_response(400, {"error": str(error)})
    correlation_id = bind_correlation_id(request.job_id)
    try:
        summary = coordinator.run(request, correlation_id)
    except JobBusy as error:
        return alb_response(409, {"error": str(error), "job_id": request.job_id})
    status = 502 if summary.errors else 200
    return alb_response(status, summary.as_dict())
