"""The foundation, end to end: real `terraform apply` of the `local` root on the local stack, a clean
re-plan, and the example worker fed through its SQS queue with good messages and a poison one."""

from __future__ import annotations

import json
import uuid

import boto3
import hcl2
import pytest

from devstack import paths, terraform

pytestmark = pytest.mark.e2e

MAX_RECEIVE_COUNT = 3  # terraform/modules/example: sqs_source.max_receive_count
VISIBILITY_TIMEOUT = 6 * 3  # 6 x the function timeout (3 s)
TERRAFORM = paths.TERRAFORM


def test_plan_after_apply_reports_no_changes(deployed_stack):
    result = terraform.plan_detailed_exitcode()
    assert result.returncode == 0, (
        f"plan is not clean (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
    )


PIPELINE_MODULES = (
    "example",
    "alerts_to_sftp",
    "ndjson_to_parquet",
    "csv_to_api",
)  # terraform/modules/<pipeline>


def _module_outputs(pipeline: str) -> set[str]:
    with (TERRAFORM / "modules" / pipeline / "outputs.tf").open() as handle:
        return {name.strip('"') for block in hcl2.load(handle).get("output", []) for name in block}


def _exists(kind: str, name: str) -> None:
    """Raises (a ClientError) unless the deployed stack has that resource."""
    clients = {
        "function": lambda: boto3.client("lambda").get_function(FunctionName=name),
        "queue": lambda: boto3.client("sqs").get_queue_attributes(QueueUrl=name, AttributeNames=["QueueArn"]),
        "bucket": lambda: boto3.client("s3").head_bucket(Bucket=name),
        "table": lambda: boto3.client("dynamodb").describe_table(TableName=name),
        "state machine": lambda: boto3.client("stepfunctions").describe_state_machine(stateMachineArn=name),
        "schedule": lambda: boto3.client("scheduler").get_schedule(Name=name),
        "glue job": lambda: boto3.client("glue").get_job(JobName=name),
        "event bus": lambda: boto3.client("events").describe_event_bus(Name=name),
        "topic": lambda: boto3.client("sns").get_topic_attributes(TopicArn=name),
        "dashboard": lambda: boto3.client("cloudwatch").get_dashboard(DashboardName=name),
        "load balancer": lambda: boto3.client("elbv2").describe_load_balancers(Names=[name]),
        "parameter": lambda: boto3.client("ssm").get_parameter(Name=name),
    }
    clients[kind]()


def _entry_points(name: str, value: object) -> list[tuple[str, str]]:
    """(kind, name) of each resource an output names; [] for outputs that are values, not resources."""
    if name in {
        "landing_prefix", "settings", "trigger_url", "alb_dns_name", "incoming_prefix", "rate_limit",
        "alarm_names", "log_groups", "records_api_url",
    }:  # fmt: skip
        return []
    if name == "dead_letter_queues":
        return [("queue", queue["dlq_url"]) for queue in value.values()] + [
            ("queue", queue["source_url"]) for queue in value.values() if queue.get("source_url")
        ]
    if name == "feeds_parameter":
        return [("parameter", value)]
    if name == "functions":
        return [("function", fn) for fn in value.values() if fn is not None]  # null: a flag is off
    if name == "glue_jobs":
        return [("glue job", job) for job in value.values()]
    kinds = {
        "function_name": "function",
        "queue_url": "queue",
        "dlq_url": "queue",
        "state_machine_arn": "state machine",
        "event_bus_name": "event bus",
        "alerts_topic_arn": "topic",
        "alarm_topic_arn": "topic",
        "ingest_queue_url": "queue",
        "dashboard_name": "dashboard",
        "alb_name": "load balancer",
    }
    if name in kinds:
        return [(kinds[name], value)]
    for suffix, kind in (("_bucket", "bucket"), ("_table", "table"), ("_schedule", "schedule")):
        if name.endswith(suffix):
            return [(kind, value)]
    raise AssertionError(f"output {name!r} is neither a known entry point nor a value: classify it here")


def test_outputs_expose_every_entry_point(deployed_stack):
    example = deployed_stack["example"]
    assert set(example) >= {"function_name", "queue_url", "dlq_url", "tracking_table"}
    assert deployed_stack["endpoint"].startswith("http")

    _exists("topic", deployed_stack["alarm_topic_arn"])
    checked = []
    for pipeline in PIPELINE_MODULES:
        outputs = deployed_stack[pipeline]
        assert outputs, f"the local root deploys {pipeline}, but its output is empty"
        missing = _module_outputs(pipeline) - set(outputs)
        assert not missing, (
            f"modules/{pipeline} outputs {sorted(missing)}, the root's {pipeline} output does not"
        )
        for name, value in outputs.items():
            for kind, resource in _entry_points(name, value):
                _exists(kind, resource)
                checked.append((pipeline, kind, resource))

    alerts = deployed_stack["alerts_to_sftp"]
    balancer = boto3.client("elbv2").describe_load_balancers(Names=[alerts["alb_name"]])["LoadBalancers"][0]
    assert alerts["alb_dns_name"] == balancer["DNSName"]
    assert alerts["trigger_url"].endswith(f"/_alb/{alerts['alb_name']}/jobs")  # the emulator's route
    # Every kind of entry point of the three pipelines was found on the stack, not skipped.
    assert {kind for _, kind, _ in checked} == {
        "function",
        "queue",
        "bucket",
        "table",
        "state machine",
        "schedule",
        "glue job",
        "event bus",
        "topic",
        "dashboard",
        "load balancer",
        "parameter",
    }


