"""Pipeline 002's messages against their schemas (docs/csv_to_api/schemas/): what the core and the state
machine really produce validates (a file uploaded to moto S3, started by the starter, planned, sent
chunk by chunk through the ASL's own parameter templates, one chunk parked and redriven, reported into
moto S3 and DynamoDB), the readers take what the schemas allow, and a wrong message is refused.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import hcl2
import pytest
from csv_fakes import ScriptedApi
from csv_ingest_starter.starter import Starter
from csv_to_api.api import Answer, Response
from csv_to_api.caller import CallerConfig, ChunkCaller, s3_blocks
from csv_to_api.contract import Chunk, FileRef, Resume
from csv_to_api.feeds import FeedConfigError, parse_feeds
from csv_to_api.lifecycle import Lifecycle
from csv_to_api.outcomes import DynamoDbFileStore, DynamoDbRowStore, from_attribute
from csv_to_api.planner import PlannerConfig
from csv_to_api.rows import Header, Reason
from moto import mock_aws

from contract_schemas import REMOVE, contract, variant
from pipelines_shared.deadline import Deadline
from pipelines_shared.redrive import request_payload

REPO = Path(__file__).resolve().parents[3]
ASL = REPO / "terraform" / "modules" / "csv_to_api" / "file.asl.json"
SERVICES = REPO / "services" / "csv_to_api"

EXECUTION = contract("csv_to_api", "execution-input")
PLAN = contract("csv_to_api", "plan")
PLANNER_REQUEST = contract("csv_to_api", "planner-request")
CHUNK_REQUEST = contract("csv_to_api", "chunk-request")
CHUNK_RESULT = contract("csv_to_api", "chunk-result")
SUMMARY = contract("csv_to_api", "file-summary")
REPORT = contract("csv_to_api", "report")
FILE_RECORD = contract("csv_to_api", "file-record")
FEEDS = contract("csv_to_api", "feeds")
DLQ_REQUEST = contract("csv_to_api", "dlq-request")
DESTINATION = contract("csv_to_api", "destination-record")

ACCOUNT = "123456789012"
UPLOAD = f"lambda-pipelines-csv-upload-dev-{ACCOUNT}"
RESULTS = f"lambda-pipelines-csv-results-dev-{ACCOUNT}"
PLACEHOLDERS = {
    "planner_arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:lambda-pipelines-csv-file-planner-dev",
    "caller_arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:lambda-pipelines-csv-api-caller-dev",
    "caller_dlq_url": f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/lambda-pipelines-csv-caller-dlq-dev",
}
EXECUTION_ARN = f"arn:aws:states:us-east-1:{ACCOUNT}:execution:lambda-pipelines-csv-file-dev:"
FEEDS_DOCUMENT = FEEDS.examples[0]

# 40 rows of the orders feed, five of them bad in different ways; the API rejects row 30 and answers
# row 31 "already accepted" (an earlier attempt got through unrecorded).
GOOD = "{n},Customer {n},{n}.50,c{n}@example.com,\n"
BAD = {
    3: b"3,,1.00,,\n",  # missing_required
    9: b"9,Bo,abc,,\n",  # invalid_type
    14: b"14,M\xfcller,2.00,,\n",  # invalid_encoding (Latin-1 in a UTF-8 feed)
    20: b"20,Al,3.00\n",  # wrong_field_count
    25: b'25,"Lee\nLine two",4.00,not-an-email,\n',  # pattern_mismatch; a quoted line break
}
CSV = b"\xef\xbb\xbforder_id,customer,amount,email,note\r\n" + b"".join(
    BAD.get(n, GOOD.format(n=n).encode()) for n in range(1, 41)
)


# -- the ASL's parameter templates, evaluated as Step Functions does ------------------------------------


def definition() -> dict[str, Any]:
    text = ASL.read_text()
    for name, value in PLACEHOLDERS.items():
        text = text.replace("${" + name + "}", value)
    return json.loads(re.sub(r"\$\{[a-z_]+\}", "2", text))


def evaluate(template: Any, state: Any, context: dict[str, Any]) -> Any:
    """A Parameters/ItemSelector template applied to ``state`` (``key.$`` paths into the state, ``$$.``
    paths into the context object)."""
    if isinstance(template, dict):
        result = {}
        for key, value in template.items():
            if key.endswith(".$"):
                result[key[:-2]] = _path(value, state, context)
            else:
                result[key] = evaluate(value, state, context)
        return result
    if isinstance(template, list):
        return [evaluate(value, state, context) for value in template]
    return template


def _path(expression: str, state: Any, context: dict[str, Any]) -> Any:
    node, rest = (context, expression[3:]) if expression.startswith("$$.") else (state, expression[2:])
    for part in filter(None, rest.split(".")):
        node = node[part]
    return node


STATES = definition()["States"]
MAP = STATES["SendChunks"]
INNER = MAP["ItemProcessor"]["States"]


# -- a file through the pipeline, on moto ------------------------------------------------------------


class Sfn:
    """Step Functions as the starter sees it: every StartExecution recorded."""

    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []

    def start_execution(self, **kwargs: Any) -> dict[str, Any]:
        self.started.append(kwargs)
        return {"executionArn": EXECUTION_ARN + kwargs["name"]}


class Clock:
    """A monotonic clock under ``Deadline(100, clock)`` whose ``remaining()`` answers each of ``left`` in
    turn (the last one from then on)."""

    def __init__(self, *left: float) -> None:
        self.left = list(left)

    def __call__(self) -> float:
        return 100.0 - (self.left.pop(0) if len(self.left) > 1 else self.left[0])


def create_tables(dynamodb: Any) -> None:
    string, number = "S", "N"
    dynamodb.create_table(
        TableName="files",
        KeySchema=[
            {"AttributeName": "file_id", "KeyType": "HASH"},
            {"AttributeName": "part", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "file_id", "AttributeType": string},
            {"AttributeName": "part", "AttributeType": string},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.create_table(
        TableName="rows",
        KeySchema=[
            {"AttributeName": "file_id", "KeyType": "HASH"},
            {"AttributeName": "row", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "file_id", "AttributeType": string},
            {"AttributeName": "row", "AttributeType": number},
            {"AttributeName": "rejected_in", "AttributeType": string},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "rejects",
                "KeySchema": [
                    {"AttributeName": "rejected_in", "KeyType": "HASH"},
                    {"AttributeName": "row", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )


class Pipeline:
    def __init__(self, s3: Any, dynamodb: Any) -> None:
        self.s3, self.dynamodb = s3, dynamodb
        self.files = DynamoDbFileStore(dynamodb, "files")
        self.rows = DynamoDbRowStore(dynamodb, "rows")
        self.lifecycle = Lifecycle(
            files=self.files, rows=self.rows, s3=s3, results_bucket=RESULTS, read_blocks=self.read
        )
        self.sfn = Sfn()
        self.starter = Starter(self.lifecycle, self.sfn, s3, "arn:aws:states:sm", "incoming/")
        self.feeds = parse_feeds(FEEDS_DOCUMENT)
        self.api = ScriptedApi()

    def read(self, file: FileRef, start: int, end: int) -> Iterator[bytes]:
        return s3_blocks(self.s3, file, start, end, 64)

    def upload(self, key: str, data: bytes) -> FileRef:
        put = self.s3.put_object(Bucket=UPLOAD, Key=key, Body=data)
        return FileRef(bucket=UPLOAD, key=key, etag=put["ETag"], size=len(data))

    def start(self, file: FileRef) -> dict[str, Any]:
        """The EventBridge event S3 sends, through the starter: the execution's input."""
        event = {
            "source": "aws.s3",
            "detail-type": "Object Created",
            "detail": {
                "bucket": {"name": file.bucket},
                "object": {"key": file.key, "size": file.size, "etag": file.etag},
            },
        }
        assert self.starter.start(event) == "started"
        return json.loads(self.sfn.started[-1]["input"])

    def caller(self, config: CallerConfig | None = None) -> ChunkCaller:
        config = config or CallerConfig(concurrency=4, window_rows=8)
        return ChunkCaller(read_blocks=self.read, rows=self.rows, files=self.files, api=self.api,
                           limiter=None, config=config, sleep=lambda _s: None)  # fmt: skip

    def record(self, file_id: str) -> dict[str, Any]:
        return self.files.get(file_id) or {}

    def report(self, file_id: str) -> dict[str, Any]:
        body = self.s3.get_object(Bucket=RESULTS, Key=f"reports/{file_id}.json")["Body"].read()
        return json.loads(body)  # the report is written by hand: it must still be JSON

    def chunk_items(self, file_id: str) -> list[dict[str, Any]]:
        items = self.dynamodb.query(
            TableName="files",
            KeyConditionExpression="file_id = :f AND begins_with(part, :c)",
            ExpressionAttributeValues={":f": {"S": file_id}, ":c": {"S": "chunk#"}},
        )["Items"]
        return [{name: from_attribute(value) for name, value in item.items()} for item in items]


