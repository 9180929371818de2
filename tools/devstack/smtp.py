"""The local SMTP server (tools/fake_smtp) as a local-stack process on a loopback port: STARTTLS with a
throwaway CA's certificate, AUTH with a generated password, every message kept as a file."""

from __future__ import annotations

import os
import smtplib
from typing import Any

from . import paths, private
from .proc import StackError, start_tool, stop

DIR = paths.LOCAL / "smtp"
PID = DIR / "fake-smtp.pid"
LOG = paths.LOGS / "fake-smtp.log"
PASSWORD_FILE = DIR / "password"
MAIL_DIR = DIR / "mail"
# Written by the server on its first start (fake_http.tls): the one CA the alert managers trust.
CA_FILE = DIR / "tls" / "ca.pem"
PORT = int(os.environ.get("LP_SMTP_PORT", "2525"))
USERNAME = "alerts"
SENDER = "alerts@lambda-pipelines.localhost"
RECIPIENTS = ("oncall@lambda-pipelines.localhost",)


def password() -> str:
    return private.generated_secret(PASSWORD_FILE)


def secret() -> dict[str, Any]:
    """The SMTP secret's JSON as the alert managers read it from Secrets Manager."""
    if not CA_FILE.exists():
        raise StackError(f"{CA_FILE} is missing: the SMTP server writes it when it starts (make up)")
    return {
        "host": paths.HOST,
        "port": PORT,
        "username": USERNAME,
        "password": password(),
        "from": SENDER,
        "to": list(RECIPIENTS),
        "ca_cert": CA_FILE.read_text(),
    }


def healthy() -> bool:
    """It answers EHLO and offers STARTTLS (the banner alone would not tell our server from another)."""
    try:
        with smtplib.SMTP(paths.HOST, PORT, local_hostname="devstack", timeout=2) as client:
            client.ehlo()
            return client.has_extn("starttls")
    except (OSError, smtplib.SMTPException):
        return False


def start() -> bool:
    private.make_dir(DIR)
    password()
    arguments = ["--dir", str(DIR), "--username", USERNAME, "--password-file", str(PASSWORD_FILE)]
    return start_tool("fake_smtp", arguments, port=PORT, port_variable="LP_SMTP_PORT",
                      pid_file=PID, log_file=LOG, healthy=healthy, what="SMTP server")  # fmt: skip


def down() -> bool:
    return stop(PID, "SMTP server")
