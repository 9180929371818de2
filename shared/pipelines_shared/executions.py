"""Executions of a state machine that ended badly (failed, timed out, aborted): list them, and start
each one's input again under a new name, once per original execution.

The attempts of one piece of work share a base name: ``<name>``, then ``<name>-r1``, ``<name>-r2``...
Only the newest attempt counts: a base whose newest attempt is running or succeeded is not started again,
and ``ExecutionAlreadyExists`` (two operators at once, or a redrive repeated) is an answer, not an error.
Safe only for state machines whose steps are idempotent, as every pipeline's here are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

BAD = ("FAILED", "TIMED_OUT", "ABORTED")
"""Statuses worth a second attempt."""
_ATTEMPT = re.compile(r"-r\d+$")


def base_name(name: str) -> str:
    """The name of the first attempt: ``abc-r2`` -> ``abc``."""
    return _ATTEMPT.sub("", name)


def _all(sfn: Any, state_machine_arn: str, status: str | None = None) -> Iterable[dict[str, Any]]:
    arguments = {"stateMachineArn": state_machine_arn} | ({"statusFilter": status} if status else {})
    for page in sfn.get_paginator("list_executions").paginate(**arguments):
        yield from page["executions"]


def _entry(execution: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": execution["name"],
        "arn": execution["executionArn"],
        "status": execution["status"],
        "started": str(execution.get("startDate", "")),
        "stopped": str(execution.get("stopDate", "")),
    }


def latest_attempts(sfn: Any, state_machine_arn: str) -> dict[str, list[dict[str, Any]]]:
    """Every execution, grouped by base name, newest attempt last."""
    attempts: dict[str, list[dict[str, Any]]] = {}
    for execution in _all(sfn, state_machine_arn):
        attempts.setdefault(base_name(execution["name"]), []).append(execution)
    for runs in attempts.values():
        runs.sort(key=lambda execution: execution["startDate"])
    return attempts


def failed_executions(
    sfn: Any, state_machine_arn: str, limit: int, *, unresolved_only: bool = False
) -> list[dict[str, Any]]:
    """Executions that failed, timed out or were aborted, newest first. With ``unresolved_only``, only
    those whose work has no newer attempt (what still needs a redrive)."""
    if unresolved_only:
        found = [
            runs[-1] for runs in latest_attempts(sfn, state_machine_arn).values() if runs[-1]["status"] in BAD
        ]
    else:
        found = [execution for status in BAD for execution in _all(sfn, state_machine_arn, status)]
    found.sort(key=lambda execution: execution.get("stopDate") or execution["startDate"], reverse=True)
    return [_entry(execution) for execution in found[:limit]]


def redrive_executions(
    sfn: Any, state_machine_arn: str, *, names: set[str] | None, dry_run: bool, limit: int
) -> list[dict[str, Any]]:
    """Start each unresolved execution's input again as ``<base>-r<n>`` (``names``: only those, by
    execution or base name). Dry run: say what would start."""
    done: list[dict[str, Any]] = []
    for base, runs in sorted(latest_attempts(sfn, state_machine_arn).items()):
        latest = runs[-1]
        if latest["status"] not in BAD or (names is not None and not {latest["name"], base} & names):
            continue
        name = f"{base}-r{len(runs)}"
        entry = {"failed": latest["name"], "status": latest["status"], "new": name, "action": "would redrive"}
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
