"""A real OpenSSH sshd on a loopback port, SFTP only (internal-sftp), with keys of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from . import homes, paths, private
from .proc import StackError, pid_alive, port_open, spawn, stop, wait_until

DIR = paths.LOCAL / "sshd"
CONFIG = DIR / "sshd_config"
HOST_KEY = DIR / "ssh_host_ed25519_key"
CLIENT_KEY = DIR / "client_ed25519"
KNOWN_HOSTS = DIR / "known_hosts"
PID = DIR / "sshd.pid"
LOG = paths.LOGS / "sshd.log"
# Where possible the SFTP user is jailed in a chroot, as on partners' servers (see chrooted()).
CHROOT = paths.LOCAL / "sftp-root"
UPLOAD_DIR = "upload"


def user() -> str:
    """The SFTP login: the invoking user (sshd run by a normal user can log in no one else)."""
    return homes.invoking_user().name


def chrooted() -> bool:
    """Jail the SFTP user when sshd allows it: as root, with every component of the chroot path
    owned by root and writable by no one else (a checkout under /tmp, mode 1777, does not qualify)."""
    if os.geteuid() != 0:
        return False
    for directory in [CHROOT, *CHROOT.parents]:
        if directory.exists():
            info = directory.stat()
            if info.st_uid != 0 or info.st_mode & 0o022:
                return False
    return True


def remote_dir() -> str:
    """The writable upload directory as the SFTP client sees it."""
    return f"/{UPLOAD_DIR}" if chrooted() else str(CHROOT / UPLOAD_DIR)


def local_upload_dir() -> Path:
    """The same directory on this machine's filesystem, for tests to inspect."""
    return CHROOT / UPLOAD_DIR


def _keygen(path: Path, comment: str) -> None:
    if path.exists():
        return
    subprocess.run(  # under umask 077: the private key and its .pub are ours alone
        [
            shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            comment,
            "-f",
            str(path),
        ],
        check=True,
        umask=private.UMASK,
    )


def known_hosts_line() -> str:
    key_type, key = HOST_KEY.with_suffix(".pub").read_text().split()[:2]
    return f"[{paths.HOST}]:{paths.SFTP_PORT} {key_type} {key}"


def ensure_keys() -> None:
    """Host and client keys (and the known_hosts line), kept across restarts; also used by docker-compose."""
    private.make_dir(DIR)
    _keygen(HOST_KEY, "lambda-pipelines-local-host")
    _keygen(CLIENT_KEY, "lambda-pipelines-local-client")
    private.write_private(KNOWN_HOSTS, known_hosts_line() + "\n")


def _write_config() -> None:
    # sshd runs as root or as the invoking user (the only login): either may enter .local/.
    private.write_private(DIR / "authorized_keys" / user(), CLIENT_KEY.with_suffix(".pub").read_text())
    # A chroot must be root's and writable by no one else; 0700 is enough for a root login.
    private.make_dir(CHROOT)
    private.make_dir(CHROOT / UPLOAD_DIR)
    lines = [
        f"Port {paths.SFTP_PORT}",
        f"ListenAddress {paths.HOST}",
        f"HostKey {HOST_KEY}",
        f"PidFile {DIR / 'sshd.server.pid'}",
        f"AuthorizedKeysFile {DIR / 'authorized_keys'}/%u",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "PermitRootLogin prohibit-password",
        f"AllowUsers {user()}",
        "MaxStartups 200:30:400",
        "MaxSessions 50",
        "AllowTcpForwarding no",
        "X11Forwarding no",
        "PermitTTY no",
        "Subsystem sftp internal-sftp",
        "ForceCommand internal-sftp",
    ]
    if chrooted():
        lines.append(f"ChrootDirectory {CHROOT}")
    private.write_private(CONFIG, "\n".join(lines) + "\n")


def start() -> bool:
    """Start our sshd unless it is up; True if it was started now."""
    if pid_alive(PID) and port_open(paths.SFTP_PORT):
        return False
    if port_open(paths.SFTP_PORT):
        raise StackError(f"port {paths.SFTP_PORT} is taken by another process; set LP_SFTP_PORT")
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if not Path(sshd).exists():
        raise StackError("sshd not found: run `make setup` (installs openssh-server)")
    ensure_keys()
    _write_config()
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
    # -D: stay in the foreground so the PID we record is sshd's own.
    spawn([sshd, "-D", "-f", str(CONFIG), "-E", str(LOG)], PID, LOG)
    wait_until(lambda: port_open(paths.SFTP_PORT), "sshd", timeout=20, log_file=LOG)
    return True


def down() -> bool:
    return stop(PID, "sshd")
