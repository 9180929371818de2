"""SFTP uploads for Lambdas: one verified, key-authenticated connection reused for many atomic uploads.

::

    config = SftpConfig(host, port=22, username="alerts", private_key=key_pem, known_hosts=known_hosts)
    with SftpSession(config, deadline=time.monotonic() + remaining_seconds - 5) as sftp:
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
"""

from __future__ import annotations

import base64
import hashlib
import io
import posixpath
import re
import socket
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

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

from pipelines_shared.log import get_logger
from pipelines_shared.retry import PermanentError, TransientError

logger = get_logger(__name__)

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


# --------------------------------------------------------------------------------------------- errors


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


# --------------------------------------------------------------------------------------------- names

MAX_NAME_LENGTH = 200
"""Longest name :func:`safe_remote_name` returns; leaves room for the temporary ``.part`` name (255)."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_DOTS = re.compile(r"\.{2,}")
_SUFFIX = re.compile(r"(?:\.[A-Za-z0-9_-]+)*")
_HASH_HEX = 16  # 64 bits of SHA-256
_LOOKS_HASHED = re.compile(rf"-[0-9a-f]{{{_HASH_HEX}}}\Z")


def safe_remote_name(alert_id: str, suffix: str = ".json") -> str:
    """A deterministic file name for ``alert_id`` that is safe on any SFTP server, plus ``suffix``.

    Keeps ``[A-Za-z0-9._-]`` and replaces anything else with ``_``; never starts with ``.`` or ``-``,
    never contains ``..`` and is at most :data:`MAX_NAME_LENGTH` characters. An id that is already
    safe keeps its exact spelling. When anything had to change, ``-<16 hex of SHA-256(id)>`` is
    appended, so two different ids never share a name: an id that itself ends like such a hash is
    hashed too, which keeps hashed and unhashed names apart.
    """
    if not isinstance(alert_id, str) or not alert_id:
        raise ValueError("alert_id must be a non-empty string")
    if len(suffix) > 32 or not _SUFFIX.fullmatch(suffix):
        raise ValueError(f"suffix must look like '.json' or '.json.gz', got {suffix!r}")
    stem = _UNSAFE.sub("_", alert_id)
    stem = _DOTS.sub(lambda match: "_" * len(match.group()), stem)
    if stem[0] in ".-":
        stem = "_" + stem[1:]
    if stem.endswith(".") and suffix.startswith("."):
        stem = stem[:-1] + "_"  # "a." + ".json" would spell ".."
    if stem == alert_id and len(stem) + len(suffix) <= MAX_NAME_LENGTH and not _LOOKS_HASHED.search(stem):
        return stem + suffix
    # surrogatepass: an id decoded from JSON may hold a lone surrogate; it still needs a stable hash.
    digest = hashlib.sha256(alert_id.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_HEX]
    tail = f"-{digest}{suffix}"
    return stem[: MAX_NAME_LENGTH - len(tail)] + tail


def _check_file_name(name: str) -> None:
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise ValueError(f"not a plain file name: {name!r} (see safe_remote_name)")


# --------------------------------------------------------------------------------------------- config


@dataclass(frozen=True)
class SftpConfig:
    """Where and how to connect. ``private_key`` and ``known_hosts`` are the texts, not paths."""

    host: str
    port: int = 22
    username: str = ""
    private_key: str = field(default="", repr=False)
    """OpenSSH or PEM private key (Ed25519, ECDSA or RSA), unencrypted."""
    known_hosts: str = field(default="", repr=False)
    """OpenSSH known_hosts lines; a non-standard port is written ``[host]:port``."""
    connect_timeout: float = 5
    banner_timeout: float = 5
    auth_timeout: float = 5
    operation_timeout: float = 15
    """Longest wait for any single answer of the server (key exchange, channel, SFTP request)."""

    def __post_init__(self) -> None:
        problems = []
        if not self.host:
            problems.append("host is empty")
        if not 0 < self.port < 65536:
            problems.append(f"port {self.port} out of range")
        if not self.username:
            problems.append("username is empty")
        if not self.private_key.strip():
            problems.append("private_key is empty")
        for name in ("connect_timeout", "banner_timeout", "auth_timeout", "operation_timeout"):
            if not getattr(self, name) > 0:
                problems.append(f"{name} must be > 0")
        if problems:
            raise ValueError("invalid SftpConfig: " + "; ".join(problems))


# ------------------------------------------------------------------------------------------ host keys


def _fingerprint(blob: bytes) -> str:
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _glob(pattern: str, name: str) -> bool:
    # known_hosts patterns know only * and ?; fnmatch would also read [..] (as in "[host]:port").
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, name) is not None


def _host_matches(patterns: str, names: list[str]) -> bool:
    """OpenSSH semantics: any negated pattern that matches rules the line out; else any match."""
    matched = False
    for raw in patterns.split(","):
        negated = raw.startswith("!")
        pattern = raw[1:] if negated else raw
        if pattern.startswith("|1|"):
            hit = any(_hashed_matches(pattern, name) for name in names)
        else:
            hit = any(_glob(pattern.lower(), name) for name in names)
        if hit and negated:
            return False
        matched = matched or hit
    return matched


def _hashed_matches(pattern: str, name: str) -> bool:
    try:
        return paramiko.HostKeys.hash_host(name, pattern) == pattern
    except (ValueError, IndexError, TypeError):
        return False


@dataclass(frozen=True)
class _KnownKeys:
    accepted: dict[bytes, str]  # key blob -> key type
    revoked: frozenset[bytes]


def _known_keys(known_hosts: str, host: str, port: int) -> tuple[_KnownKeys, list[str]]:
    """The keys ``known_hosts`` accepts and revokes for host:port, and the names that were looked up."""
    host = host.lower()  # as OpenSSH's client looks it up
    names = [f"[{host}]:{port}"] if port != 22 else [host, f"[{host}]:22"]
    accepted: dict[bytes, str] = {}
    revoked: set[bytes] = set()
    for line in known_hosts.splitlines():
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        marker = fields.pop(0) if fields[0].startswith("@") else None
        if len(fields) < 3 or marker not in (None, "@revoked"):
            continue  # malformed, or @cert-authority (certificates are not supported)
        patterns, key_type, key_b64 = fields[:3]
        if not _host_matches(patterns, names):
            continue
        try:
            blob = base64.b64decode(key_b64, validate=True)
        except ValueError:
            continue
        if marker == "@revoked":
            revoked.add(blob)
        else:
            accepted[blob] = key_type
    return _KnownKeys(accepted, frozenset(revoked)), names


def _host_key_algorithms(key_types: set[str], supported: tuple[str, ...]) -> list[str]:
    """Host key algorithms to offer, in paramiko's order, limited to key types we can verify."""
    wanted = []
    for algorithm in supported:
        key_type = "ssh-rsa" if algorithm in ("rsa-sha2-512", "rsa-sha2-256") else algorithm
        if key_type in key_types:
            wanted.append(algorithm)
    return wanted


