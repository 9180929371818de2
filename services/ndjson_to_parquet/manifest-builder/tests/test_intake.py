"""Per object: tracked pending, or quarantined (object + reason JSON) and tracked failed; idempotent."""

from __future__ import annotations

import json
from typing import Any

import pytest
from manifest_builder.intake import ALREADY_TRACKED, IGNORED, QUARANTINED, TRACKED, FileIntake
from manifest_builder.validation import Inspector, Limits

from ndjson_fakes import (
    DAY,
    INPUT_BUCKET,
    QUARANTINE_BUCKET,
    TRACKING_TABLE,
    FakeClock,
    client_error,
    s3_event,
)
from ndjson_to_parquet import contract as c
from ndjson_to_parquet import tracking as t
from pipelines_shared import aws

pytestmark = pytest.mark.usefixtures("stack")


class RecordingS3:
    """The real (moto) client, with calls recorded and chosen operations failing."""

    def __init__(self, fail: dict[str, str] | None = None) -> None:
        self.real = aws.client("s3")
        self.fail = fail or {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            if name in self.fail:
                raise client_error(self.fail[name], name, 503 if self.fail[name] == "SlowDown" else 403)
            return getattr(self.real, name)(**kwargs)

        return call


def make_intake(s3: Any = None, clock: FakeClock | None = None, **limits: Any) -> FileIntake:
    s3 = s3 or aws.client("s3")
    return FileIntake(
        s3=s3,
        files=t.file_store(TRACKING_TABLE),
        inspector=Inspector(s3, Limits(**{"max_file_bytes": 10_000_000, **limits})),
        quarantine_bucket=QUARANTINE_BUCKET,
        clock=clock or FakeClock(),
    )


def land(name: str, body: bytes, day: str = DAY) -> str:
    key = f"landing/ndjson/{day}/{name}" if day else f"landing/ndjson/{name}"
    aws.client("s3").put_object(Bucket=INPUT_BUCKET, Key=key, Body=body)
    return key


def test_a_valid_file_is_tracked_pending_with_its_attributes():
    key = land("sub/data-001.ndjson", b'{"a": 1}\n{"b": 2}\n')
    (result,) = make_intake().handle_message(s3_event(key))
    assert (result.outcome, result.pending, result.date_prefix, result.file_key) == (
        TRACKED,
        True,
        DAY,
        "sub/data-001.ndjson",
    )
    item = t.file_store(TRACKING_TABLE).get(DAY, "sub/data-001.ndjson")
    assert item.status == t.PENDING
    assert item.attributes == {
        t.FILE_PATH: f"s3://{INPUT_BUCKET}/{key}",
        t.SIZE: 18,
        t.ETAG: aws.client("s3").head_object(Bucket=INPUT_BUCKET, Key=key)["ETag"].strip('"'),
        t.SHARD_ID: t.shard_id("sub/data-001.ndjson"),
    }
    raw = aws.client("dynamodb").get_item(
        TableName=TRACKING_TABLE, Key={"date_prefix": {"S": DAY}, "file_key": {"S": "sub/data-001.ndjson"}}
    )["Item"]
    assert raw["status"]["S"] == f"pending#{t.shard_id('sub/data-001.ndjson')}"


@pytest.mark.parametrize(
    ("name", "body", "day", "reason", "limits"),
    [
        ("notes.txt", b'{"a": 1}\n', DAY, c.BAD_EXTENSION, {}),
        ("empty.ndjson", b"", DAY, c.EMPTY, {}),
        ("blank.ndjson", b"\n\n", DAY, c.EMPTY, {}),
        ("big.ndjson", b'{"a": 1}\n' * 10, DAY, c.TOO_LARGE, {"max_file_bytes": 50}),
        ("csv.ndjson", b"a,b\n1,2\n", DAY, c.NOT_JSON, {}),
        ("array.jsonl", b"[1]\n", DAY, c.NOT_OBJECT, {}),
        ("latin1.ndjson", b'{"a": "\xe9"}\n', DAY, c.NOT_UTF8, {}),
        ("loose.ndjson", b'{"a": 1}\n', "", c.BAD_KEY, {}),
        ("bad.ndjson", b'{"a": 1}\n', "2026-02-30", c.BAD_KEY, {}),
    ],
)
def test_invalid_files_are_quarantined_with_a_reason_and_tracked_failed(name, body, day, reason, limits):
    key = land(name, body, day)
    clock = FakeClock()
    (result,) = make_intake(clock=clock, **limits).handle_message(s3_event(key))
    assert (result.outcome, result.reason, result.pending) == (QUARANTINED, reason, False)

    target = c.quarantine_key(key)
    expected_folder = day if reason != c.BAD_KEY else "undated"
    assert target.startswith(f"quarantine/{expected_folder}/")
    s3 = aws.client("s3")
    assert s3.get_object(Bucket=QUARANTINE_BUCKET, Key=target)["Body"].read() == body  # copied as is
    reason_json = json.loads(
        s3.get_object(Bucket=QUARANTINE_BUCKET, Key=f"{target}.reason.json")["Body"].read()
    )
    assert reason_json["version"] == 1
    assert reason_json["source"] == f"s3://{INPUT_BUCKET}/{key}"
    assert reason_json["reason"] == reason
    assert reason_json["detail"]
    assert reason_json["quarantined_at"] == clock.now.isoformat()

    item = t.file_store(TRACKING_TABLE).get(result.date_prefix, result.file_key)
    assert item.status == t.FAILED
    assert item.attributes[t.REASON] == reason
    assert item.attributes[t.QUARANTINE_PATH] == f"s3://{QUARANTINE_BUCKET}/{target}"
    assert item.attributes[t.ERROR] == reason_json["detail"]
    if reason == c.BAD_KEY:
        assert result.date_prefix == "undated"


def test_a_redelivered_message_doubles_nothing():
    good, bad = land("good.ndjson", b'{"a": 1}\n'), land("bad.ndjson", b"nope\n")
    clock = FakeClock()
    intake = make_intake(clock=clock)
    first = intake.handle_message(s3_event(good)) + intake.handle_message(s3_event(bad))
    quarantined_at = clock.now.isoformat()
    clock.advance(minutes=5)
    again = intake.handle_message(s3_event(good)) + intake.handle_message(s3_event(bad))

    assert [r.outcome for r in first] == [TRACKED, QUARANTINED]
    assert [r.outcome for r in again] == [ALREADY_TRACKED, ALREADY_TRACKED]
    assert [r.pending for r in again] == [True, False]
    store = t.file_store(TRACKING_TABLE)
    assert store.get(DAY, "good.ndjson").version == 1
    assert store.get(DAY, "bad.ndjson").version == 1
    s3 = aws.client("s3")
    quarantined = s3.list_objects_v2(Bucket=QUARANTINE_BUCKET)["Contents"]
    assert sorted(o["Key"] for o in quarantined) == [
        f"quarantine/{DAY}/bad.ndjson",
        f"quarantine/{DAY}/bad.ndjson.reason.json",
    ]
    reason = json.loads(
        s3.get_object(Bucket=QUARANTINE_BUCKET, Key=f"quarantine/{DAY}/bad.ndjson.reason.json")["Body"].read()
    )
    assert reason["quarantined_at"] == quarantined_at  # not rewritten


def test_only_the_beginning_of_a_file_is_read():
    body = b'{"n": 1}\n' * 40_000 + b"not json after 360 KB\n"
    key = land("large.ndjson", body)
    s3 = RecordingS3()
    (result,) = make_intake(s3).handle_message(s3_event(key))
    assert result.outcome == TRACKED
    reads = [kwargs for name, kwargs in s3.calls if name == "get_object"]
    assert [read["Range"] for read in reads] == ["bytes=0-262143"]


def test_an_object_s3_will_not_serve_is_quarantined_as_unreadable():
    key = land("locked.ndjson", b'{"a": 1}\n')
    (result,) = make_intake(RecordingS3(fail={"get_object": "AccessDenied"})).handle_message(s3_event(key))
    assert (result.outcome, result.reason) == (QUARANTINED, c.UNREADABLE)
    item = t.file_store(TRACKING_TABLE).get(DAY, "locked.ndjson")
    assert "AccessDenied" in item.attributes[t.ERROR]


def test_a_quarantine_copy_that_is_denied_still_leaves_the_reason():
    key = land("locked.ndjson", b"x\n")
    s3 = RecordingS3(fail={"copy_object": "AccessDenied"})
    (result,) = make_intake(s3).handle_message(s3_event(key))
    assert (result.outcome, result.reason) == (QUARANTINED, c.NOT_JSON)
    reason_key = f"quarantine/{DAY}/locked.ndjson.reason.json"
    reason = json.loads(aws.client("s3").get_object(Bucket=QUARANTINE_BUCKET, Key=reason_key)["Body"].read())
    assert "object not copied: AccessDenied" in reason["detail"]


def test_a_throttled_read_raises_and_tracks_nothing():
    key = land("busy.ndjson", b'{"a": 1}\n')
    with pytest.raises(Exception, match="SlowDown"):
        make_intake(RecordingS3(fail={"head_object": "SlowDown"})).handle_message(s3_event(key))
    assert t.file_store(TRACKING_TABLE).get(DAY, "busy.ndjson") is None


def test_an_object_deleted_before_validation_and_folder_markers_are_ignored():
    gone = f"landing/ndjson/{DAY}/gone.ndjson"
    folder = f"landing/ndjson/{DAY}/"
    intake = make_intake()
    assert [r.outcome for r in intake.handle_message(s3_event(gone))] == [IGNORED]
    assert [r.outcome for r in intake.handle_message(s3_event(folder))] == [IGNORED]
    assert aws.client("dynamodb").scan(TableName=TRACKING_TABLE)["Items"] == []
