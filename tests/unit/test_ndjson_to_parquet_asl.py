"""The processor state machine (terraform/modules/ndjson_to_parquet/processor.asl.json) as a
graph: rendered the way Terraform's templatefile() renders it, every state reachable, every failure
ending in the SNS alert and a Fail state, the seed's states present, and nothing the local stack
cannot run (no .sync integrations)."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

MODULE = Path(__file__).resolve().parents[2] / "terraform" / "modules" / "ndjson_to_parquet"
TEMPLATE = MODULE / "processor.asl.json"
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")

VALUES = {
    "table_name": "ndjson-parquet-sqs-file-tracking-test",
    "status_updater_arn": "arn:aws:lambda:us-east-1:123456789012:function:ndjson-parquet-status-test",
    "alerts_topic_arn": "arn:aws:sns:us-east-1:123456789012:ndjson-parquet-alerts-test",
    "environment": "test",
    "glue_poll_seconds": 30,
    "concurrent_runs_retry_seconds": 60,
    "concurrent_runs_max_attempts": 6,
    "retry_interval_seconds": 2,
    "timeout_seconds": 14400,
}

# The seed's state machine, in the order of a successful run, and its failure path.
HAPPY_PATH = [
    "UpdateStatusProcessing",
    "StartGlueJob",
    "WaitForGlue",
    "GetGlueJobRun",
    "CheckGlueJobRun",
    "UpdateStatusCompleted",
    "BatchUpdateCompleted",
    "PipelineSucceeded",
]
FAILURE_PATH = ["UpdateStatusFailed", "BatchUpdateFailed", "SendFailureAlert", "PipelineFailed"]
GLUE_FAILED_STATES = ["FAILED", "ERROR", "TIMEOUT", "STOPPED", "EXPIRED"]
STATUS_UPDATE_FIELDS = {
    "version",
    "manifest_id",
    "date_prefix",
    "manifest_path",
    "outcome",
    "glue_job_run_id",
    "error",
}


def render(values: dict[str, object]) -> str:
    """templatefile() for this template: ${name} placeholders only (no directives, no escapes)."""
    text = TEMPLATE.read_text()
    assert "%{" not in text
    assert "$${" not in text
    return PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), text)


@pytest.fixture(scope="module")
def definition() -> dict:
    return json.loads(render(VALUES))


@pytest.fixture(scope="module")
def states(definition) -> dict[str, dict]:
    return definition["States"]


def successors(state: dict) -> Iterator[str]:
    if "Next" in state:
        yield state["Next"]
    if "Default" in state:
        yield state["Default"]
    for choice in state.get("Choices", []):
        yield choice["Next"]
    for catcher in state.get("Catch", []):
        yield catcher["Next"]


def reachable(states: dict[str, dict], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(successors(states[name]))
    return seen


def test_terraform_passes_exactly_the_placeholders_the_template_uses():
    used = set(PLACEHOLDER.findall(TEMPLATE.read_text()))
    terraform = (MODULE / "orchestration.tf").read_text()
    call = terraform.split('templatefile("${path.module}/processor.asl.json", {')[1].split("})")[0]
    passed = set(re.findall(r"^\s*(\w+)\s*=", call, re.MULTILINE))
    assert used == passed == set(VALUES)


def test_every_state_is_reachable_and_every_transition_lands_on_a_state(definition, states):
    assert definition["StartAt"] == "UpdateStatusProcessing"
    for name, state in states.items():
        missing = [target for target in successors(state) if target not in states]
        assert not missing, f"{name} goes to unknown states {missing}"
    assert reachable(states, definition["StartAt"]) == set(states)


def test_the_seeds_states_exist_with_their_types(states):
    for name in HAPPY_PATH + FAILURE_PATH:
        assert name in states
    assert states["PipelineSucceeded"]["Type"] == "Succeed"
    assert states["AlreadyHandled"]["Type"] == "Succeed"
    # Fail, so a failed manifest is an ExecutionsFailed datapoint for the alarm.
    assert states["PipelineFailed"]["Type"] == "Fail"


def test_a_successful_run_follows_the_seeds_order(states):
    path, name = [], "UpdateStatusProcessing"
    while True:
        path.append(name)
        state = states[name]
        if state["Type"] == "Succeed":
            break
        if state["Type"] == "Choice":
            name = next(c["Next"] for c in state["Choices"] if c.get("StringEquals") == "SUCCEEDED")
        else:
            name = state["Next"]
    assert path == HAPPY_PATH


def test_the_failure_path_is_a_chain_to_the_alert_and_the_fail_state(states):
    for current, following in itertools.pairwise(FAILURE_PATH):
        assert states[current]["Next"] == following
        # A failing step still hands over to the next one: the alert is always attempted.
        assert [c["Next"] for c in states[current]["Catch"]] == [following]
        assert all(c["ResultPath"] not in (None, "$", "$.error") for c in states[current]["Catch"])


def test_every_task_catches_everything_into_the_failure_path(states):
    failure_entry = set(FAILURE_PATH)
    for name, state in states.items():
        if state["Type"] != "Task":
            continue
        catchers = state.get("Catch", [])
        assert catchers, f"{name} lets errors escape"
        assert catchers[-1]["ErrorEquals"] == ["States.ALL"], f"{name} lets errors escape"
        for catcher in catchers:
            if catcher["Next"] == "AlreadyHandled":
                continue
            # Every caught error reaches the alert (the alert's own failure: the Fail state) and
            # can only end the execution FAILED.
            after = reachable(states, catcher["Next"])
            assert "SendFailureAlert" in after or name == "SendFailureAlert", f"{name}: {catcher}"
            assert after & failure_entry, f"{name}: {catcher}"
            ends = {n for n in after if states[n]["Type"] in ("Succeed", "Fail")}
            assert ends == {"PipelineFailed"}, f"{name}: {catcher} may end in {ends}"


def test_only_a_lost_condition_is_already_handled(states):
    processing = states["UpdateStatusProcessing"]
    assert processing["Resource"] == "arn:aws:states:::dynamodb:updateItem"
    params = processing["Parameters"]
    assert params["Key"]["file_key"] == {"S.$": "$.manifest_key"}
    values = params["ExpressionAttributeValues"]
    condition = params["ConditionExpression"]
    allowed = {values[token]["S"] for token in re.findall(r":\w+", condition.split(" OR ")[0])}
    assert allowed == {"pending", "failed"}
    assert "ADD #version :one" in params["UpdateExpression"]
    handled = [c for c in processing["Catch"] if c["Next"] == "AlreadyHandled"]
    assert [c["ErrorEquals"] for c in handled] == [["DynamoDB.ConditionalCheckFailedException"]]
    # The lost condition is never retried (a retry cannot win it), other errors are.
    first = processing["Retry"][0]
    assert first == {"ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"], "MaxAttempts": 0}


def test_glue_is_started_and_polled_without_sync_integrations(definition, states):
    resources = [s["Resource"] for s in states.values() if "Resource" in s]
    assert not [r for r in resources if r.endswith((".sync", ".waitForTaskToken")) or ".sync:" in r]
    start = states["StartGlueJob"]
    assert start["Resource"] == "arn:aws:states:::aws-sdk:glue:startJobRun"
    assert start["Parameters"]["JobName.$"] == "$.glue_job_name"
    assert start["Parameters"]["Arguments"] == {
        "--manifest_path.$": "$.manifest_path",
        "--output_path.$": "$.output_path",
        "--manifest_id.$": "$.manifest_id",
    }
    concurrent = start["Retry"][0]
    assert concurrent["ErrorEquals"] == ["Glue.ConcurrentRunsExceededException"]
    assert (concurrent["IntervalSeconds"], concurrent["MaxAttempts"], concurrent["BackoffRate"]) == (60, 6, 2)
    assert states["WaitForGlue"]["Seconds"] == VALUES["glue_poll_seconds"]
    assert states["GetGlueJobRun"]["Resource"] == "arn:aws:states:::aws-sdk:glue:getJobRun"
    assert definition["TimeoutSeconds"] == VALUES["timeout_seconds"]


def test_every_glue_run_state_is_decided(states):
    check = states["CheckGlueJobRun"]
    targets = {choice.get("StringEquals"): choice["Next"] for choice in check["Choices"]}
    assert targets["SUCCEEDED"] == "UpdateStatusCompleted"
    failed = next(c for c in check["Choices"] if "Or" in c)
    assert sorted(rule["StringEquals"] for rule in failed["Or"]) == sorted(GLUE_FAILED_STATES)
    assert "UpdateStatusFailed" in reachable(states, failed["Next"])
    # STARTING, RUNNING, STOPPING, WAITING: poll again.
    assert check["Default"] == "WaitForGlue"


@pytest.mark.parametrize(
    ("state", "outcome"), [("BatchUpdateCompleted", "completed"), ("BatchUpdateFailed", "failed")]
)
def test_status_updater_gets_the_contracts_event(states, state, outcome):
    task = states[state]
    assert task["Resource"] == "arn:aws:states:::lambda:invoke"
    assert task["Parameters"]["FunctionName"] == VALUES["status_updater_arn"]
    payload = task["Parameters"]["Payload"]
    assert {key.removesuffix(".$") for key in payload} == STATUS_UPDATE_FIELDS
    assert payload["version"] == 1
    assert payload["outcome"] == outcome
    lambda_errors = task["Retry"][0]["ErrorEquals"]
    assert "Lambda.ServiceException" in lambda_errors
    assert "Lambda.TooManyRequestsException" in lambda_errors


def test_the_alert_names_the_manifest_its_date_run_and_error(states):
    alert = states["SendFailureAlert"]
    assert alert["Resource"] == "arn:aws:states:::sns:publish"
    params = alert["Parameters"]
    assert params["TopicArn"] == VALUES["alerts_topic_arn"]
    for path in ("$.manifest_id", "$.date_prefix", "$.glue.JobRunLabel", "$.error.Error", "$.error.Cause"):
        assert path in params["Message.$"]
    assert "[test]" in params["Subject.$"]
    assert "$.manifest_id" in params["Subject.$"]
