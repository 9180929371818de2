"""Every shape an S3 notification reaches the queue in, and what is not one."""

from __future__ import annotations

import json

import pytest
from manifest_builder.events import NotAnS3Event, ObjectRef, objects_in_message

from ndjson_fakes import s3_event
from pipelines_shared.retry import PermanentError


def test_s3_notification_keys_are_url_decoded():
    body = s3_event("landing/ndjson/2026-02-01/my file+ü.ndjson")
    assert objects_in_message(body) == [
        ObjectRef(
            "ndjson-parquet-input-test-123456789012", "landing/ndjson/2026-02-01/my file+ü.ndjson", 1, "x"
        )
    ]


def test_the_test_event_s3_sends_on_configuration_is_ignored():
    body = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "t", "Bucket": "b"})
    assert objects_in_message(body) == []


def test_removals_are_ignored():
    assert (
        objects_in_message(s3_event("landing/ndjson/2026-02-01/a.ndjson", event_name="ObjectRemoved:Delete"))
        == []
    )


def test_sns_wrapped_notifications_are_unwrapped():
    body = json.dumps({"Type": "Notification", "Message": s3_event("landing/ndjson/2026-02-01/a.ndjson")})
    assert [ref.key for ref in objects_in_message(body)] == ["landing/ndjson/2026-02-01/a.ndjson"]


def test_eventbridge_s3_events_carry_keys_unencoded():
    body = json.dumps(
        {
            "source": "aws.s3",
            "detail-type": "Object Created",
            "detail": {
                "bucket": {"name": "in"},
                "object": {"key": "landing/ndjson/2026-02-01/a+b.ndjson", "size": 5},
            },
        }
    )
    assert objects_in_message(body) == [ObjectRef("in", "landing/ndjson/2026-02-01/a+b.ndjson", 5, None)]


@pytest.mark.parametrize(
    "body",
    [
        "not json at all",
        json.dumps(["a", "list"]),
        json.dumps({"job_id": "something else"}),
        json.dumps({"Records": [{"eventSource": "aws:sqs"}]}),
        json.dumps({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {}}]}),
        json.dumps({"Type": "Notification", "Message": "{broken"}),
    ],
)
def test_anything_else_is_a_permanent_failure(body):
    with pytest.raises(NotAnS3Event) as error:
        objects_in_message(body)
    assert isinstance(error.value, PermanentError)