@pytest.fixture
def pipeline() -> Iterator[Pipeline]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        for bucket in (UPLOAD, RESULTS):
            s3.create_bucket(Bucket=bucket)
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_tables(dynamodb)
        yield Pipeline(s3, dynamodb)


def handler_process(
    pipeline: Pipeline, request: dict[str, Any], caller: ChunkCaller, deadline: Deadline
) -> Any:
    """What csv_api_caller.handler does with a chunk request, without its settings."""
    file = FileRef.from_json(request["file"])
    resume = request.get("resume")
    header = Header(tuple(request["header"]), pipeline.feeds.by_name(request["feed"]))
    return caller.process(
        file,
        header,
        Chunk.from_json(request["chunk"]),
        Resume(int(resume["offset"]), int(resume["row"])) if resume else None,
        deadline,
    )


def test_a_file_through_the_pipeline_produces_only_valid_messages(pipeline: Pipeline) -> None:
    file = pipeline.upload("incoming/orders/2026-02-01.csv", CSV)
    key = f"{file.file_id}:"
    pipeline.api.script = {
        key + "30": [Response(Answer.REJECTED, 422, "negative_amount: amount must not be negative")],
        key + "31": [Response(Answer.ALREADY_ACCEPTED, 200)],
    }

    execution_input = pipeline.start(file)
    EXECUTION.assert_produced(execution_input)
    assert pipeline.sfn.started[-1]["name"] == file.file_id
    FILE_RECORD.assert_produced(pipeline.record(file.file_id))

    context = {"Execution": {"Id": EXECUTION_ARN + file.file_id}}
    plan_request = evaluate(STATES["Plan"]["Parameters"]["Payload"], execution_input, context)
    PLANNER_REQUEST.assert_produced(plan_request)
    plan = pipeline.lifecycle.plan(
        FileRef.from_json(plan_request["file"]), pipeline.feeds, PlannerConfig(chunk_bytes=400)
    ).to_json()
    PLAN.assert_produced(plan)
    assert (plan["outcome"], plan["rows"], len(plan["chunks"]) > 2) == ("send", 40, True)
    FILE_RECORD.assert_produced(pipeline.record(file.file_id))

    state = {**execution_input, "planned": {"plan": plan}}
    *sent, parked = plan["chunks"]
    for index, item in enumerate(sent):
        request = evaluate(MAP["ItemSelector"], state, {**context, "Map": {"Item": {"Value": item}}})
        CHUNK_REQUEST.assert_produced(request)
        payload = evaluate(INNER["Call"]["Parameters"], request, context)["Payload"]
        assert payload == request
        if index == 0:  # the first stops before its deadline after one round and is resumed
            config = CallerConfig(concurrency=4, window_rows=2, stop_margin_seconds=10)
            result = handler_process(pipeline, payload, pipeline.caller(config), Deadline(100, Clock(100, 5)))
            CHUNK_RESULT.assert_produced(result.to_json())
            assert not result.complete
            inner_state = {**request, "result": {"r": result.to_json()}}
            request = evaluate(INNER["Resume"]["Parameters"], inner_state, context)
            CHUNK_REQUEST.assert_produced(request)
            assert request["resume"] == result.to_json()["resume"]
        result = handler_process(pipeline, request, pipeline.caller(), Deadline.never())
        CHUNK_RESULT.assert_produced(result.to_json())
        assert result.complete

    # The last chunk's retries ran out: ParkChunk sends it to the caller's DLQ as a destination record.
    item_state = evaluate(MAP["ItemSelector"], state, {**context, "Map": {"Item": {"Value": parked}}})
    caught = {**item_state, "error": {"Error": "ChunkFailed", "Cause": "6 transient failures, last HTTP 503"}}
    body = evaluate(INNER["ParkChunk"]["Parameters"]["MessageBody"], caught, context)
    DESTINATION.assert_produced(body)

    report_request = evaluate(STATES["Report"]["Parameters"]["Payload"], execution_input, context)
    PLANNER_REQUEST.assert_produced(report_request)
    summary = pipeline.lifecycle.finish(FileRef.from_json(report_request["file"])).to_json()
    SUMMARY.assert_produced(summary)
    assert (summary["status"], summary["reason"], summary["missing_chunks"]) == (
        "failed",
        "chunks_failed",
        [parked["index"]],
    )
    REPORT.assert_produced(pipeline.report(file.file_id))
    FILE_RECORD.assert_produced(pipeline.record(file.file_id))

    # The redrive: lp dlq / the DLQ processor unwrap requestPayload and invoke the caller with it.
    redriven = request_payload(json.dumps(body))
    CHUNK_REQUEST.assert_produced(redriven)
    assert redriven["report_after"] is True
    result = handler_process(pipeline, redriven, pipeline.caller(), Deadline.never())
    CHUNK_RESULT.assert_produced(result.to_json())
    assert result.complete
    pipeline.lifecycle.finish(file)  # what the handler does for report_after

    report = pipeline.report(file.file_id)
    REPORT.assert_produced(report)
    assert report["status"] == "completed_with_rejects"
    assert report["counts"] == {"accepted": 33, "already_accepted": 1, "rejected": 6}
    assert [(r["row"], r["reason"]) for r in report["rejected"]] == [
        (3, "missing_required"),
        (9, "invalid_type"),
        (14, "invalid_encoding"),
        (20, "wrong_field_count"),
        (25, "pattern_mismatch"),
        (30, "api_rejected"),
    ]
    assert report["rejected"][-1]["http_status"] == 422
    record = pipeline.record(file.file_id)
    FILE_RECORD.assert_produced(record)
    assert record["status"] == "completed_with_rejects"
    chunks = pipeline.chunk_items(file.file_id)
    assert len(chunks) == len(plan["chunks"])
    for item in chunks:
        FILE_RECORD.assert_produced(item)


