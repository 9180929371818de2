"""SftpSession against the local stack's real OpenSSH sshd (internal-sftp on 127.0.0.1).

Also two stand-ins for broken servers: a closed port, and a socket that accepts and never speaks.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from pipelines_shared.retry import PermanentError, is_transient
from pipelines_shared.sftp import (
    DeadlineExceeded,
    HostKeyError,
    SftpAuthError,
    SftpConfig,
    SftpSession,
    SftpUnavailable,
)

pytestmark = pytest.mark.integration


@dataclasses.dataclass(frozen=True)
class RemoteDir:
    path: str  # as the SFTP client sees it
    local: Path  # the same directory on this machine


@pytest.fixture
def config() -> SftpConfig:
    return SftpConfig(
        host=os.environ["SFTP_HOST"],
        port=int(os.environ["SFTP_PORT"]),
        username=os.environ["SFTP_USER"],
        private_key=Path(os.environ["SFTP_KEY_FILE"]).read_text(),
        known_hosts=Path(os.environ["SFTP_KNOWN_HOSTS_FILE"]).read_text(),
    )


@pytest.fixture
def remote() -> Iterator[RemoteDir]:
    """A fresh directory on the server for one test."""
    name = f"test-sftp-{uuid.uuid4().hex[:12]}"
    local = Path(os.environ["SFTP_LOCAL_DIR"]) / name
    local.mkdir()
    yield RemoteDir(f"{os.environ['SFTP_REMOTE_DIR']}/{name}", local)
    shutil.rmtree(local, ignore_errors=True)


def server_key(config: SftpConfig) -> str:
    """'<type> <base64>' of the server's real host key, from the stack's known_hosts."""
    return " ".join(config.known_hosts.split()[1:3])


def keygen(directory: Path, name: str, *options: str) -> tuple[str, str]:
    """A new key pair made by ssh-keygen: (private key text, '<type> <base64>' public key)."""
    path = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-N", "", "-C", name, "-f", str(path), *options], check=True, timeout=60
    )
    return path.read_text(), " ".join(path.with_suffix(".pub").read_text().split()[:2])


def files_in(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serving_processes(client_port: int) -> list[int]:
    """PIDs of the sshd processes holding the server end of our connection from ``client_port``."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[2].split(":")[1], 16) == client_port:  # remote address of the server's socket
            inodes.add(f"socket:[{fields[9]}]")
    pids = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            if any(os.readlink(fd) in inodes for fd in fd_dir.iterdir()):
                pids.append(int(fd_dir.parent.name))
        except OSError:
            continue  # gone, or not ours to inspect
    return [pid for pid in pids if pid != os.getpid()]


def elsewhere(config: SftpConfig, port: int, **changes: object) -> SftpConfig:
    """``config`` pointed at another local port, with that port's (pretend) known_hosts entry."""
    known = f"[{config.host}]:{port} {server_key(config)}\n"
    return dataclasses.replace(config, port=port, known_hosts=known, **changes)


# ------------------------------------------------------------------------------------------ uploads


def test_uploads_over_one_connection_read_back_byte_for_byte(config: SftpConfig, remote: RemoteDir) -> None:
    # Sizes around the write request limits: empty, one byte, one SSH packet, one request, several.
    sizes = [0, 1, 32_743, 32_768, 200_000, 261_120, 261_121, 700_001]
    payloads = {f"alert-{size}.json": os.urandom(size) for size in sizes}
    with SftpSession(config) as sftp:
        for name, data in payloads.items():
            assert sftp.upload_atomic(remote.path, name, data) == f"{remote.path}/{name}"
        for name, data in payloads.items():
            path = f"{remote.path}/{name}"
            assert sftp.exists(path)
            assert sftp.read(path) == data
            assert sftp.sha256(path) == hashlib.sha256(data).hexdigest()
        assert not sftp.exists(f"{remote.path}/never-written.json")
    for name, data in payloads.items():
        assert (remote.local / name).read_bytes() == data
    assert files_in(remote.local) == sorted(payloads)


def test_the_connection_uses_tcp_nodelay_and_aes_gcm(config: SftpConfig) -> None:
    with SftpSession(config) as sftp:
        sock, transport = sftp._sock, sftp._transport
        assert sock is not None
        assert transport is not None
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        assert transport.local_cipher == "aes128-gcm@openssh.com"
        assert "posix-rename@openssh.com" in sftp.server_extensions


