"""The processor state machine (terraform/modules/ndjson_to_parquet/processor.asl.json) as a producer
and consumer of documented messages: it reads only fields the execution input schema requires, hands
the Glue job exactly its arguments, and the status-updater events and the SNS failure alert it builds
(computed from its Parameters, as Step Functions would) validate against their schemas and are taken
by batch-status-updater's parser."""

from __future__ import annotations

import re
from typing import Any

import pytest

import ndjson_to_parquet_job as glue
from contract_schemas import REPO, contract
from ndjson_asl import VALUES, definition, evaluate
from ndjson_to_parquet import contract as c

EXECUTION = contract("ndjson_to_parquet", "execution-input")
STATUS_UPDATE = contract("ndjson_to_parquet", "status-update")
ALERT = contract("ndjson_to_parquet", "failure-alert")

INPUT = EXECUTION.examples[0]
EXECUTION_ID = (
    f"arn:aws:states:eu-west-1:123456789012:execution:ndjson-parquet-processor-dev:{INPUT['manifest_id']}"
)
CONTEXT = {"Execution": {"Id": EXECUTION_ID}, "State": {"EnteredTime": "2026-02-01T12:05:00Z"}}
RUN = {
    "JobRunId": "jr_0123456789abcdef",
    "JobRunIdAttribute": {"S": "jr_0123456789abcdef"},
    "JobRunLabel": "jr_0123456789abcdef",
}
NO_RUN = definition()["States"]["NoGlueJobRun"]["Result"]
GLUE_FAILED = {
    "Error": "Glue.FAILED",
    "Cause": "ndjson_to_parquet_job FAILED: malformed record in s3://in/x.ndjson, line 5: bad",
}
NOT_STARTED = {"Error": "Glue.ConcurrentRunsExceededException", "Cause": "Concurrent runs exceeded"}
PATH = re.compile(r"(?<![$\w])\$\.([A-Za-z_]\w*)")


def input_paths(node: Any) -> set[str]:
    """First segment of every ``$.x`` reference of the definition to the state's input: not ``$$.``
    (the context) nor a ResultSelector's (the task's own result)."""
    if isinstance(node, dict):
        values = [value for key, value in node.items() if key != "ResultSelector"]
        return set().union(*(input_paths(value) for value in values), set())
    if isinstance(node, list):
        return set().union(*(input_paths(value) for value in node), set())
    return set(PATH.findall(node)) if isinstance(node, str) else set()


def written_paths(states: dict[str, Any]) -> set[str]:
    """Where the machine puts its own results (ResultPath of states and catchers)."""
    targets = [state.get("ResultPath") for state in states.values()]
    targets += [catcher["ResultPath"] for state in states.values() for catcher in state.get("Catch", [])]
    return {
        target[2:].split(".")[0] for target in targets if isinstance(target, str) and target.startswith("$.")
    }


def test_the_state_machine_reads_only_required_fields_of_the_execution_input():
    states = definition()["States"]
    own = written_paths(states)
    read = input_paths(states) - own
    undocumented = read - set(EXECUTION.schema["required"])
    assert not undocumented, (
        f"the state machine reads {undocumented}, which the execution input need not have"
    )
    # Its results never overwrite a field of the input it still needs.
    assert not own & set(EXECUTION.schema["properties"])
    assert {
        "manifest_id",
        "date_prefix",
        "manifest_key",
        "manifest_path",
        "glue_job_name",
        "output_path",
    } <= read


def test_the_glue_job_gets_exactly_its_arguments_from_the_execution_input():
    start = definition()["States"]["StartGlueJob"]["Parameters"]
    assert start["JobName.$"] == "$.glue_job_name"
    assert start["Arguments"] == {f"--{name}.$": f"$.{name}" for name in glue.REQUIRED_ARGS}
    assert set(glue.REQUIRED_ARGS) <= set(EXECUTION.schema["required"])
    arguments = evaluate(start["Arguments"], INPUT, CONTEXT)
    resolved = glue.resolve_args([token for pair in arguments.items() for token in pair], {})
    assert {name: resolved[name] for name in glue.REQUIRED_ARGS} == {
        name: INPUT[name] for name in glue.REQUIRED_ARGS
    }


@pytest.mark.parametrize(
    ("state_name", "glue", "error", "outcome"),
    [
        ("BatchUpdateCompleted", RUN, None, "completed"),
        ("BatchUpdateFailed", RUN, GLUE_FAILED, "failed"),
        ("BatchUpdateFailed", NO_RUN, NOT_STARTED, "failed"),
    ],
    ids=["succeeded", "glue-run-failed", "no-glue-run"],
)
def test_the_status_updater_events_the_machine_sends_are_documented(state_name, glue, error, outcome):
    state = {**INPUT, "glue": glue, **({"error": error} if error else {})}
    payload = evaluate(definition()["States"][state_name]["Parameters"]["Payload"], state, CONTEXT)
    STATUS_UPDATE.assert_produced(payload)
    update = c.StatusUpdate.from_event(payload)
    assert (update.outcome, update.glue_job_run_id) == (outcome, glue["JobRunId"])
    assert update.error == (None if error is None else f"{error['Error']}: {error['Cause']}")


def longest_environment() -> str:
    """The longest environment name terraform/modules/stack accepts."""
    variables = (REPO / "terraform" / "modules" / "stack" / "variables.tf").read_text()
    pattern = re.search(r'variable "environment".*?regex\("([^"]+)"', variables, re.DOTALL)
    assert pattern is not None
    assert pattern.group(1) == r"^[a-z][a-z0-9-]{1,15}$"
    return "e" + "-" * 15


@pytest.mark.parametrize("environment", ["dev", "staging", "prod", longest_environment()])
@pytest.mark.parametrize("glue", [RUN, NO_RUN], ids=["glue-run-failed", "no-glue-run"])
def test_the_failure_alert_is_a_publishable_documented_message(environment: str, glue: dict[str, Any]):
    topic = f"arn:aws:sns:eu-west-1:123456789012:ndjson-parquet-alerts-{environment}"
    states = definition({**VALUES, "environment": environment, "alerts_topic_arn": topic})["States"]
    state = {**INPUT, "glue": glue, "error": GLUE_FAILED}
    alert = evaluate(states["SendFailureAlert"]["Parameters"], state, CONTEXT)
    ALERT.assert_produced(alert)
    assert alert["Subject"] == f"[{environment}] NDJSON to Parquet: manifest {INPUT['manifest_id']} failed"
    for value in (
        INPUT["manifest_path"],
        INPUT["output_path"],
        EXECUTION_ID,
        GLUE_FAILED["Cause"],
        glue["JobRunLabel"],
    ):
        assert value in alert["Message"]
