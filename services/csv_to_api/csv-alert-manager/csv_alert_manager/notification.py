"""What arrived on the alarm topic: a CloudWatch alarm state change, or any other SNS message.

Each carries the key it is mailed once under:

- an alarm state change: (AlarmArn, else AlarmName; StateChangeTime; NewStateValue). The same change
  reaches us twice when SNS redelivers, when Lambda retries, or when the alarm notifies two topics we
  subscribe to (new SNS message ids), and it is one e-mail all the same;
- any other message: (TopicArn, MessageId), which SNS keeps across its redeliveries.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ALARM_FIELDS = ("AlarmName", "NewStateValue", "StateChangeTime")
"""A message is taken for an alarm state change when it is a JSON object with all of these."""


class NotSnsEvent(ValueError):
    """The event is not what SNS sends a subscribed function."""


@dataclass(frozen=True, kw_only=True)
class SnsMessage:
    """The envelope fields of one SNS record that the e-mail and the logs use."""

    message_id: str
    topic_arn: str
    subject: str | None
    timestamp: str
    body: str


@dataclass(frozen=True, kw_only=True)
class Alarm:
    """A CloudWatch alarm state change (the JSON CloudWatch publishes to SNS)."""

    sns: SnsMessage
    name: str
    description: str
    arn: str | None
    account: str | None
    region: str | None
    new_state: str
    old_state: str | None
    reason: str
    state_change_time: str
    trigger: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> dict[str, str]:
        return {
            "alarm": self.arn or self.name,
            "state_change_time": self.state_change_time,
            "state": self.new_state,
        }

    @property
    def key_text(self) -> str:
        return "|".join((self.arn or self.name, self.state_change_time, self.new_state))


@dataclass(frozen=True, kw_only=True)
class Notice:
    """Any other message on the topic: mailed as it came, labelled as not an alarm."""

    sns: SnsMessage

    @property
    def key(self) -> dict[str, str]:
        return {"topic": self.sns.topic_arn, "sns_message_id": self.sns.message_id}

    @property
    def key_text(self) -> str:
        return f"sns|{self.sns.topic_arn}|{self.sns.message_id}"


Notification = Alarm | Notice


def sns_records(event: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The records of an SNS event; NotSnsEvent if there are none (nothing is dropped unnoticed)."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not records or not all(isinstance(r, Mapping) and isinstance(r.get("Sns"), Mapping) for r in records):
        raise NotSnsEvent("expected an SNS event: {'Records': [{'Sns': {...}}, ...]}")
    return list(records)


def from_sns_record(record: Mapping[str, Any]) -> Notification:
    """Read one SNS record as an alarm state change if it is one, else as a generic notice."""
    sns = record["Sns"]
    message = SnsMessage(
        message_id=str(sns.get("MessageId") or ""),
        topic_arn=str(sns.get("TopicArn") or ""),
        subject=sns.get("Subject") or None,
        timestamp=str(sns.get("Timestamp") or ""),
        body=str(sns.get("Message") or ""),
    )
    if not message.message_id:
        raise NotSnsEvent("SNS record without a MessageId")
    alarm = _alarm_json(message.body)
    if alarm is None:
        return Notice(sns=message)
    trigger = alarm.get("Trigger")
    return Alarm(
        sns=message,
        name=str(alarm["AlarmName"]),
        description=str(alarm.get("AlarmDescription") or ""),
        arn=alarm.get("AlarmArn") or None,
        account=alarm.get("AWSAccountId") or None,
        region=alarm.get("Region") or None,
        new_state=str(alarm["NewStateValue"]),
        old_state=alarm.get("OldStateValue") or None,
        reason=str(alarm.get("NewStateReason") or ""),
        state_change_time=str(alarm["StateChangeTime"]),
        trigger=trigger if isinstance(trigger, Mapping) else {},
    )


def _alarm_json(body: str) -> Mapping[str, Any] | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    if isinstance(parsed, Mapping) and all(
        isinstance(parsed.get(name), str) and parsed[name] for name in ALARM_FIELDS
    ):
        return parsed
    return None
