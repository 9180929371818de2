"""A real SMTP server on aiosmtpd that insists on what a good relay insists on: STARTTLS, then AUTH.

Before STARTTLS only EHLO/HELO, NOOP, RSET, QUIT and STARTTLS are accepted (530 otherwise) and AUTH is
not offered; MAIL before a successful AUTH LOGIN or AUTH PLAIN is refused (530). Every accepted
message is stored as one file in a maildir (``<dir>/mail/new/``) with the trace headers a real relay
adds: ``Return-Path`` (the envelope sender), ``X-Envelope-To`` (the envelope recipients) and
``Received`` naming the protocol as RFC 3848 does (``ESMTPSA``: STARTTLS and AUTH were both used).

``starttls=False`` makes a server that does not offer STARTTLS at all (AUTH in clear text), for
testing that clients refuse to talk to one; ``reject_recipients`` are refused at RCPT with a 550.
"""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
import email.utils
import hmac
import itertools
import os
import ssl
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from fake_http.tls import Certificates, make_certificates

HOST = "127.0.0.1"
# The name in the banner and in Received; given, because aiosmtpd's default (socket.getfqdn()) can
# wait seconds on a machine whose DNS does not answer for itself.
SERVER_NAME = "fake-smtp.localhost"


class _Controller(Controller):
    def _trigger_server(self) -> None:
        # Port 0 asks the OS for a free port: the controller's check connection must go to the port it got.
        server = cast(asyncio.Server, self.server)
        self.port = server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]  # aiosmtpd's own method, untyped


class FakeSmtpServer:
    """``with FakeSmtpServer(tmp_path, username="u", password="p") as smtp: ... smtp.messages()``."""

    def __init__(
        self,
        directory: Path | str,
        *,
        username: str,
        password: str,
        host: str = HOST,
        port: int = 0,
        starttls: bool = True,
        cert_dir: Path | str | None = None,
        reject_recipients: Iterable[str] = (),
    ) -> None:
        self.directory = Path(directory)
        self.mail_dir = self.directory / "mail"
        for sub in ("tmp", "new", "cur"):
            (self.mail_dir / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        self.certificate: Certificates | None = None
        tls_context: ssl.SSLContext | None = None
        if starttls:
            self.certificate = make_certificates(cert_dir or self.directory / "tls")
            tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls_context.load_cert_chain(self.certificate.cert_file, self.certificate.key_file)
        self.reject_recipients = frozenset(address.lower() for address in reject_recipients)
        self._username = username.encode()
        self._password = password.encode()
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._controller = _Controller(
            _Handler(self),
            hostname=host,
            port=port,
            server_hostname=SERVER_NAME,
            tls_context=tls_context,
            require_starttls=starttls,
            auth_require_tls=starttls,
            auth_required=True,
            authenticator=self._authenticate,
        )
        self._running = False

    # --------------------------------------------------------------------------------- lifecycle

    def start(self) -> FakeSmtpServer:
        if not self._running:
            self._controller.start()
            self._running = True
        return self

    def close(self) -> None:
        if self._running:
            self._controller.stop()
            self._running = False

    def __enter__(self) -> FakeSmtpServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ---------------------------------------------------------------------------------- clients

    @property
    def host(self) -> str:
        return str(self._controller.hostname)

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def ca_file(self) -> Path | None:
        return self.certificate.ca_file if self.certificate else None

    @property
    def ca_pem(self) -> str | None:
        """The PEM of the CA that signed the server's certificate (None without STARTTLS)."""
        return self.certificate.ca_pem if self.certificate else None

    def message_files(self) -> list[Path]:
        """The stored messages' files, oldest first."""
        return sorted(path for sub in ("new", "cur") for path in (self.mail_dir / sub).iterdir())

    def messages(self) -> list[email.message.Message]:
        """Every message accepted so far (also by earlier runs on the same directory), oldest first."""
        return [
            email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in self.message_files()
        ]

    def clear(self) -> None:
        """Delete the stored messages."""
        for path in self.message_files():
            path.unlink(missing_ok=True)

    # ----------------------------------------------------------------------------------- server

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if mechanism not in ("LOGIN", "PLAIN") or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        # Both compared, always: the time taken must not tell which of the two was wrong.
        good_login = hmac.compare_digest(auth_data.login, self._username)
        good_password = hmac.compare_digest(auth_data.password, self._password)
        if good_login and good_password:
            # The login only: the session need not carry the password around.
            return AuthResult(success=True, handled=False, auth_data=auth_data.login)
        return AuthResult(success=False, handled=False)

    def _store(self, data: bytes) -> str:
        with self._lock:
            number = next(self._counter)
        # Maildir's rule: written under tmp/, then renamed into new/, so a reader never sees half a message.
        # The name sorts in delivery order (fixed-width nanoseconds, then a counter).
        name = f"{time.time_ns():020d}.{os.getpid()}_{number:06d}.{SERVER_NAME}"
        temporary = self.mail_dir / "tmp" / name
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(temporary, self.mail_dir / "new" / name)
        return name


class _Handler:
    def __init__(self, server: FakeSmtpServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() in self.server.reject_recipients:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        tls = session.ssl.get("ssl_object") if session.ssl else None
        protocol = "ESMTP" + ("S" if tls else "") + ("A" if session.authenticated else "")
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        tls_note = f" ({tls.version()} {tls.cipher()[0]})" if tls else ""
        login = session.auth_data.decode(errors="replace") if isinstance(session.auth_data, bytes) else None
        auth_note = f" (authenticated as {login})" if login else ""
        trace = (
            f"Return-Path: <{envelope.mail_from}>\r\n"
            f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
            f"Received: from {session.host_name} ([{peer}]){auth_note}\r\n"
            f"\tby {SERVER_NAME} (fake_smtp) with {protocol}{tls_note};\r\n"
            f"\t{email.utils.formatdate(usegmt=True)}\r\n"
        ).encode()
        # Stored with LF line ends, as maildir files are.
        name = self.server._store((trace + raw).replace(b"\r\n", b"\n"))
        return f"250 2.0.0 OK queued as {name}"
