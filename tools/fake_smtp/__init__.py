"""A real local SMTP server for tests and the local stack: STARTTLS required, then AUTH, messages kept.

In tests: ``with FakeSmtpServer(tmp_path, username="u", password="p") as smtp: ...`` then
``smtp.host``, ``smtp.port``, ``smtp.ca_pem`` (trust this CA only; made by fake_http.tls) and
``smtp.messages()``.
From a shell: ``cd tools && python -m fake_smtp --port 2525 --dir DIR --username U --password-file F``.
"""

from fake_smtp.server import FakeSmtpServer

__all__ = ["FakeSmtpServer"]
