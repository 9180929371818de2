"""Failed executions of the file state machine: list them, start them again under a new name."""

from __future__ import annotations

import re
from typing import Any


def failed_executions(sfn: Any, state_machine_arn: str, limit: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in sfn.get_paginator("list_executions").paginate(
        stateMachineArn=state_machine_arn, statusFilter="FAILED"
    ):
        for execution in page["executions"]:
            found.append(
                {
                    "name": execution["name"],
                    "arn": execution["executionArn"],
                    "stopped": str(execution.get("stopDate")),
                }
            )
            if len(found) >= limit:
                return found
    return found


def _base(name: str) -> str:
    return re.sub(r"-r\d+$", "", name)


def redrive_executions(
    sfn: Any, state_machine_arn: str, *, names: set[str] | None, dry_run: bool, limit: int
) -> list[dict[str, Any]]:
    """Start each failed execution's input again as ``<file id>-r<n>``, once per file: a file whose
    newer attempt exists (running, or succeeded) is not started again."""
    every = [
        execution
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn)
        for execution in page["executions"]
    ]
    attempts: dict[str, list[dict[str, Any]]] = {}
    for execution in every:
        attempts.setdefault(_base(execution["name"]), []).append(execution)
    done: list[dict[str, Any]] = []
    for base, runs in sorted(attempts.items()):
        latest = max(runs, key=lambda e: e["startDate"])
        if latest["status"] != "FAILED" or (
            names is not None and latest["name"] not in names and base not in names
        ):
            continue
        name = f"{base}-r{len(runs)}"
        entry = {"failed": latest["name"], "new": name, "action": "would redrive"}
        if not dry_run:
            source = sfn.describe_execution(executionArn=latest["executionArn"])
            try:
                sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=source["input"])
                entry["action"] = "redriven"
            except sfn.exceptions.ExecutionAlreadyExists:
                entry["action"] = "already redriven"
        done.append(entry)
        if len(done) >= limit:
            break
    return done
