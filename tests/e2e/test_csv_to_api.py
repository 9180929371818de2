"""CSV to API (seed 002) end to end on the local stack, driven through S3 alone.

Two files land at once under incoming/orders/ while the fake partner API injects 429s, 5xx, resets, lost
answers and slow answers: a 10,000-row file with 20 bad rows of ten kinds (BOM, CRLF, quoted commas,
quotes and line breaks that straddle the 64 KiB chunks) and a 1,000-row file ending in an unterminated
quote. Every good row reaches the API once in effect with its exact text, every bad row is in its
file's report with its reason, every row is accounted for, and the API never sees more than R requests
in any second although both files share it. Then: the same object event delivered again starts nothing;
a chunk that exhausts its retries is parked in the caller's DLQ, redriven (twice) and processed once;
a message in the ingest DLQ is redriven; an alarm state change is e-mailed exactly once.
"""

from __future__ import annotations

import csv
import email
import io
import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import urllib3

from fake_records_api import busiest_second

pytestmark = pytest.mark.e2e

RATE = 300  # terraform/environments/local: csv_rate_limit
HTTP = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=30))
HEADER = ["order_id", "customer", "amount", "email", "note"]
NOTES = ["plain", "with, comma", 'say "hi"', "two\nlines", "crlf\r\ninside", "ünïcödé", ""]


@dataclass
class Expected:
    key: str
    body: bytes = b""
    good: dict[int, dict[str, Any]] = field(default_factory=dict)
    bad: dict[int, str] = field(default_factory=dict)
    rows: int = 0


def _writer() -> tuple[io.StringIO, Any]:
    out = io.StringIO(newline="")
    return out, csv.writer(out, lineterminator="\r\n")


def orders_file(key: str, rows: int, *, seed: int) -> Expected:
    """``rows`` rows; 20 of them bad (each kind twice or thrice); the body as the partner uploads it."""
    expected = Expected(key=key, rows=rows)
    bad_rows = {  # row -> (reason, the raw line's fields or bytes)
        97: "wrong_field_count", 1500: "wrong_field_count", 2999: "wrong_field_count",
        350: "invalid_type", 4100: "invalid_type", 8800: "invalid_type",
        777: "missing_required", 6000: "missing_required",
        1234: "pattern_mismatch", 9001: "pattern_mismatch",
        2500: "invalid_encoding", 7777: "invalid_encoding",
        3333: "field_too_long", 5555: "field_too_long",
        4444: "too_long", 6666: "too_long",
        5000: "api_rejected", 9999: "api_rejected",
        8000: "blank_row", 8001: "blank_row",
    }  # fmt: skip
    assert len(bad_rows) == 20
    lines: list[bytes] = []
    for row in range(1, rows + 1):
        order_id = str(seed * 1_000_000 + row)
        fields = [order_id, f"customer-{row % 97}", f"{row}.{row % 100:02d}", f"c{row}@example.com",
                  NOTES[row % len(NOTES)] + ("" if row % 13 else " " * 200)]  # fmt: skip
        reason = bad_rows.get(row) if rows >= 10_000 else None
        if reason == "wrong_field_count":
            fields = fields[:3]
        elif reason == "invalid_type":
            fields[0] = "12ab"
        elif reason == "missing_required":
            fields[1] = ""
        elif reason == "pattern_mismatch":
            fields[3] = "not-an-address"
        elif reason == "field_too_long":
            fields[4] = "x" * (130 * 1024)
        elif reason == "too_long":
            fields[1] = "c" * 65
        elif reason == "api_rejected":
            fields[4] = "REJECT-ME"
        out, writer = _writer()
        writer.writerow(fields)
        line = out.getvalue().encode()
        if reason == "invalid_encoding":
            line = line.replace(b"@example.com", b"@ex\xffample.com")
        if reason == "blank_row":
            line = b"\r\n"
        lines.append(line)
        if reason:
            expected.bad[row] = reason
        else:
            values = [int(order_id), fields[1], float(fields[2]), fields[3], fields[4]]
            expected.good[row] = dict(zip(HEADER, values, strict=True))
    out, writer = _writer()
    writer.writerow(HEADER)
    expected.body = b"\xef\xbb\xbf" + out.getvalue().encode() + b"".join(lines)
    return expected