def test_an_upload_replaces_the_file_atomically_and_leaves_no_temporary_file(
    config: SftpConfig, remote: RemoteDir
) -> None:
    with SftpSession(config) as sftp:
        sftp.upload_atomic(remote.path, "alert.json", b'{"version": 1}')
        sftp.upload_atomic(remote.path, "alert.json", b'{"version": 2, "longer": true}')
        assert sftp.read(f"{remote.path}/alert.json") == b'{"version": 2, "longer": true}'
    assert files_in(remote.local) == ["alert.json"]


def test_without_posix_rename_the_file_is_still_replaced(config: SftpConfig, remote: RemoteDir) -> None:
    with SftpSession(config) as sftp:
        sftp.upload_atomic(remote.path, "alert.json", b"old")
        assert sftp._sftp is not None
        del sftp._sftp.extensions["posix-rename@openssh.com"]  # as on a server without the extension
        sftp.upload_atomic(remote.path, "alert.json", b"new")
        sftp.upload_atomic(remote.path, "fresh.json", b"first")
        assert sftp.read(f"{remote.path}/alert.json") == b"new"
    assert files_in(remote.local) == ["alert.json", "fresh.json"]


def test_a_failed_upload_leaves_no_file_behind_and_the_session_goes_on(
    config: SftpConfig, remote: RemoteDir
) -> None:
    (remote.local / "occupied").mkdir()  # a non-empty directory where the file should go
    (remote.local / "occupied" / "keep").write_text("x")
    with SftpSession(config) as sftp:
        with pytest.raises(OSError, match="Failure") as renaming:
            sftp.upload_atomic(remote.path, "occupied", b"data")
        assert not isinstance(renaming.value, SftpUnavailable)  # the server answered: no retry helps
        with pytest.raises(FileNotFoundError):
            sftp.upload_atomic(f"{remote.path}/no-such-dir", "alert.json", b"data")
        assert files_in(remote.local) == ["occupied"]
        sftp.upload_atomic(remote.path, "after.json", b"still connected")
    assert files_in(remote.local) == ["after.json", "occupied"]


def test_ensure_directory_creates_it_accepts_it_existing_and_refuses_a_file(
    config: SftpConfig, remote: RemoteDir
) -> None:
    with SftpSession(config) as sftp, SftpSession(config) as other_worker:
        sftp.ensure_directory(f"{remote.path}/job-1")
        other_worker.ensure_directory(f"{remote.path}/job-1")  # lost the race: no error
        sftp.upload_atomic(f"{remote.path}/job-1", "a.json", b"{}")
        sftp.upload_atomic(remote.path, "plain-file", b"x")
        with pytest.raises(NotADirectoryError):
            sftp.ensure_directory(f"{remote.path}/plain-file")
        with pytest.raises(FileNotFoundError):
            sftp.ensure_directory(f"{remote.path}/no-parent/job-2")
    assert (remote.local / "job-1" / "a.json").read_bytes() == b"{}"


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../x", "nul\0"])
def test_upload_refuses_a_name_that_is_not_a_plain_file_name(
    config: SftpConfig, remote: RemoteDir, name: str
) -> None:
    with SftpSession(config) as sftp, pytest.raises(ValueError, match="plain file name"):
        sftp.upload_atomic(remote.path, name, b"x")
    assert files_in(remote.local) == []


def test_the_next_operation_reconnects_after_the_connection_dropped(
    config: SftpConfig, remote: RemoteDir
) -> None:
    with SftpSession(config) as sftp:
        sftp.upload_atomic(remote.path, "before.json", b"1")
        assert sftp._transport is not None
        sftp._transport.close()  # as if the server or a NAT dropped the idle connection
        sftp.upload_atomic(remote.path, "after.json", b"2")
    assert files_in(remote.local) == ["after.json", "before.json"]


def test_a_connection_lost_during_an_upload_is_transient(config: SftpConfig, remote: RemoteDir) -> None:
    data = os.urandom(64 * 1024 * 1024)  # takes far longer than 50 ms to send
    with SftpSession(config) as sftp:
        assert sftp._transport is not None
        threading.Timer(0.05, sftp._transport.close).start()
        with pytest.raises(SftpUnavailable, match="connection lost") as lost:
            sftp.upload_atomic(remote.path, "big.json", data)
        assert is_transient(lost.value)
    assert "big.json" not in files_in(remote.local)


