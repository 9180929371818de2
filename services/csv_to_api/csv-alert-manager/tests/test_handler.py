"""The handler on moto (idempotency table, SMTP secret) mailing a real SMTP server (tools/fake_smtp):
one e-mail per alarm state change, over STARTTLS with AUTH, and a clear error whenever it cannot be sent."""

from __future__ import annotations

import email.message
import email.utils
import json
import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_smtp import FakeSmtpServer

from fake_http.tls import make_certificates

USERNAME = "alerts"
PASSWORD = "correct horse battery staple"
SENDER = "alerts@pipelines.example"
RECIPIENTS = ["oncall@pipelines.example", "data-team@pipelines.example"]
ENVIRONMENT = "test"
RUNBOOK_URL = "https://runbooks.example/docs/csv_to_api.md"
TABLE = "lambda-pipelines-csv-alerts-sent-test"
SECRET = "lambda-pipelines/test/csv_to_api/smtp"
ACCOUNT = "123456789012"
ALARM = "lambda-pipelines-csv-api-caller-test-errors"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:lambda-pipelines-csv-alarms-test"


class LambdaContext:
    aws_request_id = "req-1"
    function_name = "lambda-pipelines-csv-alert-manager-test"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture(scope="session")
def cert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("smtp-tls")
    make_certificates(directory)
    return directory


@pytest.fixture
def smtp(tmp_path: Path, cert_dir: Path) -> Iterator[FakeSmtpServer]:
    with FakeSmtpServer(tmp_path / "smtp", username=USERNAME, password=PASSWORD, cert_dir=cert_dir) as server:
        yield server


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The table as Terraform makes it (Powertools' layout) and the function's environment."""
    from moto import mock_aws

    from pipelines_shared import aws, settings

    with mock_aws():
        aws.reset_clients()
        settings.clear_secret_cache()
        dynamodb = aws.client("dynamodb")
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.update_time_to_live(
            TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
        )
        for name, value in {
            "IDEMPOTENCY_TABLE": TABLE,
            "ENVIRONMENT": ENVIRONMENT,
            "RUNBOOK_URL": RUNBOOK_URL,
            "LOG_LEVEL": "DEBUG",
            "SMTP_TIMEOUT_SECONDS": "5",
        }.items():
            monkeypatch.setenv(name, value)
        yield
    aws.reset_clients()
    settings.clear_secret_cache()


def smtp_secret(server: FakeSmtpServer, **changes: Any) -> dict[str, Any]:
    secret = {
        "host": server.host,
        "port": server.port,
        "username": USERNAME,
        "password": PASSWORD,
        "from": SENDER,
        "to": RECIPIENTS,
        "ca_cert": server.ca_pem,
    }
    secret.update(changes)
    return {key: value for key, value in secret.items() if value is not None}


def put_secret(secret: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Store (or rotate) the SMTP secret; the next invocation reads it, as one after the cache's TTL would."""
    from pipelines_shared import aws, settings

    client = aws.client("secretsmanager")
    try:
        arn = client.create_secret(Name=SECRET, SecretString=json.dumps(secret))["ARN"]
    except client.exceptions.ResourceExistsException:
        arn = client.put_secret_value(SecretId=SECRET, SecretString=json.dumps(secret))["ARN"]
    monkeypatch.setenv("SMTP_SECRET_ARN", arn)
    settings.clear_secret_cache()


@pytest.fixture
def invoke(stack: None, monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """``lambda_handler`` after a fresh cold start."""
    from csv_alert_manager import handler

    handler.dependencies.cache_clear()

    def call(event: dict[str, Any]) -> dict[str, Any]:
        return handler.lambda_handler(event, LambdaContext())

    yield call
    handler.dependencies.cache_clear()


@pytest.fixture
def mailing(invoke, smtp: FakeSmtpServer, monkeypatch: pytest.MonkeyPatch):
    """``invoke`` with the SMTP secret pointing at ``smtp``."""
    put_secret(smtp_secret(smtp), monkeypatch)
    return invoke


def alarm_message(**changes: Any) -> dict[str, Any]:
    """A CloudWatch alarm state change as CloudWatch publishes it to SNS (the function errors alarm)."""
    message = {
        "AlarmName": "lambda-pipelines-csv-api-caller-test-errors",
        "AlarmDescription": (
            "lambda-pipelines-csv-api-caller-test reported errors (unhandled exceptions or timeouts). "
            "Read its log group."
        ),
        "AWSAccountId": "123456789012",
        "AlarmConfigurationUpdatedTimestamp": "2026-11-20T09:00:00.000+0000",
        "NewStateValue": "ALARM",
        "NewStateReason": (
            "Threshold Crossed: 1 out of the last 1 datapoints [3.0 (23/11/26 11:59:00)] was greater than "
            "or equal to the threshold (1.0) (minimum 1 datapoint for OK -> ALARM transition)."
        ),
        "StateChangeTime": "2026-11-23T12:00:07.123+0000",
        "Region": "US East (N. Virginia)",
        "AlarmArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{ALARM}",
        "OldStateValue": "OK",
        "OKActions": [],
        "AlarmActions": ["arn:aws:sns:us-east-1:123456789012:lambda-pipelines-csv-alarms-test"],
        "InsufficientDataActions": [],
        "Trigger": {
            "MetricName": "Errors",
            "Namespace": "AWS/Lambda",
            "StatisticType": "Statistic",
            "Statistic": "SUM",
            "Unit": None,
            "Dimensions": [{"value": "lambda-pipelines-csv-api-caller-test", "name": "FunctionName"}],
            "Period": 60,
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Threshold": 1.0,
            "TreatMissingData": "notBreaching",
            "EvaluateLowSampleCountPercentile": "",
        },
    }
    message.update(changes)
    return message


def sns_event(message: dict[str, Any] | str, *, message_id: str = "sns-1", subject: str | None = None):
    body = message if isinstance(message, str) else json.dumps(message)
    if subject is None and isinstance(message, dict) and "AlarmName" in message:
        subject = f'{message["NewStateValue"]}: "{message["AlarmName"]}" in US East (N. Virginia)'
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{TOPIC}:sub",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": TOPIC,
                    "Subject": subject,
                    "Message": body,
                    "Timestamp": "2026-11-23T12:00:08.000Z",
                    "SignatureVersion": "1",
                    "MessageAttributes": {},
                },
            }
        ]
    }