# -------------------------------------------------------------------------------------------- client keys

_KEY_CLASSES: tuple[type[paramiko.PKey], ...] = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)


def _load_private_key(text: str) -> paramiko.PKey:
    """The private key in ``text``: Ed25519, ECDSA or RSA, OpenSSH or PEM format, without passphrase."""
    for key_class in _KEY_CLASSES:
        try:
            return key_class.from_private_key(io.StringIO(text))
        except paramiko.PasswordRequiredException as exc:
            raise SftpAuthError("the private key is encrypted; store it without a passphrase") from exc
        except (paramiko.SSHException, ValueError, TypeError, IndexError):
            continue
    raise SftpAuthError("the private key is not an Ed25519, ECDSA or RSA key in OpenSSH or PEM format")


# ---------------------------------------------------------------------------------------- transport


class _Transport(paramiko.Transport):
    """paramiko's transport, acknowledging the server's unsolicited messages at once.

    Right after authentication OpenSSH sends a ``hostkeys-00@openssh.com`` global request, then our
    channel confirmation. sshd leaves Nagle's algorithm on for sessions without a terminal, so the
    confirmation waits until we acknowledge the first message, and Linux delays that ACK by 40 ms:
    two thirds of the connection setup. ``TCP_QUICKACK`` sends the pending ACK now.
    """

    def _parse_global_request(self, m: paramiko.Message) -> None:
        quickack = getattr(socket, "TCP_QUICKACK", None)  # Linux only
        if quickack is not None:
            with suppress(OSError):
                self.sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)
        super()._parse_global_request(m)


