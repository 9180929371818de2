"""`lp csv`: the CSV to API pipeline's files, their status and reports, and sending a file, read from its
files table and results bucket (names from the deployment's outputs)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from csv_to_api.outcomes import from_attribute

from lp.deployment import Deployment, LpError

PIPELINE = "csv_to_api"
FINAL = ("completed", "completed_with_rejects", "failed")


def _row(item: dict[str, Any]) -> dict[str, Any]:
    record = {k: from_attribute(v) for k, v in item.items()}
    counts = record.get("counts") or {}
    return {
        "file_id": record["file_id"],
        "key": record.get("key", ""),
        "status": record.get("status", ""),
        "rows": record.get("rows", ""),
        "accepted": counts.get("accepted", ""),
        "already": counts.get("already_accepted", ""),
        "rejected": counts.get("rejected", ""),
        "reason": record.get("reason", ""),
        "received_at": record.get("received_at", ""),
        "finished_at": record.get("finished_at", ""),
    }


def files(deployment: Deployment, statuses: tuple[str, ...], limit: int) -> list[dict[str, Any]]:
    """File records (newest first), optionally only those in ``statuses``."""
    table = deployment.pipeline(PIPELINE)["file_table"]
    pages = (
        deployment.client("dynamodb")
        .get_paginator("scan")
        .paginate(
            TableName=table,
            FilterExpression="part = :file",
            ExpressionAttributeValues={":file": {"S": "file"}},
        )
    )
    rows = [_row(item) for page in pages for item in page["Items"]]
    if statuses:
        rows = [row for row in rows if row["status"] in statuses]
    rows.sort(key=lambda row: str(row["received_at"]), reverse=True)
    return rows[:limit]


def file(deployment: Deployment, file_id: str) -> dict[str, Any]:
    """One file: its status record and, once it finished, its report's summary."""
    outputs = deployment.pipeline(PIPELINE)
    item = (
        deployment.client("dynamodb")
        .get_item(
            TableName=outputs["file_table"],
            Key={"file_id": {"S": file_id}, "part": {"S": "file"}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    if not item:
        raise LpError(f"no file {file_id!r} (lp csv files lists them)")
    record = {k: from_attribute(v) for k, v in item.items()}
    if record.get("report_key"):
        report = report_of(deployment, file_id)
        record["rejected_rows"] = [
            {k: r.get(k) for k in ("row", "reason", "detail")} for r in report.get("rejected", [])[:20]
        ]
    return record


def report_of(deployment: Deployment, file_id: str) -> dict[str, Any]:
    outputs = deployment.pipeline(PIPELINE)
    try:
        body = deployment.client("s3").get_object(
            Bucket=outputs["results_bucket"], Key=f"reports/{file_id}.json"
        )
    except Exception as error:
        raise LpError(f"no report for {file_id}: {error}") from error
    report: dict[str, Any] = json.loads(body["Body"].read())
    return report


def send(deployment: Deployment, path: Path, key: str | None, wait: float) -> dict[str, Any]:
    """Upload ``path`` under the incoming prefix (as a partner would); with ``wait``, until it finished."""
    from csv_to_api.contract import make_file_id

    outputs = deployment.pipeline(PIPELINE)
    key = key or f"{outputs['incoming_prefix']}{path.name}"
    if not key.startswith(outputs["incoming_prefix"]) or not key.lower().endswith(".csv"):
        raise LpError(f"{key}: only keys {outputs['incoming_prefix']}*.csv start a file")
    s3 = deployment.client("s3")
    put = s3.put_object(Bucket=outputs["upload_bucket"], Key=key, Body=path.read_bytes())
    file_id = make_file_id(outputs["upload_bucket"], key, put["ETag"])
    result: dict[str, Any] = {"file_id": file_id, "key": key, "status": "uploaded"}
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            record = file(deployment, file_id)
        except LpError:
            record = {}
        if record.get("status") in FINAL:
            return {**result, **_summary(record)}
        time.sleep(1)
    return result


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    counts = record.get("counts") or {}
    return {
        "file_id": record["file_id"],
        "key": record.get("key"),
        "status": record.get("status"),
        "rows": record.get("rows"),
        **{name: counts.get(name, 0) for name in ("accepted", "already_accepted", "rejected")},
        "rejects_by_reason": record.get("rejects_by_reason") or {},
        "report": record.get("report_key"),
    }


def executions(
    deployment: Deployment, *, redrive: bool, yes: bool, ids: tuple[str, ...], limit: int
) -> list[dict[str, Any]]:
    """Executions of the file state machine that failed, timed out or were aborted and have no newer
    attempt; with ``redrive``, start each again as ``<file id>-r<n>`` (a dry run unless ``yes``)."""
    from pipelines_shared.executions import base_name, failed_executions, redrive_executions

    arn = deployment.pipeline(PIPELINE)["state_machine_arn"]
    sfn = deployment.client("stepfunctions")
    if not redrive:
        # With ids, choose among all of them first: the limit counts what is shown, not what is read.
        found = failed_executions(sfn, arn, limit if not ids else 10**9, unresolved_only=True)
        return [e for e in found if not ids or e["name"] in ids or base_name(e["name"]) in ids][:limit]
    return redrive_executions(sfn, arn, names=set(ids) or None, dry_run=not yes, limit=limit)
