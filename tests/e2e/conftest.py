"""Helpers every end-to-end test uses: waiting for the deployed graph to reach a state, queue depths,
and a temporary SQS inbox subscribed to an SNS topic (to read what a pipeline announced)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest


def wait_for[T](condition: Callable[[], T], timeout: float, what: str, interval: float = 1.0) -> T:
    """Poll ``condition`` until it returns something truthy and return that; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def queue_counts(url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


class Inbox:
    """An SQS queue subscribed to an SNS topic: ``messages()`` returns what arrived so far."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.received: list[dict[str, Any]] = []

    def messages(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs")
        for message in sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            self.received.append(json.loads(message["Body"]))  # the SNS envelope: Subject, Message, ...
            sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return self.received


def lp(*argv: str) -> tuple[int, Any]:
    """Run the operator CLI as installed by `make setup` (.venv/bin/lp) with ``--json`` against the
    local root: (exit status, its JSON output, or its stderr when it printed none)."""
    installed = Path(sys.prefix) / "bin" / "lp"
    command = [str(installed)] if installed.exists() else [sys.executable, "-m", "lp"]
    result = subprocess.run(
        [*command, "--json", *argv], capture_output=True, text=True, timeout=300, check=False
    )
    return result.returncode, json.loads(result.stdout) if result.stdout.strip() else result.stderr


@pytest.fixture(name="lp", scope="session")
def lp_fixture() -> Callable[..., tuple[int, Any]]:
    """``lp(*argv) -> (exit status, JSON output or stderr)``: see :func:`lp`."""
    return lp


@pytest.fixture(name="wait_for", scope="session")
def wait_for_fixture() -> Callable[..., Any]:
    """``wait_for(condition, timeout, what, interval=1.0)``: see :func:`wait_for`."""
    return wait_for


@pytest.fixture(name="queue_counts", scope="session")
def queue_counts_fixture() -> Callable[[str], tuple[int, int]]:
    """``queue_counts(url) -> (visible, in flight)``."""
    return queue_counts


@pytest.fixture
def sns_inbox() -> Iterator[Callable[[str], Inbox]]:
    """``sns_inbox(topic_arn)`` subscribes a new SQS queue to the topic; both go away after the test."""
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    created: list[tuple[str, str]] = []

    def subscribe(topic_arn: str) -> Inbox:
        url = sqs.create_queue(QueueName=f"e2e-inbox-{uuid.uuid4().hex[:12]}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sqs.set_queue_attributes(
            QueueUrl=url,
            Attributes={
                "Policy": json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "sns.amazonaws.com"},
                                "Action": "sqs:SendMessage",
                                "Resource": arn,
                                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                            }
                        ],
                    }
                )
            },
        )
        subscription = sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)["SubscriptionArn"]
        created.append((url, subscription))
        return Inbox(url)

    yield subscribe
    for url, subscription in created:
        sns.unsubscribe(SubscriptionArn=subscription)
        sqs.delete_queue(QueueUrl=url)