def with_unterminated_quote(expected: Expected, tail_lines: int = 3) -> Expected:
    """``expected`` (which ends with a line break) followed by a row whose quoted field never closes and
    ``tail_lines - 1`` plain lines: every one of them rejected, the rows before them sent."""
    first = expected.rows + 1
    expected.body += f'{first},"never closed,1.00,a@b.c,x\r\n'.encode() + b"".join(
        f"{row},c,1.00,a@b.c,x\r\n".encode() for row in range(first + 1, first + tail_lines)
    )
    for row in range(first, first + tail_lines):
        expected.bad[row] = "unterminated_quote"
    expected.rows += tail_lines
    return expected


# ------------------------------------------------------------------------------------------- helpers


class FakeApi:
    def __init__(self, url: str) -> None:
        self.url = url

    def post(self, path: str, body: Any) -> Any:
        response = HTTP.request("POST", self.url + path, body=json.dumps(body).encode())
        assert response.status == 200, response.data
        return json.loads(response.data)

    def get(self, path: str) -> Any:
        response = HTTP.request("GET", self.url + path)
        assert response.status == 200, response.data
        return json.loads(response.data)

    def requests(self) -> list[dict[str, Any]]:
        return self.get("/_requests")["requests"]

    def records(self) -> list[dict[str, Any]]:
        return self.get("/_records")["records"]


@pytest.fixture(scope="module")
def pipeline(deployed_stack: dict[str, Any]) -> dict[str, Any]:
    outputs = deployed_stack["csv_to_api"]
    assert outputs, "the local root deploys the CSV to API pipeline"
    return outputs


@pytest.fixture
def api(pipeline: dict[str, Any]) -> Iterator[FakeApi]:
    fake = FakeApi(pipeline["records_api_url"])
    fake.post("/_reset", {"rate_limit": RATE})
    yield fake
    fake.post("/_reset", {"rate_limit": RATE})


def file_id_of(pipeline: dict[str, Any], key: str) -> str:
    from csv_to_api.contract import make_file_id

    head = boto3.client("s3").head_object(Bucket=pipeline["upload_bucket"], Key=key)
    return make_file_id(pipeline["upload_bucket"], key, head["ETag"])


