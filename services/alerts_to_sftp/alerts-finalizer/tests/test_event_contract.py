"""The AlertJobFinalized event as docs/alerts_to_sftp/schemas/job-finalized-event.schema.json says,
from the PutEvents entry the finalizer's announcer sends (a recording EventBridge client)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from alerts_finalizer.finalizer import AwsAnnouncer

from contract_schemas import contract

EVENT = contract("alerts_to_sftp", "job-finalized-event")


class RecordingEvents:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def put_events(self, *, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.entries += Entries
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]}


def test_a_finalized_job_is_announced_as_the_documented_event():
    events = RecordingEvents()
    finalized_at = datetime(2026, 2, 1, 2, 25, tzinfo=UTC).isoformat()
    AwsAnnouncer(events, None, bus="default", namespace="LambdaPipelines/Alerts").job_finalized(
        "airflow-20260201", 2000, finalized_at
    )
    [entry] = events.entries
    assert entry["EventBusName"] == "default"
    # What a rule's target receives: EventBridge's envelope around the entry's fields.
    delivered = {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "source": entry["Source"],
        "detail-type": entry["DetailType"],
        "account": "123456789012",
        "time": "2026-02-01T02:25:01Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": json.loads(entry["Detail"]),
    }
    EVENT.assert_produced(delivered)
    assert delivered["detail"] == {
        "job_id": "airflow-20260201",
        "alert_count": 2000,
        "finalized_at": finalized_at,
    }
