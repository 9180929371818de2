"""Executions that ended badly are started again once per piece of work, under the next attempt's name,
and only while the newest attempt is the one that ended badly (moto's Step Functions)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from pipelines_shared.executions import base_name, failed_executions, redrive_executions

DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


@pytest.fixture
def sfn(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("stepfunctions", region_name="us-east-1")
        arn = client.create_state_machine(
            name="files", definition=DEFINITION, roleArn="arn:aws:iam::123456789012:role/sfn"
        )["stateMachineArn"]
        yield client, arn


def start(client: Any, arn: str, name: str, *, stop: bool) -> str:
    execution = client.start_execution(stateMachineArn=arn, name=name, input=json.dumps({"file": name}))
    if stop:  # moto's executions run until stopped: ABORTED stands for any bad end
        client.stop_execution(executionArn=execution["executionArn"], error="e", cause="test")
    return str(execution["executionArn"])


def test_base_names() -> None:
    assert base_name("abc") == base_name("abc-r1") == base_name("abc-r12") == "abc"
    assert base_name("a-rb") == "a-rb"


def test_a_dry_run_starts_nothing_and_a_redrive_starts_each_unresolved_once(sfn: tuple[Any, str]) -> None:
    client, arn = sfn
    start(client, arn, "f1", stop=True)
    start(client, arn, "f2", stop=True)
    start(client, arn, "f2-r1", stop=False)  # f2 was redriven already and runs
    start(client, arn, "f3", stop=False)
    found = failed_executions(client, arn, 10, unresolved_only=True)
    assert [(e["name"], e["status"]) for e in found] == [("f1", "ABORTED")]
    assert {e["name"] for e in failed_executions(client, arn, 10)} == {"f1", "f2"}

    dry = redrive_executions(client, arn, names=None, dry_run=True, limit=10)
    assert dry == [{"failed": "f1", "status": "ABORTED", "new": "f1-r1", "action": "would redrive"}]
    assert len(client.list_executions(stateMachineArn=arn)["executions"]) == 4

    done = redrive_executions(client, arn, names=None, dry_run=False, limit=10)
    assert [(e["new"], e["action"]) for e in done] == [("f1-r1", "redriven")]
    again = client.describe_execution(executionArn=arn.replace(":stateMachine:", ":execution:") + ":f1-r1")
    assert json.loads(again["input"]) == {"file": "f1"}
    # Run twice: the new attempt is running, so nothing is started again.
    assert redrive_executions(client, arn, names=None, dry_run=False, limit=10) == []


def test_a_second_failure_gets_the_next_attempt_and_ids_select(sfn: tuple[Any, str]) -> None:
    client, arn = sfn
    start(client, arn, "f1", stop=True)
    start(client, arn, "f1-r1", stop=True)
    start(client, arn, "f2", stop=True)
    done = redrive_executions(client, arn, names={"f1"}, dry_run=False, limit=10)
    assert [(e["failed"], e["new"], e["action"]) for e in done] == [("f1-r1", "f1-r2", "redriven")]
    done = redrive_executions(client, arn, names={"f2"}, dry_run=False, limit=10)
    assert [(e["failed"], e["new"]) for e in done] == [("f2", "f2-r1")]
