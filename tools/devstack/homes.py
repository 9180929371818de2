"""Where a server that must not run as root runs, and keeps its files.

mariadbd refuses to run as root, and PostgreSQL's ``postgres`` cannot be made to at all. Run by a
normal user, such a server runs as that user and keeps its files in ``.local/<server>/`` like every
other part. Run by root, it runs under the account its package made for it (``mysql``,
``postgres``). That account can enter neither ``.local/`` (0700, see private.py) nor, in a private
checkout, the checkout's parents (``/root`` is 0700 on Debian, and so is a ``mktemp -d`` folder),
yet a server reaches its data directory, socket and pid file by path. So its home is outside the
checkout, in a folder made for this checkout under /var/tmp (disk, not RAM: a datadir is ~120 MB):

    /var/tmp/lambda-pipelines-XXXXXXXX/   root's, 0711: passable, not listable; a fresh random name
                                          (mkdtemp) that no other user can have prepared, and in a
                                          sticky folder no other user can rename it
      mariadb/                            mysql's, 0700 (later postgres/, postgres's, 0700)

The symlink ``.local/server-homes`` remembers the folder; ``python -m devstack clean`` removes both.
Nothing else of the system changes: no directory's mode, no ACL, no account.

A server module asks for ``server_account("mysql")`` and ``server_home("mariadb", account)``,
starts its process with ``account.popen_kwargs()`` (as root: that uid, gid and its own groups, none
of root's) and gives it only paths in its home. A PostgreSQL part would do the same with
``server_account("postgres")`` and ``server_home("postgres", account)``: ``initdb -D <home>/data``
and ``postgres -D <home>/data -k <home>`` run as that account, reachable from any checkout.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import paths, private
from .proc import StackError

HOMES_LINK = paths.LOCAL / "server-homes"
# FHS: temporary files kept across reboots; root-owned and sticky on every Debian/Ubuntu system.
HOMES_PARENT = Path("/var/tmp")  # noqa: S108 - mkdtemp names and owner checks below
HOMES_MODE = 0o711


@dataclass(frozen=True)
class Account:
    """An OS account a server runs under."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]

    @property
    def is_invoking_user(self) -> bool:
        return self.uid == os.geteuid()

    def popen_kwargs(self) -> dict[str, Any]:
        """subprocess arguments that start a process as this account (nothing if it is us)."""
        if self.is_invoking_user:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": list(self.groups)}


def _account(entry: pwd.struct_passwd) -> Account:
    groups = tuple(g for g in os.getgrouplist(entry.pw_name, entry.pw_gid) if g != entry.pw_gid)
    return Account(name=entry.pw_name, uid=entry.pw_uid, gid=entry.pw_gid, groups=groups)


def invoking_user() -> Account:
    """The account we run as, by uid: $USER can lie (sudo -E, setpriv), and sshd logins and MariaDB's
    unix-socket authentication go by uid."""
    return _account(pwd.getpwuid(os.geteuid()))


def server_account(service_account: str) -> Account:
    """The account a server that must not run as root runs under: the invoking user, or as root the
    packaged ``service_account``."""
    if os.geteuid() != 0:
        return invoking_user()
    try:
        return _account(pwd.getpwnam(service_account))
    except KeyError:
        raise StackError(
            f"account {service_account!r} not found: install the server's Debian package (make setup)"
        ) from None


def _valid_homes(folder: Path) -> bool:
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == 0 and stat.S_IMODE(info.st_mode) == HOMES_MODE


def _homes_of_root() -> Path:
    """This checkout's folder of server homes outside the checkout (root only), made once."""
    try:
        remembered = Path(os.readlink(HOMES_LINK))
    except (FileNotFoundError, OSError):
        remembered = None
    if remembered is not None and _valid_homes(remembered):
        return remembered
    parent = os.lstat(HOMES_PARENT)
    if parent.st_uid != 0 or (parent.st_mode & 0o022 and not parent.st_mode & stat.S_ISVTX):
        raise StackError(f"{HOMES_PARENT} must be root's and sticky or writable by root only")
    folder = Path(tempfile.mkdtemp(prefix="lambda-pipelines-", dir=HOMES_PARENT))
    folder.chmod(HOMES_MODE)
    private.make_dir(HOMES_LINK.parent)
    HOMES_LINK.unlink(missing_ok=True)
    HOMES_LINK.symlink_to(folder)
    return folder


def server_home(server: str, account: Account) -> Path:
    """A folder that only ``account`` may enter and that ``account`` can reach by path, created if
    missing: ``.local/<server>/``, or as root for another account ``<homes>/<server>/``."""
    if account.is_invoking_user:
        return private.make_dir(paths.LOCAL / server)
    home = _homes_of_root() / server
    if not home.exists():
        home.mkdir(mode=0o700)
    info = os.lstat(home)
    if not stat.S_ISDIR(info.st_mode):
        raise StackError(f"{home} is not a directory")
    if (info.st_uid, info.st_gid) != (account.uid, account.gid):
        os.chown(home, account.uid, account.gid)
    if stat.S_IMODE(info.st_mode) != 0o700:
        home.chmod(0o700)
    return home


def remove_homes() -> None:
    """Remove the server homes this checkout made outside it (root), and the link to them."""
    try:
        folder = Path(os.readlink(HOMES_LINK))
    except (FileNotFoundError, OSError):
        return
    if _valid_homes(folder):
        shutil.rmtree(folder)
    HOMES_LINK.unlink(missing_ok=True)


def server_environment(home: Path, account: Account) -> dict[str, str]:
    """A server's environment: none of ours (our HOME and TMPDIR may be folders it cannot enter)."""
    tmp = home / "tmp"
    if not tmp.exists():
        tmp.mkdir(mode=0o700)
        if not account.is_invoking_user:
            os.chown(tmp, account.uid, account.gid)
    return {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(home),
        "TMPDIR": str(tmp),
    }
