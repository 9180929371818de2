"""The fake SMTP server insists on what the alert managers rely on: STARTTLS first, then AUTH, then mail.

Spoken to with smtplib's low-level commands, so each refusal is seen as the reply code a client gets.
"""

from __future__ import annotations

import base64
import os
import signal
import smtplib
import ssl
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from fake_smtp import FakeSmtpServer

from fake_http.tls import make_certificates

TOOLS = Path(__file__).resolve().parents[2] / "tools"
USER, PASSWORD = "alerts", "s3cret-pass"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FakeSmtpServer]:
    with FakeSmtpServer(tmp_path, username=USER, password=PASSWORD) as smtp:
        yield smtp


def connect(server: FakeSmtpServer, host: str | None = None) -> smtplib.SMTP:
    client = smtplib.SMTP(host or server.host, server.port, local_hostname="client.test", timeout=5)
    client.ehlo()
    return client


def secure(server: FakeSmtpServer, client: smtplib.SMTP) -> None:
    assert server.ca_pem is not None
    client.starttls(context=ssl.create_default_context(cadata=server.ca_pem))
    client.ehlo()


def note(subject: str = "hello") -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@pipelines.example", "b@pipelines.example", subject
    message.set_content("body\n")
    return message


def test_refuses_mail_and_auth_before_starttls_and_does_not_offer_auth(server):
    with connect(server) as client:
        assert client.has_extn("starttls")
        assert not client.has_extn("auth")
        assert client.mail("a@pipelines.example")[0] == 530
        assert (
            client.docmd("AUTH", "PLAIN " + base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode())[0]
            == 530
        )
    assert server.messages() == []


def test_refuses_mail_after_starttls_without_auth(server):
    with connect(server) as client:
        secure(server, client)
        assert client.has_extn("auth")
        code, reply = client.mail("a@pipelines.example")
    assert (code, reply) == (530, b"5.7.0 Authentication required")


def test_refuses_a_wrong_password(server):
    with connect(server) as client:
        secure(server, client)
        with pytest.raises(smtplib.SMTPAuthenticationError) as raised:
            client.login(USER, "wrong")
    assert raised.value.smtp_code == 535


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_accepts_auth_plain_and_login_and_keeps_the_message(server, mechanism):
    with connect(server) as client:
        secure(server, client)
        client.user, client.password = USER, PASSWORD
        code, _ = client.auth(mechanism, getattr(client, f"auth_{mechanism.lower()}"))
        assert code == 235
        assert client.send_message(note(mechanism)) == {}
    (message,) = server.messages()
    assert message["Subject"] == mechanism
    assert message["Return-Path"] == "<a@pipelines.example>"
    assert message["X-Envelope-To"] == "b@pipelines.example"
    assert "with ESMTPSA (TLSv1." in message["Received"]
    assert message.get_content() == "body\n"
    # One file per message in maildir's new/, nothing left in tmp/.
    assert [p.parent.name for p in server.message_files()] == ["new"]
    assert list((server.mail_dir / "tmp").iterdir()) == []


def test_the_certificate_names_localhost_and_is_signed_by_the_exposed_ca_only(server, tmp_path):
    with connect(server, host="localhost") as client:
        secure(server, client)  # verifies the chain and the name "localhost"
    with connect(server) as client, pytest.raises(ssl.SSLCertVerificationError):
        client.starttls(context=ssl.create_default_context(cadata=make_certificates(tmp_path / "x").ca_pem))


def test_certificates_are_kept_across_restarts(tmp_path):
    first = make_certificates(tmp_path).ca_pem
    assert make_certificates(tmp_path).ca_pem == first
    (tmp_path / "server.pem").unlink()  # a half-written set is made anew, CA and all
    assert make_certificates(tmp_path).ca_pem != first
    assert oct((tmp_path / "server-key.pem").stat().st_mode & 0o777) == "0o600"


def test_rejected_recipients_get_a_550_and_the_others_the_message(tmp_path):
    reject = ["gone@pipelines.example"]
    with FakeSmtpServer(tmp_path, username=USER, password=PASSWORD, reject_recipients=reject) as server:
        with connect(server) as client:
            secure(server, client)
            client.login(USER, PASSWORD)
            refused = client.send_message(note(), to_addrs=["b@pipelines.example", *reject])
        assert refused == {
            "gone@pipelines.example": (550, b"5.1.1 <gone@pipelines.example>: mailbox unavailable")
        }
        assert server.messages()[0]["X-Envelope-To"] == "b@pipelines.example"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_without_starttls_it_offers_none_but_still_wants_auth(tmp_path):
    with FakeSmtpServer(tmp_path, username=USER, password=PASSWORD, starttls=False) as server:
        assert server.ca_pem is None
        with connect(server) as client:
            assert not client.has_extn("starttls")
            assert client.mail("a@pipelines.example")[0] == 530


def test_the_cli_serves_until_sigterm(tmp_path):
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    argv = [sys.executable, "-m", "fake_smtp", "--port", "0", "--dir", str(tmp_path / "state")]
    argv += ["--username", USER, "--password-file", str(password_file)]
    env = dict(os.environ, PYTHONPATH=str(TOOLS))
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        try:
            assert process.stdout is not None
            host, port = process.stdout.readline().strip().rsplit(":", 1)
            ca_pem = (tmp_path / "state" / "tls" / "ca.pem").read_text()
            with smtplib.SMTP(host, int(port), timeout=5) as client:
                client.starttls(context=ssl.create_default_context(cadata=ca_pem))
                client.login(USER, PASSWORD)
                client.send_message(note("from the CLI"))
        finally:
            process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    (stored,) = (tmp_path / "state" / "mail" / "new").iterdir()
    assert b"Subject: from the CLI" in stored.read_bytes()