def file_record(pipeline: dict[str, Any], file_id: str) -> dict[str, Any] | None:
    item = (
        boto3.client("dynamodb")
        .get_item(
            TableName=pipeline["file_table"],
            Key={"file_id": {"S": file_id}, "part": {"S": "file"}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return {k: next(iter(v.values())) for k, v in item.items()} if item else None


def wait_final(
    pipeline: dict[str, Any], file_id: str, wait_for: Callable[..., Any], timeout: float = 240
) -> dict:
    def final() -> dict[str, Any] | None:
        record = file_record(pipeline, file_id)
        done = record and record["status"] in ("completed", "completed_with_rejects", "failed")
        return record if done else None

    return wait_for(final, timeout, f"file {file_id} to finish")


def report(pipeline: dict[str, Any], file_id: str) -> dict[str, Any]:
    body = boto3.client("s3").get_object(Bucket=pipeline["results_bucket"], Key=f"reports/{file_id}.json")
    return json.loads(body["Body"].read())


def executions(pipeline: dict[str, Any]) -> list[dict[str, Any]]:
    sfn = boto3.client("stepfunctions")
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=pipeline["state_machine_arn"])
    return [execution for page in pages for execution in page["executions"]]


# -------------------------------------------------------------------------------------------- tests


def test_two_files_at_once_every_good_row_once_every_bad_row_reported_limit_held(
    pipeline: dict[str, Any], api: FakeApi, wait_for: Callable[..., Any]
) -> None:
    run = uuid.uuid4().hex[:8]
    big = orders_file(f"incoming/orders/{run}/big.csv", 10_000, seed=1)
    small = with_unterminated_quote(orders_file(f"incoming/orders/{run}/small.csv", 997, seed=2))
    api.post("/_faults", {
        "rate_429": 0.02, "retry_after": 0.2, "rate_503": 0.02, "rate_500": 0.01, "reset_rate": 0.01,
        "lost_answer_rate": 0.01, "slow_rate": 0.01, "slow_seconds": 0.5, "max_faults_per_key": 2, "seed": 7,
        "reject_rules": [{"field": "note", "equals": "REJECT-ME", "status": 422, "code": "note_refused"}],
    })  # fmt: skip
    s3 = boto3.client("s3")
    started = time.time()
    with ThreadPoolExecutor(2) as pool:
        list(
            pool.map(
                lambda f: s3.put_object(Bucket=pipeline["upload_bucket"], Key=f.key, Body=f.body),
                [big, small],
            )
        )

    for expected in (big, small):
        file_id = file_id_of(pipeline, expected.key)
        record = wait_final(pipeline, file_id, wait_for, timeout=300)
        assert record["status"] == "completed_with_rejects", record
        got = report(pipeline, file_id)
        counts = got["counts"]
        assert counts["accepted"] + counts["already_accepted"] == len(expected.good), counts
        assert counts["rejected"] == len(expected.bad)
        assert got["rows"] == expected.rows == sum(counts.values())
        assert {r["row"]: r["reason"] for r in got["rejected"]} == expected.bad
        assert all(len(r["raw"].encode()) <= 1100 for r in got["rejected"])
        rejects_csv = s3.get_object(Bucket=pipeline["results_bucket"], Key=f"reports/{file_id}.rejects.csv")
        assert (
            len(list(csv.reader(io.StringIO(rejects_csv["Body"].read().decode())))) == len(expected.bad) + 1
        )
        accepted = {r["key"]: r["body"] for r in api.records() if r["key"].startswith(file_id + ":")}
        assert sorted(accepted) == sorted(f"{file_id}:{row}" for row in expected.good)
        for row, body in expected.good.items():
            assert accepted[f"{file_id}:{row}"] == body, row

    requests = api.requests()
    sent = [r for r in requests if r["t"] >= started]
    busiest = busiest_second([r["t"] for r in sent])
    print(f"csv e2e: {len(sent)} requests, busiest second {busiest} (limit {RATE})")
    assert busiest <= RATE, "the callers exceeded the shared limit"
    assert api.get("/_stats")["rate_limited"] == 0, "requests refused by the API's own limit"


def test_the_same_object_event_twice_starts_nothing_new(
    pipeline: dict[str, Any], api: FakeApi, wait_for: Callable[..., Any], queue_counts: Callable[[str], Any]
) -> None:
    key = f"incoming/orders/{uuid.uuid4().hex[:8]}/dup.csv"
    expected = orders_file(key, 50, seed=3)
    s3 = boto3.client("s3")
    put = s3.put_object(Bucket=pipeline["upload_bucket"], Key=key, Body=expected.body)
    file_id = file_id_of(pipeline, key)
    assert wait_final(pipeline, file_id, wait_for)["status"] == "completed"
    before = (len(api.requests()), len(executions(pipeline)))
    event = {
        "version": "0", "id": str(uuid.uuid4()), "source": "aws.s3", "detail-type": "Object Created",
        "detail": {"bucket": {"name": pipeline["upload_bucket"]},
                   "object": {"key": key, "size": len(expected.body), "etag": put["ETag"].strip('"')}},
    }  # fmt: skip
    sqs = boto3.client("sqs")
    for _ in range(2):
        sqs.send_message(QueueUrl=pipeline["ingest_queue_url"], MessageBody=json.dumps(event))
    wait_for(
        lambda: queue_counts(pipeline["ingest_queue_url"]) == (0, 0), 60, "the duplicates to be consumed"
    )
    assert (len(api.requests()), len(executions(pipeline))) == before
    # A new upload under the same key (a new ETag) is a new file.
    s3.put_object(
        Bucket=pipeline["upload_bucket"], Key=key, Body=expected.body + b"999999,c,1.00,a@b.c,new\r\n"
    )
    new_id = file_id_of(pipeline, key)
    assert new_id != file_id
    assert wait_final(pipeline, new_id, wait_for)["status"] == "completed"
    assert len([r for r in api.records() if r["key"].startswith(new_id + ":")]) == 51


def test_more_files_than_the_bound_wait_in_the_queue_and_all_arrive_once(
    pipeline: dict[str, Any], api: FakeApi, wait_for: Callable[..., Any]
) -> None:
    """Six files at once, with room for three: without the starter's bound every file would start and
    their chunks would be throttled at the caller's reserved concurrency, retried in lock-step by the
    Map. With it, the files over the bound wait in the ingest queue, none is lost or sent twice."""
    environment = boto3.client("lambda").get_function_configuration(
        FunctionName=pipeline["functions"]["starter"]
    )["Environment"]["Variables"]
    bound = int(environment["MAX_FILES_IN_FLIGHT"])
    run = uuid.uuid4().hex[:8]
    files = [orders_file(f"incoming/orders/{run}/wave-{n}.csv", 400, seed=20 + n) for n in range(bound * 2)]
    s3, sfn = boto3.client("s3"), boto3.client("stepfunctions")
    with ThreadPoolExecutor(len(files)) as pool:
        list(
            pool.map(lambda f: s3.put_object(Bucket=pipeline["upload_bucket"], Key=f.key, Body=f.body), files)
        )
    ids = {file_id_of(pipeline, f.key): f for f in files}

    most_running = 0

    def all_final() -> bool:
        nonlocal most_running
        running = sum(
            len(page["executions"])
            for page in sfn.get_paginator("list_executions").paginate(
                stateMachineArn=pipeline["state_machine_arn"], statusFilter="RUNNING"
            )
        )
        most_running = max(most_running, running)
        records = [file_record(pipeline, file_id) for file_id in ids]
        return all(r and r["status"] in ("completed", "completed_with_rejects", "failed") for r in records)

    wait_for(all_final, 300, f"{len(files)} files to finish", interval=0.5)
    assert most_running <= bound, f"{most_running} executions ran at once, the bound is {bound}"
    waited = {
        json.loads(event["message"]).get("file_id")
        for page in boto3.client("logs")
        .get_paginator("filter_log_events")
        .paginate(
            logGroupName=pipeline["log_groups"]["starter"], filterPattern='"files in flight at the limit"'
        )
        for event in page["events"]
    }
    assert waited & set(ids), "no file waited in the queue: the drop did not exceed the bound"
    records = api.records()
    for file_id, expected in ids.items():
        assert file_record(pipeline, file_id)["status"] == "completed"
        accepted = sorted(r["key"] for r in records if r["key"].startswith(file_id + ":"))
        assert accepted == sorted(f"{file_id}:{row}" for row in expected.good)  # each row once


def test_every_functions_logs_reach_splunk_with_the_file_id(
    pipeline: dict[str, Any], api: FakeApi, wait_for: Callable[..., Any]
) -> None:
    from devstack import splunk_hec

    key = f"incoming/orders/{uuid.uuid4().hex[:8]}/logged.csv"
    expected = orders_file(key, 20, seed=5)
    boto3.client("s3").put_object(Bucket=pipeline["upload_bucket"], Key=key, Body=expected.body)
    file_id = file_id_of(pipeline, key)
    assert wait_final(pipeline, file_id, wait_for)["status"] == "completed"
    groups = pipeline["log_groups"]

    def forwarded() -> dict[str, list[dict[str, Any]]] | None:
        mine: dict[str, list[dict[str, Any]]] = {}
        for event in splunk_hec.events():
            body = event["event"]
            if isinstance(body, dict) and body.get("file_id") == file_id:
                mine.setdefault(event["fields"]["log_group"], []).append(event)
        wanted = {groups["starter"], groups["planner"], groups["caller"]}
        return mine if wanted <= set(mine) else None

    found = wait_for(forwarded, 60, "the file's log lines at the Splunk HEC")
    caller_lines = found[groups["caller"]]
    assert any(e["event"].get("message") == "chunk invocation done" for e in caller_lines)
    for event in caller_lines:  # structured (JSON kept as JSON), indexed, with the fields to dedupe on
        assert event["index"] == splunk_hec.INDEX
        assert event["fields"]["event_id"]
        assert event["event"]["chunk"] == 0


def test_a_chunk_out_of_retries_is_parked_then_redriven_twice_and_processed_once(
    pipeline: dict[str, Any],
    api: FakeApi,
    wait_for: Callable[..., Any],
    queue_counts: Callable[[str], Any],
    lp: Callable[..., Any],
) -> None:
    dlq_url = pipeline["dead_letter_queues"]["caller"]["dlq_url"]
    key = f"incoming/orders/{uuid.uuid4().hex[:8]}/down.csv"
    expected = orders_file(key, 30, seed=4)
    api.post("/_faults", {"rate_503": 1.0, "max_faults_per_key": 1000})  # the API is down
    boto3.client("s3").put_object(Bucket=pipeline["upload_bucket"], Key=key, Body=expected.body)
    file_id = file_id_of(pipeline, key)
    record = wait_final(pipeline, file_id, wait_for, timeout=180)
    assert record["status"] == "failed"
    assert report(pipeline, file_id)["reason"] == "chunks_failed"
    wait_for(lambda: queue_counts(dlq_url)[0] >= 1, 30, "the parked chunk in the caller DLQ")

    api.post("/_faults", {})  # the API is back
    code, parked = lp("dlq", "show", "csv_to_api/caller", "--limit", "1000")
    assert code == 0, parked
    ids = [m["message_id"] for m in parked if file_id in m["body"]]
    assert len(ids) == 1, parked
    code, dry = lp("dlq", "redrive", "csv_to_api/caller", "--message-id", ids[0])
    assert code == 0, dry
    assert [m["action"] for m in dry["messages"]] == ["would redrive"]
    code, out = lp("dlq", "redrive", "csv_to_api/caller", "--message-id", ids[0], "--yes")
    assert code == 0, out
    assert [m["action"] for m in out["messages"]] == ["redriven"]
    # An operator who redrives again: the message is gone, which is said (exit 1), and nothing is sent.
    code, again = lp("dlq", "redrive", "csv_to_api/caller", "--message-id", ids[0], "--yes")
    assert (code, [m["action"] for m in again["messages"]]) == (1, ["not found"]), again
    wait_for(
        lambda: (file_record(pipeline, file_id) or {}).get("status") == "completed", 120, "the redriven file"
    )
    code, left = lp("dlq", "show", "csv_to_api/caller", "--limit", "1000")
    assert [m for m in left if file_id in m["body"]] == []  # nothing of this file is back in the DLQ
    accepted = [r["key"] for r in api.records() if r["key"].startswith(file_id + ":")]
    assert sorted(accepted) == sorted(f"{file_id}:{row}" for row in expected.good)
    final = report(pipeline, file_id)
    assert final["counts"]["accepted"] == 30
    assert (final["status"], final["reason"]) == ("completed", "")


def test_a_message_in_the_ingest_dlq_is_redriven_and_processed_once(
    pipeline: dict[str, Any],
    api: FakeApi,
    wait_for: Callable[..., Any],
    queue_counts: Callable[[str], Any],
    lp: Callable[..., Any],
) -> None:
    dlq_url = pipeline["dead_letter_queues"]["ingest"]["dlq_url"]
    key = f"incoming/parked/{uuid.uuid4().hex[:8]}.csv"
    s3 = boto3.client("s3")
    body = b"a,b\n1,2\n3,4\n"
    # Uploaded under a prefix the rule matches, its event forced into the DLQ as if the starter had failed.
    put = s3.put_object(Bucket=pipeline["upload_bucket"], Key=key, Body=body)
    file_id = file_id_of(pipeline, key)
    wait_final(pipeline, file_id, wait_for)
    detail = {
        "bucket": {"name": pipeline["upload_bucket"]},
        "object": {"key": key, "size": len(body), "etag": put["ETag"].strip('"')},
    }
    event = {"source": "aws.s3", "detail-type": "Object Created", "detail": detail}
    boto3.client("sqs").send_message(QueueUrl=dlq_url, MessageBody=json.dumps(event))
    code, out = lp("dlq", "redrive", "csv_to_api/ingest", "--yes")
    assert code == 0, out
    assert [m["action"] for m in out["messages"]] == ["redriven"]
    wait_for(lambda: queue_counts(pipeline["ingest_queue_url"]) == (0, 0), 60, "the redriven event")
    assert queue_counts(dlq_url) == (0, 0)
    assert len([r for r in api.records() if r["key"].startswith(file_id + ":")]) == 2


def test_an_alarm_state_change_is_emailed_exactly_once(
    pipeline: dict[str, Any], local_stack: dict[str, str], wait_for: Callable[..., Any]
) -> None:
    mail_dir = Path(local_stack["SMTP_MAIL_DIR"])
    alarm = pipeline["alarm_names"][0]

    def mails() -> list[email.message.Message]:
        found = [email.message_from_bytes(p.read_bytes()) for p in sorted(mail_dir.rglob("*")) if p.is_file()]
        return [m for m in found if alarm in str(m["Subject"])]

    before = len(mails())
    cloudwatch = boto3.client("cloudwatch")
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="e2e: reset")
    time.sleep(0)
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="e2e: fired by the test")
    got = wait_for(
        lambda: [m for m in mails()[before:] if "ALARM" in str(m["Subject"])], 60, "the alarm e-mail"
    )
    assert len(got) == 1
    body = (
        got[0].get_payload(decode=True)
        if not got[0].is_multipart()
        else got[0].get_payload(0).get_payload(decode=True)
    )
    assert b"e2e: fired by the test" in body
    assert b"docs/csv_to_api.md#" in body
