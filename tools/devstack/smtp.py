"""The local SMTP server (tools/fake_smtp) as a local-stack process on a loopback port: STARTTLS with a
throwaway CA's certificate, AUTH with a generated password, every message kept as a file."""

from __future__ import annotations

import os
import secrets
import smtplib
import sys
from pathlib import Path
from typing import Any

from . import paths, private
from .proc import StackError, pid_alive, port_open, spawn, stop, wait_until

DIR = paths.LOCAL / "smtp"
PID = DIR / "fake-smtp.pid"
LOG = paths.LOGS / "fake-smtp.log"
PASSWORD_FILE = DIR / "password"
MAIL_DIR = DIR / "mail"
# Written by the server on its first start (fake_smtp.certs): the one CA the alert managers trust.
CA_FILE = DIR / "tls" / "ca.pem"
PORT = int(os.environ.get("LP_SMTP_PORT", "2525"))
USERNAME = "alerts"
SENDER = "alerts@lambda-pipelines.localhost"
RECIPIENTS = ("oncall@lambda-pipelines.localhost",)


def password() -> str:
    if not PASSWORD_FILE.exists():
        private.write_private(PASSWORD_FILE, secrets.token_urlsafe(24))
    return PASSWORD_FILE.read_text().strip()


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
    if pid_alive(PID) and healthy():
        return False
    if port_open(PORT):
        raise StackError(f"port {PORT} is taken by another process; set LP_SMTP_PORT")
    private.make_dir(DIR)
    password()
    argv = [
        sys.executable, "-m", "fake_smtp", "--port", str(PORT), "--dir", str(DIR),
        "--username", USERNAME, "--password-file", str(PASSWORD_FILE),
    ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    spawn(argv, PID, LOG, env=env)
    wait_until(healthy, "SMTP server", timeout=20, log_file=LOG)
    return True


def down() -> bool:
    return stop(PID, "SMTP server")