@pytest.mark.parametrize(
    ("data", "status", "reason"),
    [
        (b"", "completed", ""),
        (b"order_id,customer,amount,email,note\n", "completed", ""),
        (b"order_id,customer,amount,amount,note\n1,a,1,2,\n", "failed", "header_duplicate"),
        (b"order_id,customer,amt,email,note\n1,a,1,,\n", "failed", "header_mismatch"),
    ],
    ids=["empty", "header only", "duplicate header", "wrong header"],
)
def test_files_with_nothing_to_send_plan_and_report_valid_messages(
    pipeline: Pipeline, data: bytes, status: str, reason: str
) -> None:
    file = pipeline.upload("incoming/orders/edge.csv", data)
    pipeline.start(file)
    plan = pipeline.lifecycle.plan(file, pipeline.feeds, PlannerConfig()).to_json()
    PLAN.assert_produced(plan)
    assert plan["chunks"] == []
    SUMMARY.assert_produced(pipeline.lifecycle.finish(file).to_json())
    report = pipeline.report(file.file_id)
    REPORT.assert_produced(report)
    assert (report["status"], report["reason"], report["rejected"]) == (status, reason, [])
    FILE_RECORD.assert_produced(pipeline.record(file.file_id))


def test_an_execution_that_failed_before_its_plan_reports_a_pipeline_error(pipeline: Pipeline) -> None:
    file = pipeline.upload("incoming/orders/2026-02-02.csv", CSV)
    execution_input = pipeline.start(file)
    caught = {**execution_input, "error": {"Error": "States.Timeout", "Cause": "the planner timed out"}}
    request = evaluate(STATES["RecordFailure"]["Parameters"]["Payload"], caught, {})
    PLANNER_REQUEST.assert_produced(request)
    error = request["error"]  # as csv_file_planner.handler builds the message
    summary = pipeline.lifecycle.finish(file, error=f"{error['Error']}: {error['Cause']}").to_json()
    SUMMARY.assert_produced(summary)
    report = pipeline.report(file.file_id)
    REPORT.assert_produced(report)
    assert (report["status"], report["reason"], report["feed"]) == ("failed", "pipeline_error", "")
    FILE_RECORD.assert_produced(pipeline.record(file.file_id))


