"""The Lambda entry point on moto's DynamoDB: a mixed batch reports exactly the bad records."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from pipelines_shared.tracking.dynamodb import DynamoDBTrackingStore, create_table

TABLE = "example-tracking-test"


def sqs_record(message_id: str, body: str) -> dict:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {"correlation_id": {"stringValue": f"corr-{message_id}", "dataType": "String"}},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
        "awsRegion": "us-east-1",
    }


class Context:
    aws_request_id = "req-1"
    function_name = "example-worker-test"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:example-worker-test"


@pytest.fixture
def handler(monkeypatch):
    with mock_aws():
        create_table(DynamoDBTrackingStore(TABLE))
        monkeypatch.setenv("TRACKING_TABLE", TABLE)
        monkeypatch.setenv("LOG_LEVEL", "INFO")
        from example_worker import handler as module

        from pipelines_shared import aws

        aws.reset_clients()
        module.dependencies.cache_clear()  # a fresh cold start
        yield module.lambda_handler
        module.dependencies.cache_clear()
        aws.reset_clients()


def test_mixed_batch_reports_only_the_poison_record(handler):
    good = [json.dumps({"version": 1, "id": f"id-{i}", "payload": i}) for i in range(3)]
    event = {
        "Records": [
            sqs_record("m0", good[0]),
            sqs_record("poison", "{not json"),
            sqs_record("m1", good[1]),
            sqs_record("m2", good[2]),
            sqs_record("dup", good[0]),
        ]
    }
    response = handler(event, Context())
    assert response == {"batchItemFailures": [{"itemIdentifier": "poison"}]}
    items = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]
    assert sorted(item["sk"]["S"] for item in items) == ["id-0", "id-1", "id-2"]
    assert {item["message_id"]["S"] for item in items if item["sk"]["S"] == "id-0"} == {"m0"}


def test_empty_batch_reports_no_failures(handler):
    assert handler({"Records": []}, Context()) == {"batchItemFailures": []}
