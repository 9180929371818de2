"""Mail each notification once: Powertools' idempotency around "compose and send", keyed on the
notification's key (see notification.py), so a redelivered or retried state change is not mailed again.

What the idempotency record gives:

- the first delivery of a key sends and stores the outcome (COMPLETED) for ``expiry_seconds``;
- a later one gets the stored outcome back and sends nothing;
- one that arrives while the first is still sending fails with IdempotencyAlreadyInProgressError,
  and its retry finds the outcome stored;
- a send that raises leaves no record, so the retry sends;
- a function killed mid-send leaves an INPROGRESS record that expires with the invocation's remaining
  time (the Lambda context is registered for that), after which a retry sends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from pipelines_shared.clock import Clock, utc_now
from pipelines_shared.log import get_logger

from .mailer import MailError, RecipientsRefused, SmtpConfig, describe_refused, send_message
from .notification import Alarm, Notification, from_sns_record
from .render import compose

logger = get_logger(__name__)

KEY_PREFIX = "csv-alert-manager.mail"
"""Prefix of every idempotency record's id (``<prefix>#<sha256 of the key>``), fixed so that renaming
the function or this module does not forget what was sent."""

# SNS and Lambda give up on a delivery within hours, but a failed one can be redriven from a dead-letter
# queue for as long as SQS keeps it: 14 days at most. A key never recurs legitimately, so remembering it
# that long costs a small item per e-mail and rules out a second e-mail after any redrive.
DEFAULT_EXPIRY_SECONDS = 14 * 24 * 3600

Transport = Callable[[SmtpConfig, EmailMessage], dict[str, tuple[int, str]]]


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What happened to one notification; stored as the idempotency record's data."""

    key: str
    subject: str
    message_id: str
    recipients: tuple[str, ...]
    refused: Mapping[str, tuple[int, str]]
    duplicate: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "subject": self.subject,
            "message_id": self.message_id,
            "recipients": list(self.recipients),
            "refused": {address: list(reply) for address, reply in self.refused.items()},
            "duplicate": self.duplicate,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Outcome:
        return cls(
            key=data["key"],
            subject=data["subject"],
            message_id=data["message_id"],
            recipients=tuple(data["recipients"]),
            refused={address: (int(code), str(reply)) for address, (code, reply) in data["refused"].items()},
            duplicate=bool(data.get("duplicate", False)),
        )


class AlertManager:
    """Turns SNS records into e-mails, one per notification key."""

    def __init__(
        self,
        *,
        persistence: BasePersistenceLayer,
        smtp_config: Callable[[], SmtpConfig],
        environment: str,
        runbook_url: str,
        expiry_seconds: int = DEFAULT_EXPIRY_SECONDS,
        transport: Transport = send_message,
        clock: Clock = utc_now,
    ) -> None:
        self.smtp_config = smtp_config
        self.environment = environment
        self.runbook_url = runbook_url
        self.transport = transport
        self.clock = clock
        self.idempotency = IdempotencyConfig(
            expires_after_seconds=expiry_seconds,
            raise_on_no_idempotency_key=True,
            hash_function="sha256",
            response_hook=_mark_duplicate,
        )
        self._mail_once = idempotent_function(
            self._mail,
            data_keyword_argument="key",
            persistence_store=persistence,
            config=self.idempotency,
            key_prefix=KEY_PREFIX,
        )

    def process(self, record: Mapping[str, Any], lambda_context: Any = None) -> Outcome:
        """Mail one SNS record's notification unless it was mailed before; raise if it cannot be."""
        notification = from_sns_record(record)
        if lambda_context is not None:
            self.idempotency.register_lambda_context(lambda_context)
        log = logger.bind(
            kind="alarm" if isinstance(notification, Alarm) else "notice",
            alarm=getattr(notification, "name", None),
            state=getattr(notification, "new_state", None),
            sns_message_id=notification.sns.message_id,
            key=notification.key_text,
        )
        try:
            outcome = Outcome.from_dict(self._mail_once(key=notification.key, notification=notification))
        except MailError as error:
            log.error("notification not mailed", error=str(error), retryable=error.retryable)
            raise
        except IdempotencyAlreadyInProgressError:
            log.warning("notification being mailed by another invocation; failing so that it is retried")
            raise
        log = log.bind(message_id=outcome.message_id, subject=outcome.subject)
        if outcome.duplicate:
            log.info("notification mailed before; not sending it again")
        else:
            log.info("notification mailed", recipients=len(outcome.recipients) - len(outcome.refused))
        if outcome.refused:
            # Raised after the outcome is stored: a retry must not mail those who got it again, and it
            # raises the same, so the refusal reaches the errors alarm every time.
            refusal = RecipientsRefused(
                f"the SMTP server refused some recipients: {describe_refused(outcome.refused)}",
                outcome.refused,
            )
            log.error("notification not mailed to every recipient", error=str(refusal), retryable=False)
            raise refusal
        return outcome

    def _mail(self, *, key: dict[str, str], notification: Notification) -> dict[str, Any]:
        config = self.smtp_config()
        message = compose(
            notification,
            environment=self.environment,
            runbook_url=self.runbook_url,
            sender=config.sender,
            recipients=config.recipients,
            now=self.clock(),
        )
        refused = self.transport(config, message)
        return Outcome(
            key=notification.key_text,
            subject=str(message["Subject"]),
            message_id=str(message["Message-ID"]),
            recipients=config.recipients,
            refused=refused,
        ).as_dict()


def _mark_duplicate(response: Any, idempotent_data: DataRecord) -> Any:
    return {**response, "duplicate": True}