# -- the readers take what the schemas allow ------------------------------------------------------------


@pytest.mark.parametrize("example", EXECUTION.examples)
def test_the_file_reference_reader_takes_every_example(example: dict[str, Any]) -> None:
    file = FileRef.from_json(example["file"])
    assert re.fullmatch(r"[0-9a-f]{32}", file.file_id)


def test_a_file_id_that_is_not_the_objects_is_refused_beyond_the_schema() -> None:
    wrong = variant(EXECUTION.examples[0], {"file/file_id": "0" * 32})
    assert EXECUTION.is_valid(wrong)  # a hash the schema cannot check
    with pytest.raises(ValueError, match="does not belong"):
        FileRef.from_json(wrong["file"])


@pytest.mark.parametrize("example", CHUNK_REQUEST.examples)
def test_the_caller_reads_every_chunk_request_example(example: dict[str, Any]) -> None:
    chunk = Chunk.from_json(example["chunk"])
    assert chunk.first_row >= 1
    FileRef.from_json(example["file"])
    parse_feeds(FEEDS_DOCUMENT).by_name(example["feed"])


@pytest.mark.parametrize("example", DESTINATION.examples)
def test_a_redrive_unwraps_every_destination_record_example(example: dict[str, Any]) -> None:
    CHUNK_REQUEST.assert_valid(request_payload(json.dumps(example)))


