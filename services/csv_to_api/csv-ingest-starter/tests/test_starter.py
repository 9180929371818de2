"""One execution per object version: a duplicate event starts nothing, a poison message goes to the DLQ."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from csv_ingest_starter.starter import FilesInFlight, NotAnObjectEvent, Starter, file_from_event
from csv_to_api.lifecycle import Lifecycle
from csv_to_api.outcomes import MemoryFileStore, MemoryRowStore


def event(key: str = "incoming/a.csv", etag: str | None = "abc") -> dict[str, Any]:
    obj: dict[str, Any] = {"key": key, "size": 10}
    if etag is not None:
        obj["etag"] = etag
    return {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": "b"}, "object": obj},
    }


class FakeSfn:
    def __init__(self) -> None:
        self.names: list[str] = []

    def start_execution(self, *, stateMachineArn: str, name: str, input: str) -> dict[str, Any]:
        if name in self.names:
            raise ClientError(
                {"Error": {"Code": "ExecutionAlreadyExists", "Message": "exists"}}, "StartExecution"
            )
        assert json.loads(input)["file"]["file_id"] == name
        self.names.append(name)
        return {}


class FakeS3:
    def head_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        return {"ETag": '"fromhead"', "ContentLength": 42}


def starter() -> tuple[Starter, FakeSfn, MemoryFileStore]:
    files = MemoryFileStore()
    life = Lifecycle(
        files=files, rows=MemoryRowStore(), s3=None, results_bucket="r", read_blocks=lambda *_: iter(())
    )
    sfn = FakeSfn()
    return (
        Starter(lifecycle=life, sfn=sfn, s3=FakeS3(), state_machine_arn="arn", incoming_prefix="incoming/"),
        sfn,
        files,
    )


def test_the_same_object_version_twice_starts_one_execution() -> None:
    start, sfn, files = starter()
    assert start.start(event()) == "started"
    assert start.start(event()) == "duplicate"
    assert len(sfn.names) == 1
    assert files.get(sfn.names[0])["status"] == "received"  # type: ignore[index]


def test_a_new_etag_under_the_same_key_is_a_new_file() -> None:
    start, sfn, _ = starter()
    start.start(event(etag="one"))
    start.start(event(etag="two"))
    assert len(set(sfn.names)) == 2


def test_an_event_without_etag_names_the_current_version() -> None:
    start, sfn, files = starter()
    assert start.start(event(etag=None)) == "started"
    assert files.get(sfn.names[0])["etag"] == "fromhead"  # type: ignore[index]


def test_keys_the_rule_should_not_have_sent_are_ignored_with_a_warning() -> None:
    start, sfn, _ = starter()
    assert start.start(event(key="elsewhere/a.csv")) == "ignored"
    assert start.start(event(key="incoming/a.txt")) == "ignored"
    assert sfn.names == []


@pytest.mark.parametrize(
    "bad",
    [
        {"source": "aws.s3", "detail-type": "Object Deleted"},
        {"source": "aws.s3", "detail-type": "Object Created"},
        {"detail-type": "Object Created", "detail": {}},
    ],
)
def test_a_message_that_is_not_an_object_event_fails_clearly(bad: dict[str, Any]) -> None:
    with pytest.raises(NotAnObjectEvent):
        file_from_event(bad)


class RunningSfn(FakeSfn):
    """Step Functions with ``running`` executions of other files still RUNNING."""

    def __init__(self, running: int) -> None:
        super().__init__()
        self.running = running

    def get_paginator(self, operation: str) -> Any:
        assert operation == "list_executions"
        sfn = self

        class Pages:
            def paginate(self, **arguments: Any) -> Any:
                assert arguments["statusFilter"] == "RUNNING"
                executions = [{"name": f"other-{i}"} for i in range(sfn.running)] + [
                    {"name": name} for name in sfn.names
                ]
                for start in range(0, max(len(executions), 1), 2):  # pages of 2
                    yield {"executions": executions[start : start + 2]}

        return Pages()


class RecordingSqs:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_message(self, **arguments: Any) -> dict[str, Any]:
        self.sent.append(arguments)
        return {"MessageId": str(len(self.sent))}


def bounded(running: int, limit: int) -> tuple[Starter, RunningSfn, RecordingSqs]:
    start, _, _ = starter()
    sfn, sqs = RunningSfn(running), RecordingSqs()
    start.sfn = sfn
    start.in_flight = FilesInFlight(sqs, "https://sqs/ingest", limit, delay_seconds=15, clock=CLOCK)
    return start, sfn, sqs


CLOCK = lambda: NOW[0]  # noqa: E731
NOW = [0.0]


def test_under_the_files_in_flight_limit_a_file_starts() -> None:
    start, sfn, sqs = bounded(running=2, limit=3)
    assert start.start(event("incoming/a.csv")) == "started"
    assert (len(sfn.names), sqs.sent) == (1, [])


def test_at_the_limit_a_file_waits_in_the_queue_as_a_new_delayed_message() -> None:
    start, sfn, sqs = bounded(running=2, limit=3)
    start.start(event("incoming/a.csv"))  # the third file in flight
    assert start.start(event("incoming/b.csv", etag="b")) == "deferred"
    assert len(sfn.names) == 1
    (sent,) = sqs.sent
    assert (sent["QueueUrl"], sent["DelaySeconds"]) == ("https://sqs/ingest", 15)
    assert json.loads(sent["MessageBody"]) == event("incoming/b.csv", etag="b")  # the same event, again
    sfn.running = 1  # a file finished: the event, back from the queue, starts its file
    NOW[0] += 10  # delay_seconds later: the count is taken again
    assert start.start(json.loads(sent["MessageBody"])) == "started"
    assert len(sfn.names) == 2


def test_a_deferred_file_is_recorded_as_received() -> None:
    start, _sfn, _sqs = bounded(running=5, limit=5)
    assert start.start(event("incoming/c.csv", etag="c")) == "deferred"
    (record,) = start.lifecycle.files.files.values()  # type: ignore[attr-defined]
    assert record["status"] == "received"  # lp csv files --status received lists the files waiting


def test_a_batch_lists_the_running_executions_once_and_counts_its_own_starts() -> None:
    start, sfn, sqs = bounded(running=1, limit=3)
    listings = []
    paginator = sfn.get_paginator

    def counting(operation: str) -> Any:
        listings.append(operation)
        return paginator(operation)

    sfn.get_paginator = counting  # type: ignore[method-assign]
    outcomes = [start.start(event(f"incoming/{name}.csv", etag=name)) for name in "abcd"]
    assert outcomes == ["started", "started", "deferred", "deferred"]  # 1 running + 2 started = 3
    assert listings == ["list_executions"]
    assert len(sqs.sent) == 2
    NOW[0] += 10
    sfn.running, sfn.names = 0, []  # every file finished
    assert start.start(event("incoming/e.csv", etag="e")) == "started"
    assert listings == ["list_executions"] * 2
