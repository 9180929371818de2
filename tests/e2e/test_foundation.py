"""The foundation, end to end: real `terraform apply` of the `local` root on the local stack, a clean
re-plan, and the example worker fed through its SQS queue with good messages and a poison one."""

from __future__ import annotations

import json
import time
import uuid

import boto3
import pytest
from devstack import terraform

pytestmark = pytest.mark.e2e

MAX_RECEIVE_COUNT = 3  # terraform/modules/example_pipeline: sqs_source.max_receive_count
VISIBILITY_TIMEOUT = 6 * 3  # 6 x the function timeout (3 s)


def test_plan_after_apply_reports_no_changes(deployed_stack):
    result = terraform.plan_detailed_exitcode()
    assert result.returncode == 0, f"plan is not clean (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"


def test_outputs_expose_every_entry_point(deployed_stack):
    example = deployed_stack["example"]
    assert set(example) >= {"function_name", "queue_url", "dlq_url", "tracking_table"}
    assert deployed_stack["endpoint"].startswith("http")


def _queue_counts(sqs, url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def _wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def test_example_worker_processes_good_messages_once_and_dead_letters_poison(deployed_stack):
    example = deployed_stack["example"]
    sqs, dynamodb = boto3.client("sqs"), boto3.client("dynamodb")
    run = uuid.uuid4().hex[:8]
    good = [{"version": 1, "id": f"{run}-{i:03d}", "payload": {"n": i, "run": run}} for i in range(25)]
    poison = json.dumps({"version": 1, "payload": "no id: can never be processed", "run": run})

    bodies = [json.dumps(message) for message in good]
    bodies.append(bodies[7])  # the same item delivered twice (a producer retry): must land once
    bodies.append(poison)
    for start in range(0, len(bodies), 10):
        chunk = bodies[start : start + 10]
        response = sqs.send_message_batch(
            QueueUrl=example["queue_url"],
            Entries=[
                {
                    "Id": str(i),
                    "MessageBody": body,
                    "MessageAttributes": {"correlation_id": {"DataType": "String", "StringValue": f"{run}-{i}"}},
                }
                for i, body in enumerate(chunk)
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

    _wait_for(lambda: len(tracked()) == len(good), timeout=60, what="all good messages to be processed")

    # The poison message fails on every receive; after maxReceiveCount receives SQS moves it to the DLQ.
    def dead_letters() -> list[dict]:
        response = sqs.receive_message(
            QueueUrl=example["dlq_url"],
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            AttributeNames=["ApproximateReceiveCount"],
            WaitTimeSeconds=1,
        )
        return [m for m in response.get("Messages", []) if json.loads(m["Body"]).get("run") == run]

    dead = _wait_for(dead_letters, timeout=VISIBILITY_TIMEOUT * (MAX_RECEIVE_COUNT + 1) + 30, what="the poison message in the DLQ")

    assert [m["Body"] for m in dead] == [poison]
    # It was received maxReceiveCount times from the source queue before being moved (plus our own
    # receive of it from the DLQ, which SQS counts too).
    assert int(dead[0]["Attributes"]["ApproximateReceiveCount"]) >= MAX_RECEIVE_COUNT
    items = tracked()
    assert sorted(items) == sorted(message["id"] for message in good)
    assert all(item["status"]["S"] == "processed" for item in items.values())
    # Nothing is left in flight: every good message was deleted once processed.
    assert _wait_for(lambda: _queue_counts(sqs, example["queue_url"]) == (0, 0) or None, 30, "an empty queue")