@pytest.mark.parametrize("example", FEEDS.examples)
def test_the_feeds_parser_takes_every_example(example: dict[str, Any]) -> None:
    parse_feeds(example)


@pytest.mark.parametrize("flag", ["false", "true", 0, 1, None])
def test_a_flag_that_is_not_a_json_boolean_is_refused(flag: Any) -> None:
    # bool("false") is True: a column meant optional would reject every row where it is empty.
    with pytest.raises(FeedConfigError, match="required: true or false"):
        parse_feeds({"feeds": [{"name": "f", "columns": [{"name": "a", "required": flag}]}]})
    with pytest.raises(FeedConfigError, match="allow_extra_columns: true or false"):
        parse_feeds({"feeds": [{"name": "f", "allow_extra_columns": flag}]})


def hcl_value(value: Any) -> Any:
    """python-hcl2 keeps string literals quoted and escaped as written."""
    if isinstance(value, str) and len(value) > 1 and value[0] == value[-1] == '"':
        return json.loads(value)
    if isinstance(value, dict):
        return {k: hcl_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [hcl_value(v) for v in value]
    return value


def settings_with_feeds(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if isinstance(node.get("csv_to_api"), dict) and "feeds" in node["csv_to_api"]:
            yield node["csv_to_api"]
        for value in node.values():
            yield from settings_with_feeds(value)
    elif isinstance(node, list):
        for value in node:
            yield from settings_with_feeds(value)


def test_the_local_roots_feeds_are_a_valid_feeds_document() -> None:
    with (REPO / "terraform" / "environments" / "local" / "main.tf").open() as handle:
        found = list(settings_with_feeds(hcl2.load(handle)))
    assert len(found) == 1, "the local root configures csv_to_api's feeds once"
    document = {"feeds": hcl_value(found[0]["feeds"])}  # as the module writes it: {feeds = var.feeds}
    FEEDS.assert_valid(document)
    assert parse_feeds(document).for_key("incoming/orders/x.csv").name == "orders"


def event_keys(handler: Path) -> set[str]:
    """The members of ``event`` a handler reads: ``event["k"]`` and ``event.get("k")``."""
    keys = set()
    for node in ast.walk(ast.parse(handler.read_text())):
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id == "event"
            and isinstance(node.slice, ast.Constant)
        ):
            keys.add(node.slice.value)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "event"
        ):
            keys.add(node.args[0].value)  # type: ignore[attr-defined]
    return keys