def _log_events(group: str, phrase: str, run: str) -> list[dict]:
    """The function's JSON log lines containing phrase, of this test run (by correlation id)."""
    logs = boto3.client("logs")
    events = []
    for page in logs.get_paginator("filter_log_events").paginate(
        logGroupName=group, filterPattern=f'"{phrase}"'
    ):
        for event in page["events"]:
            line = json.loads(event["message"])
            if line.get("message") == phrase and str(line.get("correlation_id", "")).startswith(f"{run}-"):
                events.append(line)
    return events


def test_example_worker_processes_good_messages_once_and_dead_letters_poison(
    deployed_stack, wait_for, queue_counts
):
    example = deployed_stack["example"]
    sqs, dynamodb = boto3.client("sqs"), boto3.client("dynamodb")
    log_group = f"/aws/lambda/{example['function_name']}"
    run = uuid.uuid4().hex[:8]
    good = [{"version": 1, "id": f"{run}-{i:03d}", "payload": {"n": i, "run": run}} for i in range(25)]
    poison = json.dumps({"version": 1, "payload": "no id: can never be processed", "run": run})

    messages = [(f"{run}-{i}", json.dumps(message)) for i, message in enumerate(good)]
    messages.append((f"{run}-dup", messages[7][1]))  # the same item sent twice (a producer retry)
    messages.append((f"{run}-poison", poison))
    for start in range(0, len(messages), 10):
        response = sqs.send_message_batch(
            QueueUrl=example["queue_url"],
            Entries=[
                {
                    "Id": str(i),
                    "MessageBody": body,
                    "MessageAttributes": {
                        "correlation_id": {"DataType": "String", "StringValue": correlation}
                    },
                }
                for i, (correlation, body) in enumerate(messages[start : start + 10])
            ],
        )
        assert not response.get("Failed")

    def tracked() -> dict[str, dict]:
        items = {}
        for page in dynamodb.get_paginator("query").paginate(
            TableName=example["tracking_table"],
            KeyConditionExpression="pk = :ns AND begins_with(sk, :run)",
            ExpressionAttributeValues={":ns": {"S": "example"}, ":run": {"S": run}},
        ):
            for item in page["Items"]:
                items[item["sk"]["S"]] = item
        return items

    wait_for(lambda: len(tracked()) == len(good), timeout=60, what="all good messages to be processed")

    # The poison message fails on every receive; after maxReceiveCount receives SQS moves it to the
    # DLQ. Messages seen are hidden for a while, so each poll reads further into the DLQ.
    dead: dict[str, str] = {}

    def poison_dead_lettered() -> bool:
        response = sqs.receive_message(
            QueueUrl=example["dlq_url"], MaxNumberOfMessages=10, VisibilityTimeout=300, WaitTimeSeconds=1
        )
        for message in response.get("Messages", []):
            if json.loads(message["Body"]).get("run") == run or run in message["Body"]:
                dead[message["MessageId"]] = message["Body"]
        return poison in dead.values()

    wait_for(
        poison_dead_lettered, timeout=VISIBILITY_TIMEOUT * (MAX_RECEIVE_COUNT + 1) + 30, what="poison in DLQ"
    )

    assert list(dead.values()) == [poison]  # only the poison message, once; no good message
    items = tracked()
    assert sorted(items) == sorted(message["id"] for message in good)
    assert all(item["status"]["S"] == "processed" for item in items.values())

    # The function's own logs: every good item processed exactly once, the duplicate skipped,
    # and the poison message failed exactly maxReceiveCount times, then never again.
    processed = _log_events(log_group, "item processed", run)
    assert sorted(line["item_id"] for line in processed) == sorted(message["id"] for message in good)
    skipped = _log_events(log_group, "item already processed, skipped", run)
    assert [line["item_id"] for line in skipped] == [good[7]["id"]]
    failures = _log_events(log_group, "sqs record failed", run)
    assert [line["correlation_id"] for line in failures] == [f"{run}-poison"] * MAX_RECEIVE_COUNT
    assert {line["error_type"] for line in failures} == {"InvalidMessage"}
    assert len({line["request_id"] for line in failures}) == MAX_RECEIVE_COUNT  # three separate invocations

    # Nothing is left in flight: every good message was deleted once processed.
    assert wait_for(lambda: queue_counts(example["queue_url"]) == (0, 0), 30, "an empty queue")
