"""SFTP uploads for Lambdas: one verified, key-authenticated connection reused for many atomic uploads.

::

    config = SftpConfig(host, port=22, username="alerts", private_key=key_pem, known_hosts=known_hosts)
    deadline = Deadline.from_context(context, margin_seconds=5)  # pipelines_shared.deadline
    with SftpSession(config, deadline=deadline.at) as sftp:
        for alert in alerts:
            sftp.upload_atomic("/inbound", safe_remote_name(alert.id), alert.body)

Why it looks the way it does:

- The server's host key must be listed in ``known_hosts`` (text, e.g. from Secrets Manager); an unknown
  host or a changed key is refused, never learnt.
- ``TCP_NODELAY`` is set on the socket (paramiko never sets it): with Nagle's algorithm and delayed ACKs
  every small SFTP request waits for the peer's ACK timer, which costs more than the transfer itself.
  AES-GCM is preferred (no separate MAC pass: half the CPU per byte on both ends).
- Writes are pipelined in requests as large as the server allows (``limits@openssh.com``), and each
  file is written under a temporary dot-name and renamed into place (``posix-rename@openssh.com``), so a
  reader never sees a partial file.
- Errors are classified for :mod:`pipelines_shared.retry`: :class:`SftpUnavailable` is a
  ``TransientError``; :class:`HostKeyError`, :class:`SftpAuthError` and :class:`SftpIncompatible` are
  ``PermanentError``; :class:`DeadlineExceeded` is neither (there is no time left to retry in this
  invocation: the message goes back to its queue). A file error reported by the server stays the
  ``OSError`` paramiko raises (``FileNotFoundError``, ``PermissionError``, ...).

A session is not thread-safe: use one per thread.

Modules: :mod:`.config` (``SftpConfig``), :mod:`.known_hosts` (host key verification), :mod:`.names`
(``safe_remote_name``), :mod:`.session` (``SftpSession``), :mod:`.errors`, :mod:`.protocol` (paramiko's
transport and SFTP client, extended).
"""

from typing import TYPE_CHECKING, Any

from pipelines_shared.sftp.config import SftpConfig
from pipelines_shared.sftp.errors import (
    DeadlineExceeded,
    HostKeyError,
    SftpAuthError,
    SftpError,
    SftpIncompatible,
    SftpUnavailable,
)
from pipelines_shared.sftp.names import MAX_NAME_LENGTH, safe_remote_name

if TYPE_CHECKING:
    from pipelines_shared.sftp.session import SftpSession


def __getattr__(name: str) -> Any:
    # SftpSession brings paramiko and cryptography (~120 ms of a cold start): loaded when first asked
    # for, so code that only names remote files (safe_remote_name) does not pay for it.
    if name == "SftpSession":
        from pipelines_shared.sftp.session import SftpSession

        return SftpSession
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MAX_NAME_LENGTH",
    "DeadlineExceeded",
    "HostKeyError",
    "SftpAuthError",
    "SftpConfig",
    "SftpError",
    "SftpIncompatible",
    "SftpSession",
    "SftpUnavailable",
    "safe_remote_name",
]
