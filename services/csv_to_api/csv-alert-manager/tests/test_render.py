"""Reading SNS records and writing the e-mail, without a server: anchors, labels, keys and the secret."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from csv_alert_manager.mailer import SmtpConfig, SmtpSecretInvalid
from csv_alert_manager.notification import Alarm, Notice, from_sns_record
from csv_alert_manager.render import compose, runbook_anchor, runbook_link

NOW = datetime(2026, 11, 23, 12, 0, 8, tzinfo=UTC)


def record(message: str, message_id: str = "m-1") -> dict[str, object]:
    return {
        "Sns": {
            "MessageId": message_id,
            "TopicArn": "arn:aws:sns:eu-west-1:123456789012:alarms",
            "Subject": None,
            "Message": message,
            "Timestamp": "2026-11-23T12:00:08.000Z",
        }
    }


def alarm(**fields: object) -> str:
    body = {
        "AlarmName": "lambda-pipelines-csv-stuck-prod",
        "NewStateValue": "ALARM",
        "StateChangeTime": "2026-11-23T12:00:07.123+0000",
    }
    body.update(fields)
    return json.dumps(body)


@pytest.mark.parametrize(
    ("name", "environment", "anchor"),
    [
        ("lambda-pipelines-csv-stuck-prod", "prod", "lambda-pipelines-csv-stuck"),
        # lambda_service's alarms put the environment before their own suffix.
        ("lambda-pipelines-csv-api-caller-dev-errors", "dev", "lambda-pipelines-csv-api-caller-errors"),
        ("CSV Ingest: Oldest_Message.Age (Staging)", "staging", "csv-ingest-oldest-message-age"),
        ("dev-tools-dev-errors", "dev", "dev-tools-errors"),  # only the last "dev" is the environment
        ("csv-development-errors", "dev", "csv-development-errors"),  # a whole segment only
    ],
)
def test_the_runbook_anchor_drops_the_environment_and_keeps_a_slug(name, environment, anchor):
    assert runbook_anchor(name, environment) == anchor


def test_the_runbook_link_replaces_a_fragment_of_the_base_url():
    link = runbook_link("https://wiki.example/csv#runbook", "csv-stuck-dev", "dev")
    assert link == "https://wiki.example/csv#csv-stuck"


@pytest.mark.parametrize(
    "message",
    [
        "plain text",
        json.dumps({"AlarmName": "x", "NewStateValue": "ALARM"}),  # no StateChangeTime: no alarm key
        json.dumps(["AlarmName", "NewStateValue", "StateChangeTime"]),
        alarm(StateChangeTime=""),
    ],
)
def test_what_is_not_an_alarm_state_change_is_a_notice_keyed_by_its_sns_message(message):
    notice = from_sns_record(record(message, message_id="m-7"))
    assert isinstance(notice, Notice)
    assert notice.key == {"topic": "arn:aws:sns:eu-west-1:123456789012:alarms", "sns_message_id": "m-7"}


def test_the_alarm_key_prefers_the_arn_and_falls_back_to_the_name():
    named = from_sns_record(record(alarm()))
    arn = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:lambda-pipelines-csv-stuck-prod"
    with_arn = from_sns_record(record(alarm(AlarmArn=arn), message_id="m-2"))
    assert isinstance(named, Alarm)
    assert named.key_text == "lambda-pipelines-csv-stuck-prod|2026-11-23T12:00:07.123+0000|ALARM"
    assert with_arn.key == {
        "alarm": arn,
        "state_change_time": "2026-11-23T12:00:07.123+0000",
        "state": "ALARM",
    }


def test_a_composite_alarm_without_trigger_or_description_still_reads_well():
    composite = from_sns_record(record(alarm(AlarmRule="ALARM(a) OR ALARM(b)", OldStateValue="OK")))
    message = compose(
        composite,
        environment="prod",
        runbook_url="https://wiki.example/csv",
        sender="Alerts <alerts@pipelines.example>",
        recipients=["a@pipelines.example"],
        now=NOW,
    )
    body = message.get_content()
    assert message["Subject"] == "[ALARM] lambda-pipelines-csv-stuck-prod (prod)"
    assert "Metric:" not in body
    assert "State:     OK -> ALARM" in body
    assert (
        "(the alarm has no description)\n  Runbook: https://wiki.example/csv#lambda-pipelines-csv-stuck"
        in body
    )
    assert message["Message-ID"].endswith("@pipelines.example>")
    assert message["Date"] == "Mon, 23 Nov 2026 12:00:08 +0000"


def test_the_message_id_is_the_same_for_the_same_state_change_only():
    def message_id(text: str) -> str:
        notification = from_sns_record(record(text))
        args = {
            "environment": "prod",
            "runbook_url": "https://x",
            "sender": "a@b.example",
            "recipients": ["c@d"],
        }
        return str(compose(notification, now=NOW, **args)["Message-ID"])

    assert message_id(alarm()) == message_id(alarm())
    assert message_id(alarm()) != message_id(alarm(NewStateValue="OK"))


def test_the_secret_defaults_the_port_and_keeps_the_password_out_of_repr():
    secret = {"host": "smtp.example", "username": "u", "password": "hunter2", "from": "a@b", "to": ["c@d"]}
    config = SmtpConfig.from_secret(secret, timeout=3)
    assert (config.port, config.recipients, config.ca_cert, config.timeout) == (587, ("c@d",), None, 3)
    assert "hunter2" not in repr(config)


def test_an_invalid_secret_lists_every_problem():
    with pytest.raises(SmtpSecretInvalid) as raised:
        SmtpConfig.from_secret(
            {"host": "h", "password": "hunter2", "to": [], "port": "x", "ca_cert": 1}, timeout=3
        )
    assert str(raised.value) == (
        "the SMTP secret lacks or has invalid: username (a non-empty string), from (a non-empty string), "
        "to (a non-empty list of addresses), port (a number), ca_cert (a PEM string)"
    )