def sent_once(smtp: FakeSmtpServer) -> email.message.EmailMessage:
    (message,) = smtp.messages()
    assert isinstance(message, email.message.EmailMessage)
    return message


def body_of(message: email.message.EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


# ------------------------------------------------------------------------------------------ delivery


def test_an_alarm_becomes_one_email_received_over_starttls_with_auth(mailing, smtp):
    result = mailing(sns_event(alarm_message()))

    message = sent_once(smtp)
    assert message["Subject"] == "[ALARM] lambda-pipelines-csv-api-caller-test-errors (test)"
    assert message["From"] == SENDER
    assert [a.strip() for a in message["To"].split(",")] == RECIPIENTS
    assert message["X-Envelope-To"] == ", ".join(RECIPIENTS)
    assert message["Return-Path"] == f"<{SENDER}>"
    # RFC 3848: ESMTPSA is ESMTP with STARTTLS and AUTH; the server records both.
    assert " with ESMTPSA (TLSv1." in message["Received"]
    assert f"(authenticated as {USERNAME})" in message["Received"]
    alarm_arn = alarm_message()["AlarmArn"]
    assert message["X-Alarm-Key"] == f"{alarm_arn}|2026-11-23T12:00:07.123+0000|ALARM"
    assert re.fullmatch(r"<[0-9a-f]{32}@pipelines\.example>", message["Message-ID"])
    assert email.utils.parsedate_to_datetime(message["Date"]).tzinfo is not None
    assert message["Auto-Submitted"] == "auto-generated"
    assert result["mailed"][0]["message_id"] == message["Message-ID"]

    body = body_of(message)
    for expected in (
        "State:     OK -> ALARM",
        "Since:     2026-11-23T12:00:07.123+0000",
        "Reason:    Threshold Crossed: 1 out of the last 1 datapoints [3.0 (23/11/26 11:59:00)]",
        "Metric:    AWS/Lambda Errors (FunctionName=lambda-pipelines-csv-api-caller-test)",
        "Threshold: SUM over 60 s >= 1.0, 1 of 1 periods",
        "Account:   123456789012, US East (N. Virginia)",
        f"Alarm ARN: {alarm_arn}",
        "What to do\n  lambda-pipelines-csv-api-caller-test reported errors (unhandled exceptions",
        f"Runbook: {RUNBOOK_URL}#lambda-pipelines-csv-api-caller-errors",
    ):
        assert expected in body


def test_the_same_notification_delivered_twice_is_mailed_once(mailing, smtp):
    event = sns_event(alarm_message())
    first = mailing(event)
    second = mailing(event)  # SNS redelivery, or Lambda retrying the invocation
    # The same state change published again (the alarm notifies a second topic we subscribe to).
    third = mailing(sns_event(alarm_message(), message_id="sns-2"))

    assert len(smtp.messages()) == 1
    assert first["mailed"][0]["duplicate"] is False
    assert second["mailed"][0]["duplicate"] is True
    assert third["mailed"][0]["duplicate"] is True
    assert {r["mailed"][0]["message_id"] for r in (first, second, third)} == {
        smtp.messages()[0]["Message-ID"]
    }


def test_each_state_change_is_mailed(mailing, smtp):
    mailing(sns_event(alarm_message()))
    mailing(
        sns_event(
            alarm_message(
                NewStateValue="OK",
                OldStateValue="ALARM",
                StateChangeTime="2026-11-23T12:10:07.123+0000",
                NewStateReason="Threshold Crossed: no datapoints were received for 1 period.",
            ),
            message_id="sns-2",
        )
    )
    # The alarm firing again later is a new state change, not a duplicate of the first.
    mailing(sns_event(alarm_message(StateChangeTime="2026-11-23T13:00:07.123+0000"), message_id="sns-3"))

    subjects = [m["Subject"] for m in smtp.messages()]
    assert subjects == [
        "[ALARM] lambda-pipelines-csv-api-caller-test-errors (test)",
        "[OK] lambda-pipelines-csv-api-caller-test-errors (test)",
        "[ALARM] lambda-pipelines-csv-api-caller-test-errors (test)",
    ]
    assert len({m["Message-ID"] for m in smtp.messages()}) == 3
    assert "State:     ALARM -> OK" in body_of(smtp.messages()[1])


def test_a_message_that_is_not_an_alarm_is_mailed_labelled(mailing, smtp):
    mailing(sns_event("Deployment of csv_to_api finished.", subject="Deployment", message_id="sns-9"))
    mailing(sns_event({"event": "budget", "percent": 80}, subject=None, message_id="sns-10"))

    plain, json_notice = smtp.messages()
    assert plain["Subject"] == "[NOTICE, not an alarm] Deployment (test)"
    topic = TOPIC
    assert plain["X-Alarm-Key"] == f"sns|{topic}|sns-9"
    body = body_of(plain)
    assert body.startswith("NOT AN ALARM: ")
    assert "Message:\nDeployment of csv_to_api finished.\n" in body
    assert f"Topic:       {topic}" in body
    assert (
        json_notice["Subject"] == "[NOTICE, not an alarm] message on lambda-pipelines-csv-alarms-test (test)"
    )
    assert '"percent": 80' in body_of(json_notice)


def test_the_idempotency_record_is_stored_under_a_fixed_prefix_with_a_ttl(mailing, smtp):
    from pipelines_shared import aws

    mailing(sns_event(alarm_message()))

    (item,) = aws.client("dynamodb").scan(TableName=TABLE)["Items"]
    assert item["id"]["S"].startswith("csv-alert-manager.mail#")
    assert item["status"]["S"] == "COMPLETED"
    days = (int(item["expiration"]["N"]) - time.time()) / 86400
    assert 13.9 < days <= 14


# ------------------------------------------------------------------------------------------ refusals


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_server_without_starttls_is_refused_and_the_retry_sends(invoke, tmp_path, smtp, monkeypatch):
    from csv_alert_manager.mailer import StartTlsUnavailable

    with FakeSmtpServer(tmp_path / "plain", username=USERNAME, password=PASSWORD, starttls=False) as plain:
        put_secret(smtp_secret(plain, ca_cert=None), monkeypatch)
        with pytest.raises(StartTlsUnavailable, match=r"does not offer STARTTLS: refusing to send"):
            invoke(sns_event(alarm_message()))
        assert plain.messages() == []

    # The failed attempt left no idempotency record behind: once the relay is fixed, the retry mails.
    put_secret(smtp_secret(smtp), monkeypatch)
    invoke(sns_event(alarm_message()))
    assert len(smtp.messages()) == 1


def test_a_wrong_password_is_an_authentication_error(invoke, smtp, monkeypatch):
    from csv_alert_manager.mailer import AuthenticationFailed

    put_secret(smtp_secret(smtp, password="not the password"), monkeypatch)
    with pytest.raises(AuthenticationFailed, match=rf"refused the login of '{USERNAME}': 535") as raised:
        invoke(sns_event(alarm_message()))
    assert "not the password" not in str(raised.value)
    assert smtp.messages() == []


def test_a_certificate_from_another_ca_fails_verification(invoke, tmp_path, smtp, monkeypatch):
    from csv_alert_manager.mailer import TlsVerificationFailed

    other_ca = make_certificates(tmp_path / "other-ca").ca_pem
    put_secret(smtp_secret(smtp, ca_cert=other_ca), monkeypatch)
    with pytest.raises(
        TlsVerificationFailed, match=r"TLS verification of 127\.0\.0\.1:\d+ failed: .*certificate"
    ):
        invoke(sns_event(alarm_message()))
    assert smtp.messages() == []


def test_without_ca_cert_the_system_cas_do_not_vouch_for_a_private_server(invoke, smtp, monkeypatch):
    from csv_alert_manager.mailer import TlsVerificationFailed

    put_secret(smtp_secret(smtp, ca_cert=None), monkeypatch)
    with pytest.raises(TlsVerificationFailed):
        invoke(sns_event(alarm_message()))
    assert smtp.messages() == []


def test_a_server_that_is_down_is_a_retryable_error(invoke, smtp, monkeypatch):
    from csv_alert_manager.mailer import TransientMailError

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    put_secret(smtp_secret(smtp, port=closed_port), monkeypatch)
    with pytest.raises(
        TransientMailError, match=r"could not talk to 127\.0\.0\.1:\d+: ConnectionRefusedError"
    ) as raised:
        invoke(sns_event(alarm_message()))
    assert raised.value.retryable


def test_every_recipient_refused_is_an_error_and_the_retry_sends(
    invoke, tmp_path, cert_dir, smtp, monkeypatch
):
    from csv_alert_manager.mailer import RecipientsRefused

    with FakeSmtpServer(
        tmp_path / "strict",
        username=USERNAME,
        password=PASSWORD,
        cert_dir=cert_dir,
        reject_recipients=RECIPIENTS,
    ) as strict:
        put_secret(smtp_secret(strict), monkeypatch)
        with pytest.raises(
            RecipientsRefused, match=r"refused every recipient: oncall@pipelines\.example: 550"
        ):
            invoke(sns_event(alarm_message()))
        assert strict.messages() == []

    put_secret(smtp_secret(smtp), monkeypatch)
    invoke(sns_event(alarm_message()))
    assert len(smtp.messages()) == 1


def test_some_recipients_refused_is_an_error_every_time_but_no_second_email(
    invoke, tmp_path, cert_dir, monkeypatch
):
    from csv_alert_manager.mailer import RecipientsRefused

    with FakeSmtpServer(
        tmp_path / "half",
        username=USERNAME,
        password=PASSWORD,
        cert_dir=cert_dir,
        reject_recipients=RECIPIENTS[1:],
    ) as half:
        put_secret(smtp_secret(half), monkeypatch)
        for _ in range(2):  # the invocation and Lambda's retry of it
            with pytest.raises(
                RecipientsRefused, match=r"refused some recipients: data-team@pipelines\.example: 550"
            ):
                invoke(sns_event(alarm_message()))
        (message,) = half.messages()
    assert message["X-Envelope-To"] == RECIPIENTS[0]


def test_an_invalid_secret_names_the_fields_not_the_values(invoke, smtp, monkeypatch):
    from csv_alert_manager.mailer import SmtpSecretInvalid

    put_secret(smtp_secret(smtp, password="", to="oncall@pipelines.example"), monkeypatch)
    with pytest.raises(SmtpSecretInvalid, match=r"password \(a non-empty string\), to \(a non-empty list"):
        invoke(sns_event(alarm_message()))


def test_an_event_that_is_not_from_sns_is_an_error(invoke, smtp, monkeypatch):
    from csv_alert_manager.notification import NotSnsEvent

    put_secret(smtp_secret(smtp), monkeypatch)
    with pytest.raises(NotSnsEvent):
        invoke({"detail-type": "Scheduled Event"})
    assert smtp.messages() == []


def test_a_copy_arriving_while_the_first_is_being_sent_fails_and_is_not_mailed(stack, smtp):
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
    from csv_alert_manager.mailer import SmtpConfig, send_message
    from csv_alert_manager.manager import AlertManager

    from pipelines_shared import aws

    record = sns_event(alarm_message())["Records"][0]
    concurrent: list[BaseException] = []

    def send_while_a_copy_arrives(config, message):
        try:  # SNS delivering the same notification to a second, concurrent invocation
            manager.process(record, LambdaContext())
        except IdempotencyAlreadyInProgressError as error:
            concurrent.append(error)
        return send_message(config, message)

    manager = AlertManager(
        persistence=DynamoDBPersistenceLayer(table_name=TABLE, boto3_client=aws.client("dynamodb")),
        smtp_config=lambda: SmtpConfig.from_secret(smtp_secret(smtp), timeout=5),
        environment=ENVIRONMENT,
        runbook_url=RUNBOOK_URL,
        transport=send_while_a_copy_arrives,
    )
    manager.process(record, LambdaContext())

    assert len(concurrent) == 1
    assert len(smtp.messages()) == 1
    assert manager.process(record, LambdaContext()).duplicate  # its retry, later