@pytest.mark.parametrize(
    ("service", "message"),
    [
        ("csv-api-caller/csv_api_caller", CHUNK_REQUEST),
        ("csv-file-planner/csv_file_planner", PLANNER_REQUEST),
        ("csv-dlq-processor/csv_dlq_processor", DLQ_REQUEST),
    ],
)
def test_every_member_a_handler_reads_is_declared(service: str, message: Any) -> None:
    read = event_keys(SERVICES / service / "handler.py")
    assert read, "the scan found nothing: did the handler stop naming its event `event`?"
    assert read <= set(message.schema["properties"]), sorted(read - set(message.schema["properties"]))


# -- wrong messages are refused ---------------------------------------------------------------------------


E, P, Q, R = EXECUTION.examples[0], PLAN.examples[0], CHUNK_REQUEST.examples[0], CHUNK_RESULT.examples[0]
REP, REC, D = REPORT.examples[0], FILE_RECORD.examples[1], DESTINATION.examples[0]
INVALID = {
    "execution input without file": (EXECUTION, variant(E, {"file": REMOVE})),
    "file_id not 32 hex": (EXECUTION, variant(E, {"file/file_id": "AB68290AE6F29E80F13A83F69884D090"})),
    "etag with its quotes": (EXECUTION, variant(E, {"file/etag": '"9a0364b9e99bb480dd25e1f0284c8555"'})),
    "negative size": (EXECUTION, variant(E, {"file/size": -1})),
    "plan to send without chunks": (PLAN, variant(P, {"chunks": []})),
    "plan rejected without a reason": (PLAN, variant(PLAN.examples[2], {"reason": ""})),
    "plan with an unknown outcome": (PLAN, variant(P, {"outcome": "partial"})),
    "chunk without wait_seconds": (PLAN, variant(P, {"chunks/0/wait_seconds": REMOVE})),
    "chunk starting at row 0": (PLAN, variant(P, {"chunks/0/first_row": 0})),
    "header with a name twice": (PLAN, variant(P, {"header": ["a", "a"]})),
    "chunk request without header": (CHUNK_REQUEST, variant(Q, {"header": REMOVE})),
    "chunk request with an empty header": (CHUNK_REQUEST, variant(Q, {"header": []})),
    "feed name in capitals": (CHUNK_REQUEST, variant(Q, {"feed": "Orders"})),
    "resume without row": (CHUNK_REQUEST, variant(Q, {"resume": {"offset": 5}})),
    "report_after as text": (CHUNK_REQUEST, variant(Q, {"report_after": "yes"})),
    "complete with a resume point": (CHUNK_RESULT, variant(R, {"resume": {"offset": 5, "row": 2}})),
    "incomplete without one": (CHUNK_RESULT, variant(R, {"complete": False})),
    "a count of an unknown outcome": (CHUNK_RESULT, variant(R, {"counts/sent": 3})),
    "report of version 2": (REPORT, variant(REP, {"version": 2})),
    "report still sending": (REPORT, variant(REP, {"status": "sending"})),
    "failed report without a reason": (REPORT, variant(REPORT.examples[1], {"reason": ""})),
    "completed report with a reason": (REPORT, variant(REP, {"reason": "chunks_failed"})),
    "reject with an unknown reason": (REPORT, variant(REP, {"rejected/0/reason": "bad_row"})),
    "reject with a 5xx": (REPORT, variant(REP, {"rejected/2/http_status": 503})),
    "raw line over 1 KiB": (REPORT, variant(REP, {"rejected/0/raw": "x" * 1025})),
    "report without rejects_by_reason": (REPORT, variant(REP, {"rejects_by_reason": REMOVE})),
    "finished record without counts": (FILE_RECORD, variant(REC, {"counts": REMOVE})),
    "record with an unknown status": (FILE_RECORD, variant(REC, {"status": "done"})),
    "record of an unknown part": (FILE_RECORD, variant(REC, {"part": "summary"})),
    "destination record without requestPayload": (DESTINATION, variant(D, {"requestPayload": REMOVE})),
    "destination record of a chunk without file": (DESTINATION, variant(D, {"requestPayload/file": REMOVE})),
    "planner asked to split": (PLANNER_REQUEST, {"action": "split", "file": E["file"]}),
    "dlq request with a misspelt dry_run": (DLQ_REQUEST, {"action": "redrive", "dryrun": False}),
    "dlq request with an empty id list": (DLQ_REQUEST, {"action": "redrive", "ids": []}),
    "dlq request for an unknown source": (DLQ_REQUEST, {"source": "forwarder"}),
}


