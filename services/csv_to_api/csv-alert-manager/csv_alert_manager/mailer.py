"""Send one message over SMTP: STARTTLS required, the server's certificate verified, then AUTH.

Every failure raises a :class:`MailError` whose message says what went wrong and where, and whose
``retryable`` says whether trying again later can help (connection refused or reset, timeouts, 4xx
replies) or needs a person (no STARTTLS, certificate not trusted, login refused, 5xx replies). Both
kinds are raised: the invocation fails, SNS/Lambda retry it, and the function's errors alarm fires.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

DEFAULT_PORT = 587


class MailError(Exception):
    """The message was not handed to the SMTP server (or not for every recipient)."""

    retryable = False


class SmtpSecretInvalid(MailError):
    """The SMTP secret lacks a field or has one of the wrong type."""


class StartTlsUnavailable(MailError):
    """The server does not offer STARTTLS: we never send credentials or alarms in clear text."""


class TlsVerificationFailed(MailError):
    """The server's certificate is not signed by a trusted CA or does not name the host."""


class AuthenticationFailed(MailError):
    """The server refused the login."""


class RecipientsRefused(MailError):
    """The server refused one or more recipients; ``refused`` maps each to its (code, reply)."""

    def __init__(self, message: str, refused: Mapping[str, tuple[int, str]]) -> None:
        super().__init__(message)
        self.refused = dict(refused)
        self.retryable = any(400 <= code < 500 for code, _ in self.refused.values())


class TransientMailError(MailError):
    """Connection refused or reset, a timeout, a 4xx reply: trying again later can succeed."""

    retryable = True


class PermanentMailError(MailError):
    """A 5xx reply or a protocol the server does not support: someone has to look."""


@dataclass(frozen=True, kw_only=True)
class SmtpConfig:
    host: str
    port: int
    username: str
    password: str = field(repr=False)
    sender: str
    recipients: tuple[str, ...]
    ca_cert: str | None = field(default=None, repr=False)
    """PEM of the one CA to trust for this server; None trusts the system's CAs."""
    timeout: float = 10.0
    """Seconds for the connection and for each reply."""

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def from_secret(cls, secret: Any, *, timeout: float) -> SmtpConfig:
        """From the secret's JSON ``{"host", "port", "username", "password", "from", "to": [...],
        "ca_cert"?}``; SmtpSecretInvalid names every bad field (never a value)."""
        if not isinstance(secret, Mapping):
            raise SmtpSecretInvalid("the SMTP secret is not a JSON object")
        problems = [
            f"{name} (a non-empty string)"
            for name in ("host", "username", "password", "from")
            if not _non_empty_str(secret.get(name))
        ]
        to = secret.get("to")
        if not isinstance(to, list) or not to or not all(_non_empty_str(address) for address in to):
            problems.append("to (a non-empty list of addresses)")
        port = secret.get("port", DEFAULT_PORT)
        if isinstance(port, bool) or not isinstance(port, int | str) or not str(port).isdigit():
            problems.append("port (a number)")
        ca_cert = secret.get("ca_cert")
        if ca_cert is not None and not isinstance(ca_cert, str):
            problems.append("ca_cert (a PEM string)")
        if problems:
            raise SmtpSecretInvalid("the SMTP secret lacks or has invalid: " + ", ".join(problems))
        return cls(
            host=secret["host"],
            port=int(port),
            username=secret["username"],
            password=secret["password"],
            sender=secret["from"],
            recipients=tuple(secret["to"]),
            ca_cert=ca_cert or None,
            timeout=timeout,
        )


def _non_empty_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def tls_context(ca_cert: str | None) -> ssl.SSLContext:
    """Certificate and host name verified; with ``ca_cert`` that CA is the only one trusted."""
    if ca_cert:
        # Only that CA: a private relay's name must not be vouched for by any public CA as well.
        return ssl.create_default_context(cadata=ca_cert)
    return ssl.create_default_context()


def send_message(config: SmtpConfig, message: EmailMessage) -> dict[str, tuple[int, str]]:
    """Hand ``message`` to the server for every recipient of ``config``.

    Returns the recipients the server refused while accepting the others (empty: all accepted);
    raises a MailError when the message was not accepted at all.
    """
    try:
        context = tls_context(config.ca_cert)
    except ssl.SSLError as error:
        raise SmtpSecretInvalid(
            f"the SMTP secret's ca_cert is not a usable PEM certificate: {error}"
        ) from None
    try:
        with smtplib.SMTP(config.host, config.port, timeout=config.timeout) as smtp:
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                raise StartTlsUnavailable(
                    f"{config.where} does not offer STARTTLS: refusing to send the login and the alarm "
                    "in clear text"
                )
            smtp.starttls(context=context)
            smtp.ehlo()
            smtp.login(config.username, config.password)
            refused = smtp.send_message(message, from_addr=config.sender, to_addrs=list(config.recipients))
    except MailError:
        raise
    except ssl.SSLCertVerificationError as error:
        raise TlsVerificationFailed(
            f"TLS verification of {config.where} failed: {error.verify_message or error}"
        ) from error
    except smtplib.SMTPAuthenticationError as error:
        raise AuthenticationFailed(
            f"{config.where} refused the login of {config.username!r}: {_reply(error)}"
        ) from error
    except smtplib.SMTPRecipientsRefused as error:
        refused_all = {address: (code, _text(reply)) for address, (code, reply) in error.recipients.items()}
        raise RecipientsRefused(
            f"{config.where} refused every recipient: {describe_refused(refused_all)}", refused_all
        ) from error
    except smtplib.SMTPResponseException as error:
        kind = TransientMailError if 400 <= error.smtp_code < 500 else PermanentMailError
        raise kind(f"{config.where} answered {_reply(error)}") from error
    except smtplib.SMTPNotSupportedError as error:
        raise PermanentMailError(f"{config.where}: {error}") from error
    except (smtplib.SMTPException, OSError) as error:
        # OSError: refused, reset, timed out, name not resolved, TLS handshake cut; SMTPServerDisconnected.
        raise TransientMailError(
            f"could not talk to {config.where}: {type(error).__name__}: {error}"
        ) from error
    return {address: (code, _text(reply)) for address, (code, reply) in refused.items()}


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def _reply(error: smtplib.SMTPResponseException) -> str:
    return f"{error.smtp_code} {_text(error.smtp_error)}"


def describe_refused(refused: Mapping[str, tuple[int, str]]) -> str:
    """``address: code reply; ...`` for a log line or an error."""
    return "; ".join(f"{address}: {code} {reply}" for address, (code, reply) in refused.items())
