"""Alarm notifications can reach every topic the stack outputs (issue 8, bug 1).

A topic encrypted with the AWS managed alias/aws/sns key silently drops every CloudWatch alarm
notification: that key's policy cannot let cloudwatch.amazonaws.com use it. Each topic must be
encrypted with a customer managed key whose policy does, for this account only.
"""

from __future__ import annotations

import json

import boto3
import pytest

pytestmark = pytest.mark.e2e

ALARM_KEY_ACTIONS = {"kms:Decrypt", "kms:GenerateDataKey*"}


def _topics(outputs: dict) -> dict[str, str]:
    topics = {"alarm topic": outputs["alarm_topic_arn"]}
    if outputs.get("ndjson_to_parquet"):
        topics["NDJSON alerts topic"] = outputs["ndjson_to_parquet"]["alerts_topic_arn"]
    if outputs.get("csv_to_api"):
        topics["CSV alarm topic"] = outputs["csv_to_api"]["alarm_topic_arn"]
    return topics


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


def _grants_cloudwatch(statement: dict, account: str) -> bool:
    principals = _as_list(statement.get("Principal", {}).get("Service", []))
    actions = set(_as_list(statement.get("Action", [])))
    source_accounts = statement.get("Condition", {}).get("StringEquals", {}).get("aws:SourceAccount")
    return (
        statement.get("Effect") == "Allow"
        and "cloudwatch.amazonaws.com" in principals
        and (actions >= ALARM_KEY_ACTIONS or "kms:*" in actions)
        and _as_list(source_accounts) == [account]
    )


@pytest.mark.parametrize("which", ["alarm topic", "NDJSON alerts topic"])
def test_topic_key_lets_cloudwatch_alarms_publish(deployed_stack, which):
    topic_arn = _topics(deployed_stack)[which]
    account = topic_arn.split(":")[4]
    key_id = boto3.client("sns").get_topic_attributes(TopicArn=topic_arn)["Attributes"].get("KmsMasterKeyId")
    assert key_id, f"{which} {topic_arn} is not encrypted"
    assert not key_id.startswith("alias/aws/"), (
        f"{which} is encrypted with the AWS managed {key_id}: CloudWatch alarms cannot publish to it"
    )

    kms = boto3.client("kms")
    key = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert key["KeyManager"] == "CUSTOMER", key
    assert key["KeyState"] == "Enabled", key
    policy = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    statements = _as_list(policy["Statement"])
    assert any(_grants_cloudwatch(statement, account) for statement in statements), (
        f"the key of the {which} does not let cloudwatch.amazonaws.com (for account {account}) "
        f"use it: {json.dumps(statements, indent=1)}"
    )
    assert not any(
        statement.get("Effect") == "Deny" and "cloudwatch.amazonaws.com" in json.dumps(statement)
        for statement in statements
    ), "a Deny statement takes the grant back"