# ------------------------------------------------------------------------------------------ SFTP client

_DEFAULT_WRITE_LENGTH = 32768  # what every SFTP server must accept (and paramiko's request size)
_MAX_WRITE_LENGTH = 256 * 1024


class _SFTPClient(paramiko.SFTPClient):
    """paramiko's client plus what uploads need and paramiko lacks: the extensions the server announces
    (paramiko reads and drops them), its write limit, and a write path with one wait for all replies.
    """

    extensions: dict[str, bytes]
    write_length: int | None = None
    """Largest write request the server accepts (``limits@openssh.com``); None if it does not say."""

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
        replies = _Replies(self)
        view = memoryview(data)
        for offset in range(0, len(view), chunk):
            replies.expect(
                self._async_request(replies, CMD_WRITE, handle, int64(offset), view[offset : offset + chunk])
            )
        replies.expect(self._async_request(replies, CMD_CLOSE, handle))
        replies.wait()


class _Replies:
    """Collects the status replies of pipelined requests; raises the first error once all arrived."""

    def __init__(self, client: _SFTPClient) -> None:
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


# ------------------------------------------------------------------------------------------ session

_EMA_WEIGHT = 0.3
# AES-GCM first: it needs no separate MAC pass, which halves the CPU both ends spend per byte
# (paramiko's own order starts with aes128-ctr + hmac-sha2-256). The rest keep paramiko's order.
_PREFERRED_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")