@pytest.mark.parametrize(("message", "document"), list(INVALID.values()), ids=list(INVALID))
def test_a_wrong_message_is_refused(message: Any, document: Any) -> None:
    assert not message.is_valid(document)


F = FEEDS_DOCUMENT
FEEDS_INVALID = {
    "unknown top-level key": {"feedz": []},
    "feeds not a list": {"feeds": {"name": "orders"}},
    "feed not an object": {"feeds": ["orders"]},
    "feed without name": variant(F, {"feeds/0/name": REMOVE}),
    "feed name in capitals": variant(F, {"feeds/0/name": "Orders"}),
    "feed name ending in a line feed": variant(F, {"feeds/0/name": "orders\n"}),
    "misspelt feed key": variant(F, {"feeds/0/prefx": "x/"}),
    "misspelt column key": variant(F, {"feeds/0/columns/0/requierd": True}),
    "unknown type": variant(F, {"feeds/0/columns/0/type": "int"}),
    "two-character delimiter": variant(F, {"feeds/1/delimiter": ";;"}),
    "quote as delimiter": variant(F, {"feeds/1/delimiter": '"'}),
    "UTF-16": variant(F, {"feeds/1/encoding": "utf-16"}),
    "max_field_bytes 0": variant(F, {"feeds/1/max_field_bytes": 0}),
    "max_field_bytes as text": variant(F, {"feeds/1/max_field_bytes": "4096"}),
    "columns not a list": variant(F, {"feeds/0/columns": {"name": "a"}}),
    "column without name": variant(F, {"feeds/0/columns/0/name": REMOVE}),
    "negative min_length": variant(F, {"feeds/1/columns/4/min_length": -1}),
    "allowed values not text": variant(F, {"feeds/1/columns/3/allowed": [1, 2]}),
    "default with columns": {"feeds": [], "default": {"columns": [{"name": "a"}]}},
}


@pytest.mark.parametrize("document", list(FEEDS_INVALID.values()), ids=list(FEEDS_INVALID))
def test_the_schema_and_the_feeds_parser_refuse_the_same_documents(document: Any) -> None:
    assert not FEEDS.is_valid(document)
    with pytest.raises(FeedConfigError):
        parse_feeds(document)


FEEDS_BEYOND_THE_SCHEMA = {
    "two feeds of one name": variant(F, {"feeds/1/name": "orders"}),
    "two feeds of one prefix": variant(F, {"feeds/1/prefix": "incoming/orders/"}),
    "a column twice": variant(F, {"feeds/0/columns/1/name": "order_id"}),
    "an encoding Python does not know": variant(F, {"feeds/1/encoding": "klingon-8"}),
    "a pattern that does not compile": variant(F, {"feeds/0/columns/3/pattern": "(["}),
}


@pytest.mark.parametrize(
    "document", list(FEEDS_BEYOND_THE_SCHEMA.values()), ids=list(FEEDS_BEYOND_THE_SCHEMA)
)
def test_rules_the_schema_cannot_state_are_the_parsers(document: Any) -> None:
    assert FEEDS.is_valid(document)
    with pytest.raises(FeedConfigError):
        parse_feeds(document)


def test_every_row_reason_of_the_core_is_in_the_schema() -> None:
    assert set(REPORT.schema["$defs"]["row_reason"]["enum"]) == {reason.value for reason in Reason}
