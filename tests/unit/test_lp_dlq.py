"""`lp dlq` against in-process SQS (moto): discovery from Terraform outputs, peeking leaves messages
in place, a dry run moves nothing, a redrive moves each chosen message once (body and attributes
kept) and deletes it from the DLQ only after the send succeeded, and wrong names fail clearly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lp import dlq
from lp.cli import main
from lp.deployment import LpError


@pytest.fixture
def sqs() -> Any:
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


def queue_pair(sqs: Any, name: str) -> tuple[str, str]:
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    source_url = sqs.create_queue(QueueName=f"{name}-queue")["QueueUrl"]
    return dlq_url, source_url


def bodies(sqs: Any, url: str) -> list[str]:
    found = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get(
        "Messages"
    ):
        found += [m["Body"] for m in batch]
    return sorted(found)


@pytest.fixture
def outputs(sqs: Any, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    alerts = queue_pair(sqs, "alerts")
    ndjson = queue_pair(sqs, "ndjson")
    extra = queue_pair(sqs, "csv-callers")
    values = {
        "region": "us-east-1",
        "alarm_topic_arn": "arn:aws:sns:us-east-1:123456789012:alarms",
        "alerts_to_sftp": {"dlq_url": alerts[0], "queue_url": alerts[1], "staging_bucket": "b"},
        "ndjson_to_parquet": {"dlq_url": ndjson[0], "queue_url": ndjson[1]},
        "csv_to_api": {"dead_letter_queues": {"callers": {"dlq_url": extra[0], "source_url": extra[1]}}},
        "disabled_pipeline": None,
    }
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({k: {"value": v, "type": "dynamic"} for k, v in values.items()}))
    return path, values


def test_every_pipelines_dead_letter_queues_are_found(outputs):
    _, values = outputs
    found = dlq.discover(values)
    assert [q.id for q in found] == ["alerts_to_sftp", "csv_to_api/callers", "ndjson_to_parquet"]
    assert found[0].source_url == values["alerts_to_sftp"]["queue_url"]
    with pytest.raises(LpError, match=r"no dead-letter queue 'nope'.*alerts_to_sftp"):
        dlq.select(found, "nope")


def test_peek_leaves_every_message_in_the_dlq(sqs, outputs):
    _, values = outputs
    queue = dlq.select(dlq.discover(values), "alerts_to_sftp")[0]
    for i in range(13):
        sqs.send_message(QueueUrl=queue.dlq_url, MessageBody=f"m{i}")
    shown = dlq.peek(sqs, queue, limit=20)
    assert sorted(m["body"] for m in shown) == sorted(f"m{i}" for i in range(13))
    assert dlq.depth(sqs, queue.dlq_url) == (13, 0)


def test_a_dry_run_moves_nothing_and_says_what_it_would_move(sqs, outputs):
    _, values = outputs
    queue = dlq.select(dlq.discover(values), "ndjson_to_parquet")[0]
    sqs.send_message(QueueUrl=queue.dlq_url, MessageBody="poison")
    outcome = dlq.redrive(sqs, queue)
    assert [(m.body, m.action) for m in outcome.messages] == [("poison", "would redrive")]
    assert dlq.depth(sqs, queue.dlq_url) == (1, 0)
    assert dlq.depth(sqs, queue.source_url) == (0, 0)


def test_a_redrive_moves_each_message_once_with_its_attributes(sqs, outputs):
    _, values = outputs
    queue = dlq.select(dlq.discover(values), "alerts_to_sftp")[0]
    attributes = {"correlation_id": {"DataType": "String", "StringValue": "job-1"}}
    for i in range(25):
        sqs.send_message(QueueUrl=queue.dlq_url, MessageBody=f"m{i:02d}", MessageAttributes=attributes)
    outcome = dlq.redrive(sqs, queue, dry_run=False)
    assert (outcome.moved, outcome.failed) == (25, 0)
    assert dlq.depth(sqs, queue.dlq_url) == (0, 0)
    moved = sqs.receive_message(
        QueueUrl=queue.source_url, MaxNumberOfMessages=1, MessageAttributeNames=["All"]
    )
    assert moved["Messages"][0]["MessageAttributes"]["correlation_id"]["StringValue"] == "job-1"
    assert bodies(sqs, queue.source_url) == sorted(
        f"m{i:02d}" for i in range(25) if f"m{i:02d}" != moved["Messages"][0]["Body"]
    )


def test_a_redrive_by_message_id_moves_only_that_message(sqs, outputs):
    _, values = outputs
    queue = dlq.select(dlq.discover(values), "alerts_to_sftp")[0]
    ids = {sqs.send_message(QueueUrl=queue.dlq_url, MessageBody=b)["MessageId"]: b for b in ("a", "b", "c")}
    chosen = next(i for i, b in ids.items() if b == "b")
    outcome = dlq.redrive(sqs, queue, message_ids={chosen, "no-such-id"}, dry_run=False)
    assert sorted((m.body, m.action) for m in outcome.messages) == [("", "not found"), ("b", "redriven")]
    assert bodies(sqs, queue.source_url) == ["b"]
    assert bodies(sqs, queue.dlq_url) == ["a", "c"]


class SendFails:
    """SQS whose sends to the source queue fail: nothing may be deleted from the DLQ."""

    def __init__(self, sqs: Any) -> None:
        self.sqs = sqs

    def send_message(self, **kwargs: Any) -> Any:
        raise ConnectionError("source queue unreachable")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sqs, name)


def test_a_failed_send_keeps_the_message_in_the_dlq(sqs, outputs):
    _, values = outputs
    queue = dlq.select(dlq.discover(values), "alerts_to_sftp")[0]
    sqs.send_message(QueueUrl=queue.dlq_url, MessageBody="keep me")
    outcome = dlq.redrive(SendFails(sqs), queue, dry_run=False)
    assert (outcome.moved, outcome.failed) == (0, 1)
    assert "source queue unreachable" in outcome.messages[0].action
    assert dlq.depth(sqs, queue.dlq_url) == (1, 0)  # visible again at once, not hidden for a minute


def run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err


def test_the_cli_lists_shows_and_redrives_with_json(sqs, outputs, capsys):
    path, values = outputs
    sqs.send_message(QueueUrl=values["alerts_to_sftp"]["dlq_url"], MessageBody='{"poison": 1}')
    code, out, _ = run(capsys, "--outputs", str(path), "--json", "dlq", "list")
    assert code == 0
    depths = {row["queue"]: row["messages"] for row in json.loads(out)}
    assert depths == {"alerts_to_sftp": 1, "csv_to_api/callers": 0, "ndjson_to_parquet": 0}
    code, out, _ = run(capsys, "--outputs", str(path), "dlq", "redrive", "alerts_to_sftp", "--json")
    assert code == 0
    assert json.loads(out)["dry_run"] is True
    assert dlq.depth(sqs, values["alerts_to_sftp"]["dlq_url"]) == (1, 0)
    code, out, _ = run(capsys, "--outputs", str(path), "dlq", "redrive", "alerts_to_sftp", "--yes", "--json")
    assert code == 0
    assert [m["action"] for m in json.loads(out)["messages"]] == ["redriven"]
    assert bodies(sqs, values["alerts_to_sftp"]["queue_url"]) == ['{"poison": 1}']


def test_the_cli_fails_with_one_line_for_a_wrong_name(sqs, outputs, capsys, tmp_path):
    path, _ = outputs
    code, _, err = run(capsys, "--outputs", str(path), "dlq", "show", "alerts")
    assert code == 1
    assert err.startswith("lp: error: no dead-letter queue 'alerts'")
    broken = json.loads(path.read_text())
    broken["alerts_to_sftp"]["value"]["dlq_url"] += "-gone"
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    code, _, err = run(capsys, "--outputs", str(tmp_path / "broken.json"), "dlq", "list")
    assert code == 1
    assert err.startswith("lp: AWS error:")
    assert "NonExistentQueue" in err
    code, _, err = run(capsys, "--outputs", str(tmp_path / "missing.json"), "dlq", "list")
    assert code == 1
    assert "cannot read outputs" in err
