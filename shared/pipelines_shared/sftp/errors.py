"""What the SFTP client raises, classified for :mod:`pipelines_shared.retry`."""

from __future__ import annotations

from pipelines_shared.retry import PermanentError, TransientError


class SftpError(Exception):
    """Base class of the errors this module raises itself."""


class SftpUnavailable(SftpError, TransientError):
    """The server could not be reached or the connection broke (refused, timed out, reset, EOF)."""


class HostKeyError(SftpError, PermanentError):
    """The server's host key is unknown, revoked or does not match ``known_hosts``: fix the configuration."""


class SftpAuthError(SftpError, PermanentError):
    """The server refused our key, or the private key cannot be loaded."""


class SftpIncompatible(SftpError, PermanentError):
    """Client and server share no key exchange, cipher or MAC algorithm."""


class DeadlineExceeded(SftpError):
    """The session's deadline has passed, or the next operation could not finish before it.

    Deliberately not a ``TransientError``: retrying inside the same invocation cannot succeed.
    """
