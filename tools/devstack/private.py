"""The local stack's files are the invoking user's alone.

.local/ holds secrets: the SFTP keys, the MySQL password, the alerts API token, the trigger secret,
stack.env, logs, and Terraform's state and its backups, which hold all of them. So .local/ and every
folder in it is 0700 and every file 0600: what devstack writes itself is created so, and the servers
and Terraform run under umask 077, so what they write is too. A checkout made before this wrote
0755 folders and 0644 files (Terraform keeps an existing state file's mode when it rewrites it):
make_private() takes group and other access away from what is there.

A server that runs under an account of its own cannot enter .local/ then: see homes.py.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

UMASK = 0o077


def _is_virtualenv(directory: str) -> bool:
    # make setup's virtualenvs: installed packages, no secrets, thousands of files (private anyway
    # behind the 0700 .local/ they live in).
    return os.path.isfile(os.path.join(directory, "pyvenv.cfg"))


def _restrict(path: str, info: os.stat_result) -> None:
    if info.st_mode & 0o077 and (info.st_uid == os.geteuid() or os.geteuid() == 0):
        os.chmod(path, stat.S_IMODE(info.st_mode) & 0o700)


def make_private(directory: Path) -> Path:
    """Create ``directory`` (and missing parents) 0700, or take group and other access away from it
    and from every folder and file below it (symlinks are not followed; virtualenvs are left alone)."""
    missing = [d for d in (directory, *directory.parents) if not d.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
    # Inside first: an interrupted repair leaves the top open, so the next call repairs again.
    for top, folders, files in os.walk(directory, topdown=True):
        folders[:] = [f for f in folders if not _is_virtualenv(os.path.join(top, f))]
        for name in folders + files:
            path = os.path.join(top, name)
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                continue  # a server removed it meanwhile
            if stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode):
                _restrict(path, info)
    _restrict(str(directory), os.lstat(directory))
    return directory


def make_dir(directory: Path) -> Path:
    """A folder of ours: created 0700 (the same for missing parents), an existing one made 0700."""
    missing = [d for d in (directory, *directory.parents) if not d.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
    _restrict(str(directory), os.lstat(directory))
    return directory


def open_private(path: Path) -> int:
    """A file descriptor to write ``path`` from the start, 0600 whether or not the file existed."""
    make_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    os.fchmod(fd, 0o600)
    return fd


def write_private(path: Path, text: str) -> None:
    """Write ``path`` readable by its owner only."""
    with os.fdopen(open_private(path), "w") as file:
        file.write(text)


def generated_secret(path: Path) -> str:
    """The random token or password kept in ``path`` (owner only), made on first use."""
    if not path.exists():
        write_private(path, secrets.token_urlsafe(24))
    return path.read_text().strip()