def test_a_server_that_stops_answering_times_out_and_the_session_recovers(
    config: SftpConfig, remote: RemoteDir
) -> None:
    with SftpSession(dataclasses.replace(config, operation_timeout=1)) as sftp:
        sftp.upload_atomic(remote.path, "before.json", b"1")
        assert sftp._sock is not None
        frozen = serving_processes(sftp._sock.getsockname()[1])
        assert frozen, "found no sshd process serving this connection"
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            with pytest.raises(SftpUnavailable, match="connection lost") as stalled:
                sftp.upload_atomic(remote.path, "stalled.json", b"2")
            assert 0.9 <= time.monotonic() - started < 3
            assert is_transient(stalled.value)
        finally:
            for pid in frozen:
                os.kill(pid, signal.SIGCONT)
        sftp.upload_atomic(remote.path, "after.json", b"3")  # on a new connection
    assert {"before.json", "after.json"} <= set(files_in(remote.local))
    assert "stalled.json" not in files_in(remote.local)


# ---------------------------------------------------------------------------------------- host keys


def test_a_changed_host_key_is_refused(config: SftpConfig, tmp_path: Path) -> None:
    _, other_key = keygen(tmp_path, "impostor", "-t", "ed25519")
    known = f"[{config.host}]:{config.port} {other_key}\n"
    with pytest.raises(HostKeyError, match="host key mismatch") as refused:
        SftpSession(dataclasses.replace(config, known_hosts=known)).open()
    assert isinstance(refused.value, PermanentError)
    assert not is_transient(refused.value)


@pytest.mark.parametrize(
    "line",
    [
        "",
        "# only a comment",
        "[{host}]:1 {key}",  # another port
        "[elsewhere.example]:{port} {key}",
        "{host} {key}",  # without the port, which OpenSSH writes only for port 22
        "*,![{host}]:{port} {key}",  # every host but this one
        "@cert-authority [{host}]:{port} {key}",  # certificates are not supported
        "[{host}]:{port} ssh-ed25519 not!base64",
    ],
)
def test_a_host_known_hosts_does_not_list_is_refused(config: SftpConfig, line: str) -> None:
    known = line.format(host=config.host, port=config.port, key=server_key(config))
    with pytest.raises(HostKeyError, match="unknown host") as refused:
        SftpSession(dataclasses.replace(config, known_hosts=known)).open()
    assert not is_transient(refused.value)


@pytest.mark.parametrize("form", ["hashed", "wildcard", "among other names", "after other lines"])
def test_known_hosts_entries_in_every_openssh_form_are_accepted(config: SftpConfig, form: str) -> None:
    name, key = f"[{config.host}]:{config.port}", server_key(config)
    known = {
        "hashed": f"{paramiko.HostKeys.hash_host(name)} {key}",
        "wildcard": f"[{config.host[:-1]}?]:{config.port} {key} a comment",
        "among other names": f"other.example,{name},10.9.8.7 {key}",
        "after other lines": f"# partner\n\nother.example {key}\n{name}\t{key}\n",
    }[form]
    with SftpSession(dataclasses.replace(config, known_hosts=known)) as sftp:
        assert sftp.exists("/")


def test_a_revoked_host_key_is_refused_even_when_listed(config: SftpConfig) -> None:
    known = f"{config.known_hosts}\n@revoked * {server_key(config)}\n"
    with pytest.raises(HostKeyError, match="revoked"):
        SftpSession(dataclasses.replace(config, known_hosts=known)).open()


def test_known_hosts_with_only_other_key_types_is_refused(config: SftpConfig, tmp_path: Path) -> None:
    _, rsa_key = keygen(tmp_path, "rsa-host", "-t", "rsa", "-b", "2048")
    known = f"[{config.host}]:{config.port} {rsa_key}\n"
    # The server has only an Ed25519 key, so it cannot offer what we are willing to check.
    with pytest.raises(HostKeyError, match="offers none of the host key types"):
        SftpSession(dataclasses.replace(config, known_hosts=known)).open()


# ----------------------------------------------------------------------------------- authentication


@pytest.mark.parametrize(
    "key_options",
    [("-t", "ed25519"), ("-t", "ecdsa", "-b", "256"), ("-t", "rsa", "-b", "2048", "-m", "PEM")],
    ids=["ed25519", "ecdsa", "rsa-pem"],
)
def test_a_client_key_the_server_does_not_know_is_refused(
    config: SftpConfig, tmp_path: Path, key_options: tuple[str, ...]
) -> None:
    private_key, _ = keygen(tmp_path, "stranger", *key_options)
    with pytest.raises(SftpAuthError, match="refused key SHA256:") as refused:
        SftpSession(dataclasses.replace(config, private_key=private_key)).open()
    assert isinstance(refused.value, PermanentError)
    assert not is_transient(refused.value)


