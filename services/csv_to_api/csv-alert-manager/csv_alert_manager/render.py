"""The e-mail for a notification: subject, plain-text body, and the headers that identify it."""

from __future__ import annotations

import email.policy
import email.utils
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from .notification import Alarm, Notice, Notification

# An alarm ARN is longer than the default 78 columns and has no space to fold at: the default policy would
# RFC 2047-encode X-Alarm-Key, which makes it unreadable in raw mail and to grep. 998 is RFC 5322's limit.
POLICY = email.policy.SMTP.clone(max_line_length=998)

COMPARISONS = {
    "GreaterThanOrEqualToThreshold": ">=",
    "GreaterThanThreshold": ">",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
    "LessThanLowerOrGreaterThanUpperThreshold": "outside the band",
    "LessThanLowerThreshold": "below the band",
    "GreaterThanUpperThreshold": "above the band",
}


def runbook_anchor(alarm_name: str, environment: str) -> str:
    """The runbook's anchor for an alarm: its name without the environment, lower-case, [a-z0-9-].

    Our names carry the environment as a segment of their own, at the end (``...-stuck-dev``) or
    before the alarm's own suffix (``...-api-caller-dev-errors``): the last such segment is dropped.
    """
    words = [word for word in re.split(r"[^a-z0-9]+", alarm_name.lower()) if word]
    env = environment.lower()
    if env in words:
        del words[len(words) - 1 - words[::-1].index(env)]
    return "-".join(words)


def runbook_link(runbook_url: str, alarm_name: str, environment: str) -> str:
    return f"{runbook_url.split('#', 1)[0]}#{runbook_anchor(alarm_name, environment)}"


def subject(notification: Notification, environment: str) -> str:
    if isinstance(notification, Alarm):
        return _one_line(f"[{notification.new_state}] {notification.name} ({environment})")
    topic = notification.sns.topic_arn.rsplit(":", 1)[-1] or "SNS"
    title = notification.sns.subject or f"message on {topic}"
    return _one_line(f"[NOTICE, not an alarm] {title} ({environment})")


def message_id(key_text: str, sender: str) -> str:
    """A Message-ID derived from the notification's key.

    The same state change always gets the same id, so in the rare case that it is sent twice (the
    function died after the server took the message, before the idempotency record was saved), mail
    systems that drop duplicate Message-IDs show it once.
    """
    domain = sender.rsplit("@", 1)[-1].strip(" <>") or "csv-alert-manager.invalid"
    return f"<{hashlib.sha256(key_text.encode()).hexdigest()[:32]}@{domain}>"


def compose(
    notification: Notification,
    *,
    environment: str,
    runbook_url: str,
    sender: str,
    recipients: Sequence[str],
    now: datetime,
) -> EmailMessage:
    """The whole message: From, To, Subject, Date, Message-ID, X-Alarm-Key and a plain-text body."""
    message = EmailMessage(policy=POLICY)
    message["Subject"] = subject(notification, environment)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = email.utils.format_datetime(now)
    message["Message-ID"] = message_id(notification.key_text, sender)
    message["X-Alarm-Key"] = notification.key_text
    # RFC 3834: out-of-office and other auto-responders must not answer (and mail back into the relay).
    message["Auto-Submitted"] = "auto-generated"
    if isinstance(notification, Alarm):
        message.set_content(alarm_body(notification, environment=environment, runbook_url=runbook_url))
    else:
        message.set_content(notice_body(notification, environment=environment))
    return message


def alarm_body(alarm: Alarm, *, environment: str, runbook_url: str) -> str:
    where = ", ".join(part for part in (alarm.account, alarm.region) if part)
    change = f"{alarm.old_state} -> {alarm.new_state}" if alarm.old_state else alarm.new_state
    lines = [
        f"{alarm.new_state}: {alarm.name} (environment {environment})",
        "",
        "What fired",
        *_rows(
            ("Alarm", alarm.name),
            ("State", change),
            ("Since", alarm.state_change_time),
            ("Reason", alarm.reason),
            *_trigger_rows(alarm.trigger),
            ("Account", where),
            ("Alarm ARN", alarm.arn or ""),
        ),
        "",
        "What to do" if alarm.new_state != "OK" else "What it was about (resolved now)",
        *(f"  {line}" for line in (alarm.description or "(the alarm has no description)").splitlines()),
        f"  Runbook: {runbook_link(runbook_url, alarm.name, environment)}",
        "",
        "--",
        "Sent once per alarm state change by csv-alert-manager (csv_to_api).",
        f"Key: {alarm.key_text}",
        "",
    ]
    return "\n".join(lines)


def notice_body(notice: Notice, *, environment: str) -> str:
    lines = [
        f"NOT AN ALARM: a message on the alarm topic of csv_to_api (environment {environment}) that is not a",
        "CloudWatch alarm state change. It is forwarded as it came, so that nothing sent to the topic goes",
        "unread.",
        "",
        *_rows(
            ("Topic", notice.sns.topic_arn),
            ("SNS subject", notice.sns.subject or ""),
            ("Published", notice.sns.timestamp),
            ("Message id", notice.sns.message_id),
        ),
        "",
        "Message:",
        _pretty(notice.sns.body),
        "",
        "--",
        "Sent once per SNS message by csv-alert-manager (csv_to_api).",
        f"Key: {notice.key_text}",
        "",
    ]
    return "\n".join(lines)


def _trigger_rows(trigger: Mapping[str, Any]) -> list[tuple[str, str]]:
    if not trigger:
        return []
    rows: list[tuple[str, str]] = []
    if trigger.get("MetricName"):
        dimensions = ", ".join(
            f"{d.get('name') or d.get('Name')}={d.get('value') or d.get('Value')}"
            for d in trigger.get("Dimensions") or []
            if isinstance(d, Mapping)
        )
        metric = f"{trigger.get('Namespace', '')} {trigger['MetricName']}".strip()
        rows.append(("Metric", f"{metric} ({dimensions})" if dimensions else metric))
    elif trigger.get("Metrics"):
        rows.append(("Metric", "metric math: " + _metric_math(trigger["Metrics"])))
    operator = trigger.get("ComparisonOperator")
    if operator:
        statistic = trigger.get("Statistic") or trigger.get("ExtendedStatistic") or ""
        period = f" over {trigger['Period']} s" if trigger.get("Period") else ""
        threshold = trigger.get("Threshold", trigger.get("ThresholdMetricId", ""))
        condition = f"{statistic}{period} {COMPARISONS.get(operator, operator)} {threshold}".strip()
        evaluation = trigger.get("EvaluationPeriods")
        if evaluation:
            condition += f", {trigger.get('DatapointsToAlarm') or evaluation} of {evaluation} periods"
        rows.append(("Threshold", condition))
    return rows


def _metric_math(metrics: Any) -> str:
    if not isinstance(metrics, list):
        return str(metrics)
    expressions = [str(m.get("Expression") or m.get("Id")) for m in metrics if isinstance(m, Mapping)]
    return "; ".join(expressions)


def _rows(*rows: tuple[str, str]) -> list[str]:
    width = max(len(label) for label, _ in rows) + 1
    return [f"  {label + ':':<{width}} {value}" for label, value in rows if value]


def _pretty(body: str) -> str:
    try:
        return json.dumps(json.loads(body), indent=2, sort_keys=True, ensure_ascii=False)
    except ValueError:
        return body


def _one_line(text: str) -> str:
    return " ".join(text.split())