class SftpSession:
    """One SSH connection with one SFTP channel, reused for many operations.

    ``deadline`` is a ``time.monotonic()`` value: operations refuse to start when the time left is
    below what the same operation took so far, and one still running at the deadline is cut off by
    closing the connection. Either way :class:`DeadlineExceeded` is raised. A connection that broke
    is reopened by the next operation.
    """

    def __init__(self, config: SftpConfig, *, deadline: float | None = None) -> None:
        self.config = config
        self._deadline = deadline
        self._key: paramiko.PKey | None = None
        self._sock: socket.socket | None = None
        self._transport: paramiko.Transport | None = None
        self._sftp: _SFTPClient | None = None
        self._opened = False
        self._deadline_hit = False
        self._watchdog: threading.Timer | None = None
        self._connect_seconds = 0.0
        self._upload_seconds = 0.0  # moving averages, for the deadline check
        self._upload_bytes = 0.0

    # -- lifecycle

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def open(self) -> None:
        """Connect, verify the host key, authenticate and open the SFTP channel."""
        self._opened = True
        self._arm_watchdog()
        if not self._alive():
            self._disconnect()
            self._connect()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._opened = False
        self._disarm_watchdog()
        self._disconnect()

    @property
    def deadline(self) -> float | None:
        """The ``time.monotonic()`` value by which every operation must have finished, or None."""
        return self._deadline

    @deadline.setter
    def deadline(self, value: float | None) -> None:
        self._deadline = value
        self._deadline_hit = False
        self._disarm_watchdog()
        if self._opened:
            self._arm_watchdog()

    @property
    def server_extensions(self) -> dict[str, bytes]:
        """SFTP extensions the server announced (empty when not connected)."""
        return dict(self._sftp.extensions) if self._sftp is not None else {}

    # -- operations

    def upload_atomic(self, remote_dir: str, name: str, data: bytes) -> str:
        """Write ``data`` to ``remote_dir/name`` so that readers see the old file or all of the new one.

        The bytes go to a temporary ``.<name>.<random>.part`` beside the target, which is then renamed
        over it (POSIX rename; remove-then-rename on servers without that extension). Returns the path.
        """
        _check_file_name(name)
        target = posixpath.join(remote_dir, name)
        temp = posixpath.join(remote_dir, f".{name[:200]}.{uuid.uuid4().hex}.part")
        with self._operation("upload", self._expected_upload_seconds(len(data))) as sftp:
            started = time.monotonic()
            try:
                sftp.write_new_file(temp, data)
                self._rename_over(sftp, temp, target)
            except BaseException as exc:
                self._discard(sftp, temp, exc)
                raise
            self._remember_upload(time.monotonic() - started, len(data))
        return target

    def ensure_directory(self, path: str) -> None:
        """Create the directory ``path`` unless it exists; its parent must exist. Safe when workers race."""
        with self._operation("mkdir") as sftp:
            try:
                sftp.mkdir(path)
            except OSError as exc:
                # SFTP 3 reports "already exists" as a bare failure: look at what is there now.
                try:
                    attributes = sftp.stat(path)
                except FileNotFoundError:
                    raise exc from None
                if not stat.S_ISDIR(attributes.st_mode or 0):
                    raise NotADirectoryError(f"{path} exists and is not a directory") from exc

    def exists(self, path: str) -> bool:
        """True if ``path`` exists on the server."""
        with self._operation("stat") as sftp:
            try:
                sftp.stat(path)
            except FileNotFoundError:
                return False
            return True

    def read(self, path: str) -> bytes:
        """The whole content of ``path`` (for verification; uploads never need it)."""
        return b"".join(self._chunks(path))

    def sha256(self, path: str) -> str:
        """Hex SHA-256 of ``path`` as the server returns it, read back in chunks."""
        digest = hashlib.sha256()
        for chunk in self._chunks(path):
            digest.update(chunk)
        return digest.hexdigest()

    # -- internals: connection

    def _connect(self) -> None:
        config = self.config
        self._check_deadline("connect", self._connect_seconds)
        started = time.monotonic()
        known, names = _known_keys(config.known_hosts, config.host, config.port)
        if not known.accepted:
            raise HostKeyError(
                f"unknown host: known_hosts has no key for {' or '.join(names)}; refusing to connect"
            )
        if self._key is None:
            self._key = _load_private_key(config.private_key)

        try:
            sock = socket.create_connection(
                (config.host, config.port), timeout=self._bounded(config.connect_timeout)
            )
        except OSError as exc:
            raise SftpUnavailable(f"cannot connect to {config.host}:{config.port}: {exc}") from exc
        self._sock = sock
        guard: threading.Timer | None = None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            transport = self._transport = _Transport(sock)
            transport.banner_timeout = self._bounded(config.banner_timeout)
            transport.handshake_timeout = self._bounded(config.operation_timeout)
            transport.auth_timeout = self._bounded(config.auth_timeout)
            self._choose_algorithms(transport, known)
            # paramiko has no timeout of its own for the subsystem request: bound the whole setup.
            budget = config.banner_timeout + 3 * config.operation_timeout + config.auth_timeout
            guard = threading.Timer(self._bounded(budget), transport.close)
            guard.daemon = True
            guard.start()
            self._handshake(transport, known)
            self._authenticate(transport)
            channel = transport.open_session(timeout=self._bounded(config.operation_timeout))
            channel.settimeout(config.operation_timeout)
            channel.invoke_subsystem("sftp")
            self._sftp = _SFTPClient(channel)
            self._sftp.load_limits()
        except SftpError:
            self._disconnect()
            raise
        except (OSError, EOFError, paramiko.SSHException) as exc:
            self._disconnect()
            if self._deadline_hit:
                raise DeadlineExceeded(f"deadline reached while connecting: {exc}") from exc
            raise SftpUnavailable(f"connection to {config.host}:{config.port} failed: {exc!r}") from exc
        finally:
            if guard is not None:
                guard.cancel()
        self._connect_seconds = time.monotonic() - started
        logger.info(
            "sftp connected",
            host=config.host,
            port=config.port,
            seconds=round(self._connect_seconds, 3),
            cipher=transport.local_cipher,
            write_length=self._sftp.write_length,
        )

    @staticmethod
    def _choose_algorithms(transport: paramiko.Transport, known: _KnownKeys) -> None:
        options = transport.get_security_options()
        key_types = set(known.accepted.values())
        algorithms = _host_key_algorithms(key_types, tuple(options.key_types))
        if not algorithms:
            raise HostKeyError(
                f"known_hosts lists only key types this client cannot verify: {', '.join(sorted(key_types))}"
            )
        options.key_types = algorithms  # ask for a key we can check, as OpenSSH's client does
        options.ciphers = [c for c in _PREFERRED_CIPHERS if c in options.ciphers] + [
            c for c in options.ciphers if c not in _PREFERRED_CIPHERS
        ]

    def _handshake(self, transport: paramiko.Transport, known: _KnownKeys) -> None:
        config = self.config
        try:
            transport.start_client(timeout=self._bounded(config.banner_timeout + config.operation_timeout))
            server_key = transport.get_remote_server_key()  # raises if the key exchange did not finish
        except paramiko.IncompatiblePeer as exc:
            if "host key" in str(exc):
                raise HostKeyError(
                    f"{config.host}:{config.port} offers none of the host key types known_hosts lists "
                    f"({', '.join(sorted(set(known.accepted.values())))})"
                ) from exc
            raise SftpIncompatible(f"{config.host}:{config.port}: {exc}") from exc
        blob = server_key.asbytes()
        if blob in known.revoked:
            raise HostKeyError(f"host key {_fingerprint(blob)} of {config.host}:{config.port} is revoked")
        if blob not in known.accepted:
            raise HostKeyError(
                f"host key mismatch for {config.host}:{config.port}: the server presented "
                f"{server_key.get_name()} {_fingerprint(blob)}, known_hosts lists "
                + ", ".join(f"{kind} {_fingerprint(b)}" for b, kind in known.accepted.items())
            )

    def _authenticate(self, transport: paramiko.Transport) -> None:
        config = self.config
        assert self._key is not None  # nosec B101  # narrows the type for mypy; validates no input
        try:
            remaining = transport.auth_publickey(config.username, self._key)
        except paramiko.BadAuthenticationType as exc:
            raise SftpAuthError(
                f"{config.host}:{config.port} does not accept public keys (allows {exc.allowed_types})"
            ) from exc
        except paramiko.AuthenticationException as exc:
            message = str(exc)
            if "timeout" in message or "transport shut down" in message:
                raise SftpUnavailable(f"authentication interrupted: {message}") from exc
            raise SftpAuthError(
                f"{config.host}:{config.port} refused key {self._key.fingerprint} for {config.username!r}"
            ) from exc
        if remaining:
            raise SftpAuthError(f"the server requires more authentication methods: {remaining}")

    def _disconnect(self) -> None:
        sftp, transport, sock = self._sftp, self._transport, self._sock
        self._sftp = self._transport = self._sock = None
        if sftp is not None:
            with suppress(Exception):
                sftp.close()
        if transport is not None:
            with suppress(Exception):
                transport.close()
        if sock is not None:
            with suppress(OSError):
                sock.close()

    def _alive(self) -> bool:
        return (
            self._sftp is not None
            and self._transport is not None
            and self._transport.is_active()
            and not self._sftp.get_channel().closed
        )

    # -- internals: deadline

    def _arm_watchdog(self) -> None:
        if self._deadline is None or self._watchdog is not None:
            return
        self._watchdog = threading.Timer(max(0.0, self._deadline - time.monotonic()), self._on_deadline)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _disarm_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def _on_deadline(self) -> None:
        self._deadline_hit = True
        transport = self._transport
        if transport is not None:
            transport.close()  # wakes up a blocked operation, which then raises DeadlineExceeded

    def _check_deadline(self, operation: str, expected: float = 0.0) -> None:
        if self._deadline is None:
            return
        left = self._deadline - time.monotonic()
        if self._deadline_hit or left <= expected:
            raise DeadlineExceeded(
                f"{operation} not started: {max(left, 0):.3f} s left before the deadline, "
                f"it takes about {expected:.3f} s"
            )

    def _bounded(self, seconds: float) -> float:
        if self._deadline is None:
            return seconds
        return max(0.001, min(seconds, self._deadline - time.monotonic()))

    def _expected_upload_seconds(self, size: int) -> float:
        if not self._upload_bytes:
            return 0.0
        return self._upload_seconds * max(1.0, size / self._upload_bytes)

    def _remember_upload(self, seconds: float, size: int) -> None:
        if not self._upload_bytes:
            self._upload_seconds, self._upload_bytes = seconds, float(max(size, 1))
            return
        self._upload_seconds += _EMA_WEIGHT * (seconds - self._upload_seconds)
        self._upload_bytes += _EMA_WEIGHT * (max(size, 1) - self._upload_bytes)

    # -- internals: operations

    @contextmanager
    def _operation(self, name: str, expected: float = 0.0) -> Iterator[_SFTPClient]:
        """Check the deadline, (re)connect if needed, and classify what goes wrong."""
        if not self._opened:
            raise SftpError("the session is not open: use `with SftpSession(...)` or call open()")
        self._check_deadline(name, expected)
        if not self._alive():
            self._disconnect()
            self._connect()
        assert self._sftp is not None  # nosec B101  # narrows the type for mypy; validates no input
        try:
            yield self._sftp
        except (OSError, EOFError, paramiko.SSHException, SFTPError) as exc:
            if self._deadline_hit:
                self._disconnect()
                raise DeadlineExceeded(f"{name} cut off at the deadline") from exc
            if isinstance(exc, (TimeoutError, SFTPError)) or not self._alive():
                # After a timeout or a garbled reply, late answers would confuse the next request.
                self._disconnect()
                logger.warning("sftp connection lost", operation=name, error=repr(exc))
                raise SftpUnavailable(f"{name} failed, connection lost: {exc!r}") from exc
            raise  # the server answered with an error (no such file, permission denied, ...)

    def _rename_over(self, sftp: _SFTPClient, temp: str, target: str) -> None:
        if "posix-rename@openssh.com" in sftp.extensions:
            sftp.posix_rename(temp, target)
            return
        # Plain SFTP rename refuses an existing target; readers briefly see no file, never half of one.
        with suppress(FileNotFoundError):
            sftp.remove(target)
        sftp.rename(temp, target)

    def _discard(self, sftp: _SFTPClient, temp: str, cause: BaseException) -> None:
        if self._deadline_hit or isinstance(cause, (TimeoutError, SFTPError)) or not self._alive():
            return  # the connection is going away: nothing more can be asked of the server
        with suppress(OSError, EOFError, paramiko.SSHException):
            sftp.remove(temp)

    def _chunks(self, path: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        with self._operation("read") as sftp, sftp.open(path, "rb") as remote:
            remote.prefetch(remote.stat().st_size)
            while chunk := remote.read(chunk_size):
                yield chunk
