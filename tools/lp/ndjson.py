"""`lp ndjson`: the NDJSON to Parquet pipeline's files, manifests, reprocessing and circuit breaker,
read from its tracking and metrics tables (names from the deployment's outputs)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from lp.deployment import Deployment, LpError

PIPELINE = "ndjson_to_parquet"
FILE_STATUSES = ("pending", "manifested", "completed", "failed")
MANIFEST_STATUSES = ("pending", "processing", "completed", "failed")
REPROCESSABLE = ("failed", "pending")  # what the state machine's claim accepts (processor.asl.json)


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def _stores(deployment: Deployment) -> tuple[Any, Any]:
    from ndjson_to_parquet import tracking

    table = deployment.pipeline(PIPELINE)["tracking_table"]
    client = deployment.client("dynamodb")
    return tracking.file_store(table, client=client), tracking.manifest_store(table, client=client)


def files(deployment: Deployment, date: str, statuses: tuple[str, ...], limit: int) -> list[dict[str, Any]]:
    """The day's file records, by status."""
    from ndjson_to_parquet import tracking as t

    file_store, _ = _stores(deployment)
    rows = []
    for status in statuses:
        for item in file_store.list_by_status(date, status, limit=limit):
            if t.is_manifest_record(item.key):
                continue
            rows.append(
                {
                    "file": item.key,
                    "status": item.status,
                    "bytes": item.attributes.get(t.SIZE),
                    "manifest": item.attributes.get(t.MANIFEST_ID),
                    "reason": item.attributes.get(t.REASON) or item.attributes.get(t.ERROR),
                    "updated": item.updated_at.isoformat() if item.updated_at else None,
                }
            )
    return rows


def manifests(
    deployment: Deployment, date: str, statuses: tuple[str, ...], limit: int
) -> list[dict[str, Any]]:
    """The day's manifests, by status."""
    _, store = _stores(deployment)
    rows = []
    for status in statuses:
        for item in store.list_by_status(date, status, limit=limit):
            rows.append(_manifest_row(item))
    return sorted(rows, key=lambda row: row["manifest"])


def _manifest_row(item: Any) -> dict[str, Any]:
    from ndjson_to_parquet import tracking as t
    from ndjson_to_parquet.contract import MANIFEST_KEY_PREFIX

    return {
        "manifest": item.key.removeprefix(MANIFEST_KEY_PREFIX),
        "date": item.namespace,
        "status": item.status,
        "files": item.attributes.get(t.FILE_COUNT),
        "bytes": item.attributes.get(t.TOTAL_BYTES),
        "glue_run": item.attributes.get(t.GLUE_JOB_RUN_ID),
        "execution": item.attributes.get(t.EXECUTION_ARN),
        "error": item.attributes.get(t.ERROR) or item.attributes.get(t.REASON),
        "updated": item.updated_at.isoformat() if item.updated_at else None,
    }


def _manifest_item(deployment: Deployment, manifest_id: str, date: str | None) -> Any:
    from ndjson_to_parquet.contract import MANIFEST_ID, manifest_record_key

    match = MANIFEST_ID.match(manifest_id)
    if not match:
        raise LpError(f"{manifest_id!r} is not a manifest id (batch-YYYYMMDD-HHMMSS-xxxxxxxx)")
    stamp = match.group(1)
    date = date or f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:]}"
    _, store = _stores(deployment)
    item = store.get(date, manifest_record_key(manifest_id))
    if item is None:
        raise LpError(f"no manifest {manifest_id} under date {date} (pass --date YYYY-MM-DD: the files' day)")
    return item


def manifest(deployment: Deployment, manifest_id: str, date: str | None) -> dict[str, Any]:
    """One manifest: its record, its files, and its latest execution's state."""
    from ndjson_to_parquet import tracking as t

    item = _manifest_item(deployment, manifest_id, date)
    row = _manifest_row(item)
    row["manifest_path"] = item.attributes.get(t.MANIFEST_PATH)
    execution = row.get("execution")
    if execution:
        try:
            described = deployment.client("stepfunctions").describe_execution(executionArn=execution)
            row["execution_status"] = described["status"]
        except Exception as error:
            row["execution_status"] = f"unknown ({error})"
    return row


def reprocess(deployment: Deployment, manifest_id: str, date: str | None, *, now: datetime) -> dict[str, Any]:
    """Start the manifest's state machine again, with the input of its last execution.

    Only a failed (or never started) manifest is re-run: the state machine claims the MANIFEST record
    only from ``pending`` or ``failed``, so a completed one is never converted twice.
    """
    item = _manifest_item(deployment, manifest_id, date)
    if item.status not in REPROCESSABLE:
        raise LpError(f"manifest {manifest_id} is {item.status}: only a failed or pending one is reprocessed")
    row = _manifest_row(item)
    sfn = deployment.client("stepfunctions")
    if not row["execution"]:
        raise LpError(f"manifest {manifest_id} has no recorded execution to repeat")
    execution_input = sfn.describe_execution(executionArn=row["execution"])["input"]
    json.loads(execution_input)  # what we send must be what was sent: a JSON ExecutionInput
    # Execution names are unique per state machine (90 days in AWS): a rerun gets its own.
    name = f"{manifest_id}-rerun-{now.strftime('%Y%m%dT%H%M%S')}"
    started = sfn.start_execution(
        stateMachineArn=deployment.pipeline(PIPELINE)["state_machine_arn"], name=name, input=execution_input
    )
    return {"manifest": manifest_id, "was": item.status, "execution": started["executionArn"]}


def breaker(deployment: Deployment, *, reset: bool) -> dict[str, Any]:
    """The circuit breaker's state with the deployed threshold and window; ``reset`` closes it."""
    from ndjson_to_parquet.breaker import CircuitBreaker

    pipeline = deployment.pipeline(PIPELINE)
    settings = pipeline["settings"]
    circuit = CircuitBreaker(
        pipeline["metrics_table"],
        failure_threshold=int(settings["breaker_failure_threshold"]),
        window_seconds=int(settings["breaker_window_seconds"]),
        client=deployment.client("dynamodb"),
    )
    if reset:
        circuit.reset()
    return circuit.status().to_dict()
