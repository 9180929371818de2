"""Nothing under .local/ that holds a secret of the local stack is readable by group or others, once
the stack is up and the local root applied.

Which files hold a secret is found by their content, not from a list: every file under .local/
(virtualenvs aside) is searched for the stack's secrets (MySQL password, alerts API token, trigger
secret, SFTP client key, SSH host key). Terraform's state holds them all, and so does every backup of
it, whatever their names.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from devstack import fake_api, mariadb, paths, sshd, stack

pytestmark = pytest.mark.e2e


def _key_line(private_key: Path) -> str:
    # A line of the key's base64 body: the same bytes in the key file and, JSON-escaped, in the state.
    return private_key.read_text().splitlines()[1]


def _secrets() -> dict[str, str]:
    return {
        "MySQL password": mariadb.password(),
        "alerts API token": fake_api.token(),
        "trigger secret": stack.trigger_secret(),
        "SFTP client key": _key_line(sshd.CLIENT_KEY),
        "SSH host key": _key_line(sshd.HOST_KEY),
    }


def _files_holding(secrets: dict[str, str]) -> dict[Path, set[str]]:
    needles = {name: value.encode() for name, value in secrets.items()}
    found: dict[Path, set[str]] = {}
    for top, folders, files in os.walk(paths.LOCAL):  # symlinks are not followed
        folders[:] = [f for f in folders if not (Path(top) / f / "pyvenv.cfg").is_file()]
        for name in files:
            path = Path(top) / name
            if not stat.S_ISREG(path.lstat().st_mode):
                continue
            try:
                content = path.read_bytes()
            except FileNotFoundError:
                continue  # a server removed it meanwhile
            held = {secret for secret, needle in needles.items() if needle in content}
            if held:
                found[path.relative_to(paths.LOCAL)] = held
    return found


def _open_to_others(path: Path) -> str | None:
    mode = stat.S_IMODE(path.lstat().st_mode)
    return f"{path} is {mode:04o}" if mode & 0o077 else None


def test_no_secret_under_local_is_readable_by_group_or_others(deployed_stack):
    found = _files_holding(_secrets())

    # The search finds what is known to hold secrets (so it cannot pass by finding nothing).
    assert {
        Path("terraform/local.tfstate"),
        Path("mariadb/password"),
        Path("fake-alerts-api/token"),
        Path("secrets/alerts-trigger"),
        Path("sshd/client_ed25519"),
        Path("sshd/ssh_host_ed25519_key"),
        Path("stack.env"),
    } <= set(found), sorted(map(str, found))
    assert found[Path("terraform/local.tfstate")] >= {
        "MySQL password",
        "alerts API token",
        "trigger secret",
        "SFTP client key",
    }

    exposed = set()
    for relative in found:
        path = paths.LOCAL / relative
        for each in (path, *[paths.LOCAL / p for p in relative.parents]):
            exposed.add(_open_to_others(each))
    exposed.discard(None)
    assert not exposed, f"secret-holding files or their folders open to others: {sorted(exposed)}"


def test_terraform_state_and_its_backups_are_private(deployed_stack):
    states = sorted(paths.TF_STATE.parent.glob(f"{paths.TF_STATE.name}*"))
    assert paths.TF_STATE in states
    assert {str(s): stat.S_IMODE(s.stat().st_mode) for s in states} == {str(s): 0o600 for s in states}
    assert stat.S_IMODE(paths.TF_STATE.parent.stat().st_mode) == 0o700


def test_a_server_under_another_account_keeps_its_home_private(deployed_stack):
    """As root, MariaDB runs as `mysql` with its files outside the checkout: that account's alone."""
    from devstack import homes

    server = mariadb.account()
    home = mariadb.home()
    assert home.stat().st_uid == server.uid
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    if not server.is_invoking_user:
        folder = Path(os.readlink(homes.HOMES_LINK))
        assert home.parent == folder
        assert (folder.stat().st_uid, stat.S_IMODE(folder.stat().st_mode)) == (0, 0o711)