def test_a_user_the_server_does_not_allow_is_refused(config: SftpConfig) -> None:
    with pytest.raises(SftpAuthError, match="refused key"):
        SftpSession(dataclasses.replace(config, username="nobody-like-this")).open()


def test_an_encrypted_or_unreadable_private_key_is_refused_before_connecting(
    config: SftpConfig, tmp_path: Path
) -> None:
    encrypted = tmp_path / "encrypted"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", str(encrypted)], check=True, timeout=60
    )
    closed = elsewhere(config, free_port())  # nothing listens: a connection attempt would say so
    with pytest.raises(SftpAuthError, match="encrypted"):
        SftpSession(dataclasses.replace(closed, private_key=encrypted.read_text())).open()
    with pytest.raises(SftpAuthError, match="not an Ed25519, ECDSA or RSA key"):
        SftpSession(dataclasses.replace(closed, private_key="-----BEGIN NONSENSE-----\nAAAA\n")).open()


# ------------------------------------------------------------------------------- unreachable servers


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP server on a local port that accepts connections and never says a word."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    stop = threading.Event()
    accepted: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            accepted.append(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    for connection in accepted:
        connection.close()
    server.close()
    assert accepted, "the client never connected"


def test_a_closed_port_fails_fast_and_may_be_retried(config: SftpConfig) -> None:
    closed = elsewhere(config, free_port(), connect_timeout=2)
    started = time.monotonic()
    with pytest.raises(SftpUnavailable, match="cannot connect") as unavailable:
        SftpSession(closed).open()
    assert time.monotonic() - started < 2 * closed.connect_timeout
    assert is_transient(unavailable.value)


def test_a_server_that_never_sends_its_banner_times_out(config: SftpConfig, silent_server: int) -> None:
    silent = elsewhere(config, silent_server, banner_timeout=1, operation_timeout=10)
    started = time.monotonic()
    with pytest.raises(SftpUnavailable, match="banner") as unavailable:
        SftpSession(silent).open()
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 2 * silent.banner_timeout + 0.5
    assert is_transient(unavailable.value)


# ----------------------------------------------------------------------------------------- deadline


def test_a_deadline_already_past_refuses_to_connect(config: SftpConfig) -> None:
    closed = elsewhere(config, free_port())  # a connection attempt would raise SftpUnavailable instead
    with pytest.raises(DeadlineExceeded) as late:
        SftpSession(closed, deadline=time.monotonic() - 0.001).open()
    assert not is_transient(late.value)  # no time left to retry in this invocation


def test_no_upload_starts_after_the_deadline(config: SftpConfig, remote: RemoteDir) -> None:
    with SftpSession(config, deadline=time.monotonic() + 1.0) as sftp:
        sftp.upload_atomic(remote.path, "in-time.json", b"1")
        time.sleep(max(0.0, sftp.deadline - time.monotonic()) + 0.05)  # type: ignore[operator]
        with pytest.raises(DeadlineExceeded):
            sftp.upload_atomic(remote.path, "too-late.json", b"2")
    assert files_in(remote.local) == ["in-time.json"]


def test_an_upload_that_cannot_finish_in_time_is_not_started(config: SftpConfig, remote: RemoteDir) -> None:
    data = os.urandom(16 * 1024 * 1024)
    with SftpSession(config) as sftp:
        started = time.monotonic()
        sftp.upload_atomic(remote.path, "first.bin", data)
        took = time.monotonic() - started
        sftp.deadline = time.monotonic() + took / 3  # time left, but less than the same upload took
        with pytest.raises(DeadlineExceeded, match="not started"):
            sftp.upload_atomic(remote.path, "second.bin", data)
    assert files_in(remote.local) == ["first.bin"]


def test_an_upload_still_running_at_the_deadline_is_cut_off(config: SftpConfig, remote: RemoteDir) -> None:
    data = os.urandom(64 * 1024 * 1024)  # far more than fits before the deadline
    with SftpSession(config) as sftp:
        sftp.deadline = time.monotonic() + 0.2
        with pytest.raises(DeadlineExceeded, match="cut off"):
            sftp.upload_atomic(remote.path, "huge.bin", data)
        assert time.monotonic() < sftp.deadline + 1.0
        with pytest.raises(DeadlineExceeded):
            sftp.exists(remote.path)
    assert "huge.bin" not in files_in(remote.local)
