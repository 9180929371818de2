"""`lp csv executions` against in-process Step Functions (moto): it lists the file executions that ended
badly and were not started again, a redrive is a dry run until --yes, and a repeated redrive starts
nothing new."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lp.cli import main

DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


@pytest.fixture
def machine(tmp_path: Path) -> Any:
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        arn = sfn.create_state_machine(
            name="files", definition=DEFINITION, roleArn="arn:aws:iam::123456789012:role/sfn"
        )["stateMachineArn"]
        outputs = {"region": "us-east-1", "csv_to_api": {"state_machine_arn": arn}}
        path = tmp_path / "outputs.json"
        path.write_text(json.dumps({k: {"value": v, "type": "dynamic"} for k, v in outputs.items()}))
        yield sfn, arn, path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    out = capsys.readouterr().out
    return int(exited.value.code or 0), json.loads(out) if out.strip() else None


def test_lists_then_redrives_the_executions_that_ended_badly(machine: Any, capsys: Any) -> None:
    sfn, arn, path = machine
    for name, stop in (("file-a", True), ("file-b", False)):
        started = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps({"file": name}))
        if stop:
            sfn.stop_execution(executionArn=started["executionArn"], error="e", cause="test")
    base = ("--outputs", str(path), "--json", "csv", "executions")

    code, listed = run(capsys, *base)
    assert code == 0
    assert [(e["name"], e["status"]) for e in listed] == [("file-a", "ABORTED")]

    code, dry = run(capsys, *base, "--redrive")
    assert (code, [(e["new"], e["action"]) for e in dry]) == (0, [("file-a-r1", "would redrive")])
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 2

    code, done = run(capsys, *base, "--redrive", "--yes")
    assert (code, [(e["new"], e["action"]) for e in done]) == (0, [("file-a-r1", "redriven")])
    code, again = run(capsys, *base, "--redrive", "--yes")
    assert (code, again) == (0, [])
    code, listed = run(capsys, *base, "file-a")
    assert (code, listed) == (0, [])  # its newest attempt runs: nothing left to redrive


def test_an_id_finds_its_execution_beyond_the_limit(machine: Any, capsys: Any) -> None:
    sfn, arn, path = machine
    for name in ("file-old", "file-new"):
        started = sfn.start_execution(stateMachineArn=arn, name=name, input="{}")
        sfn.stop_execution(executionArn=started["executionArn"], error="e", cause="test")
    base = ("--outputs", str(path), "--json", "csv", "executions", "--limit", "1")
    code, newest = run(capsys, *base)
    assert (code, len(newest)) == (0, 1)
    other = {"file-old", "file-new"} - {newest[0]["name"]}
    code, found = run(capsys, *base, *other)
    assert (code, [e["name"] for e in found]) == (0, sorted(other))
