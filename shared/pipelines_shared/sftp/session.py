"""One SSH connection with one SFTP channel, reused for many atomic uploads under a deadline."""

from __future__ import annotations

import hashlib
import io
import posixpath
import socket
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import TracebackType
from typing import Self

import paramiko
from paramiko.sftp import SFTPError
from paramiko.ssh_exception import IncompatiblePeer

from pipelines_shared.log import get_logger
from pipelines_shared.sftp.config import SftpConfig
from pipelines_shared.sftp.errors import (
    DeadlineExceeded,
    HostKeyError,
    SftpAuthError,
    SftpError,
    SftpIncompatible,
    SftpUnavailable,
)
from pipelines_shared.sftp.known_hosts import KnownKeys, fingerprint, host_key_algorithms, known_keys
from pipelines_shared.sftp.names import check_file_name
from pipelines_shared.sftp.protocol import SFTPClient, Transport

logger = get_logger(__name__)

# ------------------------------------------------------------------------------------------ client keys

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
        self._sftp: SFTPClient | None = None
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
        check_file_name(name)
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
        known, names = known_keys(config.known_hosts, config.host, config.port)
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
            transport = self._transport = Transport(sock)
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
            self._sftp = SFTPClient(channel)
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
    def _choose_algorithms(transport: paramiko.Transport, known: KnownKeys) -> None:
        options = transport.get_security_options()
        key_types = set(known.accepted.values())
        algorithms = host_key_algorithms(key_types, tuple(options.key_types))
        if not algorithms:
            raise HostKeyError(
                f"known_hosts lists only key types this client cannot verify: {', '.join(sorted(key_types))}"
            )
        options.key_types = algorithms  # ask for a key we can check, as OpenSSH's client does
        options.ciphers = [c for c in _PREFERRED_CIPHERS if c in options.ciphers] + [
            c for c in options.ciphers if c not in _PREFERRED_CIPHERS
        ]

    def _handshake(self, transport: paramiko.Transport, known: KnownKeys) -> None:
        config = self.config
        try:
            transport.start_client(timeout=self._bounded(config.banner_timeout + config.operation_timeout))
            server_key = transport.get_remote_server_key()  # raises if the key exchange did not finish
        except IncompatiblePeer as exc:
            if "host key" in str(exc):
                raise HostKeyError(
                    f"{config.host}:{config.port} offers none of the host key types known_hosts lists "
                    f"({', '.join(sorted(set(known.accepted.values())))})"
                ) from exc
            raise SftpIncompatible(f"{config.host}:{config.port}: {exc}") from exc
        blob = server_key.asbytes()
        if blob in known.revoked:
            raise HostKeyError(f"host key {fingerprint(blob)} of {config.host}:{config.port} is revoked")
        if blob not in known.accepted:
            raise HostKeyError(
                f"host key mismatch for {config.host}:{config.port}: the server presented "
                f"{server_key.get_name()} {fingerprint(blob)}, known_hosts lists "
                + ", ".join(f"{kind} {fingerprint(b)}" for b, kind in known.accepted.items())
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
        if self._sftp is None or self._transport is None or not self._transport.is_active():
            return False
        channel = self._sftp.get_channel()
        return channel is not None and not channel.closed

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
    def _operation(self, name: str, expected: float = 0.0) -> Iterator[SFTPClient]:
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

    def _rename_over(self, sftp: SFTPClient, temp: str, target: str) -> None:
        if "posix-rename@openssh.com" in sftp.extensions:
            sftp.posix_rename(temp, target)
            return
        # Plain SFTP rename refuses an existing target; readers briefly see no file, never half of one.
        with suppress(FileNotFoundError):
            sftp.remove(target)
        sftp.rename(temp, target)

    def _discard(self, sftp: SFTPClient, temp: str, cause: BaseException) -> None:
        if self._deadline_hit or isinstance(cause, (TimeoutError, SFTPError)) or not self._alive():
            return  # the connection is going away: nothing more can be asked of the server
        with suppress(OSError, EOFError, paramiko.SSHException):
            sftp.remove(temp)

    def _chunks(self, path: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        with self._operation("read") as sftp, sftp.open(path, "rb") as remote:
            remote.prefetch(remote.stat().st_size)
            while chunk := remote.read(chunk_size):
                yield chunk
