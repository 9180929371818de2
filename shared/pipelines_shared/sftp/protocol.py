"""paramiko's transport and SFTP client, extended with what fast atomic uploads need."""

from __future__ import annotations

import socket
from contextlib import suppress
from typing import TYPE_CHECKING

import paramiko
from paramiko.sftp import (
    CMD_CLOSE,
    CMD_EXTENDED,
    CMD_EXTENDED_REPLY,
    CMD_HANDLE,
    CMD_INIT,
    CMD_OPEN,
    CMD_STATUS,
    CMD_VERSION,
    CMD_WRITE,
    SFTP_FLAG_CREATE,
    SFTP_FLAG_EXCL,
    SFTP_FLAG_WRITE,
    SFTPError,
    int64,
)
from paramiko.sftp_attr import SFTPAttributes


class Transport(paramiko.Transport):
    """paramiko's transport, acknowledging the server's unsolicited messages at once.

    Right after authentication OpenSSH sends a ``hostkeys-00@openssh.com`` global request, then our
    channel confirmation. sshd leaves Nagle's algorithm on for sessions without a terminal, so the
    confirmation waits until we acknowledge the first message, and Linux delays that ACK by 40 ms:
    two thirds of the connection setup. ``TCP_QUICKACK`` sends the pending ACK now.
    """

    def _parse_global_request(self, m: paramiko.Message) -> None:
        quickack = getattr(socket, "TCP_QUICKACK", None)  # Linux only
        if quickack is not None and isinstance(self.sock, socket.socket):  # not over a proxy channel
            with suppress(OSError):
                self.sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)
        super()._parse_global_request(m)  # type: ignore[misc]  # paramiko private, not in types-paramiko


# ------------------------------------------------------------------------------------------ SFTP client

_DEFAULT_WRITE_LENGTH = 32768  # what every SFTP server must accept (and paramiko's request size)
_MAX_WRITE_LENGTH = 256 * 1024


class SFTPClient(paramiko.SFTPClient):
    """paramiko's client plus what uploads need and paramiko lacks: the extensions the server announces
    (paramiko reads and drops them), its write limit, and a write path with one wait for all replies.
    """

    extensions: dict[str, bytes]
    write_length: int | None = None
    """Largest write request the server accepts (``limits@openssh.com``); None if it does not say."""

    if TYPE_CHECKING:
        # The private paramiko methods this class builds on (paramiko/sftp.py, sftp_client.py), which
        # types-paramiko does not declare: their signatures as paramiko 5 defines them, for the checker.
        def _send_packet(self, t: int, packet: paramiko.Message) -> None: ...
        def _read_packet(self) -> tuple[int, bytes]: ...
        def _request(self, t: int, *args: object) -> tuple[int, paramiko.Message]: ...
        def _async_request(self, fileobj: object, t: int, *args: object) -> int: ...
        def _convert_status(self, msg: paramiko.Message) -> None: ...
        def _read_response(
            self, waitfor: int | None = None
        ) -> tuple[int | None, paramiko.Message | None]: ...

    def _send_version(self) -> int:
        request = paramiko.Message()
        request.add_int(3)
        self._send_packet(CMD_INIT, request)
        kind, data = self._read_packet()
        if kind != CMD_VERSION:
            raise SFTPError("Incompatible sftp protocol")
        reply = paramiko.Message(data)
        version = reply.get_int()
        self.extensions = {}
        while reply.packet.tell() < len(data):
            name = reply.get_text()
            self.extensions[name] = reply.get_binary()
        return version

    def load_limits(self) -> None:
        if "limits@openssh.com" not in self.extensions:
            return
        kind, reply = self._request(CMD_EXTENDED, "limits@openssh.com")
        if kind == CMD_EXTENDED_REPLY:
            _max_packet, _max_read, max_write = reply.get_int64(), reply.get_int64(), reply.get_int64()
            self.write_length = min(max_write, _MAX_WRITE_LENGTH) or None

    def write_new_file(self, path: str, data: bytes) -> None:
        """Create ``path`` (it must not exist), write ``data`` and close it.

        The writes and the close go out back to back and their replies are awaited together: requests
        on one file are processed in order (SFTP draft 3, "Request Synchronization and Reordering"), so
        this costs two round trips, open and the rest, however large the file.
        """
        flags = SFTP_FLAG_WRITE | SFTP_FLAG_CREATE | SFTP_FLAG_EXCL
        kind, reply = self._request(CMD_OPEN, path, flags, SFTPAttributes())
        if kind != CMD_HANDLE:
            raise SFTPError("Expected handle")
        handle = reply.get_binary()
        # Without a stated limit, the 32 KiB every server accepts, less the request header, so that a
        # request fits one SSH packet (a 32 KiB write plus header would cost a second, tiny packet).
        chunk = self.write_length or _DEFAULT_WRITE_LENGTH - 25 - len(handle)
        replies = Replies(self)
        view = memoryview(data)
        for offset in range(0, len(view), chunk):
            replies.expect(
                self._async_request(replies, CMD_WRITE, handle, int64(offset), view[offset : offset + chunk])
            )
        replies.expect(self._async_request(replies, CMD_CLOSE, handle))
        replies.wait()


class Replies:
    """Collects the status replies of pipelined requests; raises the first error once all arrived."""

    def __init__(self, client: SFTPClient) -> None:
        self._client = client
        self._pending: set[int] = set()
        self._error: BaseException | None = None

    def expect(self, request_id: int) -> None:
        self._pending.add(request_id)

    def _async_response(self, kind: int, message: paramiko.Message, request_id: int) -> None:
        # Called by paramiko's SFTPClient._read_response for requests registered with this object.
        self._pending.discard(request_id)
        try:
            if kind != CMD_STATUS:
                raise SFTPError(f"expected a status reply, got message type {kind}")
            self._client._convert_status(message)
        except (OSError, EOFError, SFTPError) as exc:
            self._error = self._error or exc

    def wait(self) -> None:
        while self._pending:
            self._client._read_response()
        if self._error is not None:
            raise self._error
