"""devstack writes the local stack's files for the invoking user alone, and repairs the modes an older
checkout left (issue 8, bug 3). Real files, a real process and a real `terraform apply`; no stack."""

from __future__ import annotations

import os
import stat
import textwrap
from pathlib import Path

from devstack import private, proc, terraform


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_an_older_checkouts_local_folder_is_made_private(tmp_path: Path):
    local = tmp_path / ".local"
    (local / "terraform").mkdir(parents=True, mode=0o755)
    (local / "sshd").mkdir(mode=0o755)
    for name in ("terraform/local.tfstate", "terraform/local.tfstate.backup", "sshd/sshd.pid"):
        (local / name).write_text("{}")
        (local / name).chmod(0o644)
    (local / "sshd" / "tool").write_text("#!/bin/sh\n")
    (local / "sshd" / "tool").chmod(0o755)
    outside = tmp_path / "outside.txt"  # e.g. a worktree's venv symlink into another checkout
    outside.write_text("not ours to change")
    outside.chmod(0o644)
    (local / "link").symlink_to(outside)
    local.chmod(0o755)

    private.make_private(local)

    assert {str(p.relative_to(local)): _mode(p) for p in local.rglob("*") if not p.is_symlink()} == {
        "terraform": 0o700,
        "terraform/local.tfstate": 0o600,
        "terraform/local.tfstate.backup": 0o600,
        "sshd": 0o700,
        "sshd/sshd.pid": 0o600,
        "sshd/tool": 0o700,
    }
    assert _mode(local) == 0o700
    assert _mode(outside) == 0o644


def test_missing_folders_are_created_private(tmp_path: Path):
    private.make_dir(tmp_path / ".local" / "secrets")
    assert _mode(tmp_path / ".local") == 0o700
    assert _mode(tmp_path / ".local" / "secrets") == 0o700


def test_a_file_written_private_is_so_even_if_it_existed_world_readable(tmp_path: Path):
    token = tmp_path / "token"
    token.write_text("old")
    token.chmod(0o644)
    private.write_private(token, "new")
    assert token.read_text() == "new"
    assert _mode(token) == 0o600


def test_a_spawned_server_writes_private_files(tmp_path: Path):
    pid_file, log = tmp_path / "server.pid", tmp_path / "server.log"
    script = f"echo started; echo data > {tmp_path / 'written'}; mkdir {tmp_path / 'made'}"
    pid = proc.spawn(["/bin/sh", "-c", script], pid_file, log)
    os.waitpid(pid, 0)
    assert log.read_text() == "started\n"
    assert {name: _mode(tmp_path / name) for name in ("server.pid", "server.log", "written", "made")} == {
        "server.pid": 0o600,
        "server.log": 0o600,
        "written": 0o600,
        "made": 0o700,
    }


ROOT = """
terraform {
  backend "local" {}
}

variable "secret" {
  type      = string
  sensitive = true
}

resource "terraform_data" "secret" {
  input = var.secret
}
"""


def test_terraform_state_and_its_backups_are_private(tmp_path: Path):
    """Through the same wrapper as the local root: a state an older checkout wrote 0644 is repaired
    (Terraform keeps the mode of a state file it rewrites) and new backups are born private."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "main.tf").write_text(textwrap.dedent(ROOT))
    state = tmp_path / ".local" / "terraform" / "local.tfstate"

    terraform.init(capture=True, root=root, state=state)
    terraform.run("apply", "-auto-approve", "-input=false", "-var=secret=first", capture=True, root=root)
    state.chmod(0o644)  # as an older checkout left it
    state.parent.chmod(0o755)
    terraform.init(capture=True, root=root, state=state)
    terraform.run("apply", "-auto-approve", "-input=false", "-var=secret=second", capture=True, root=root)

    backup = state.with_name("local.tfstate.backup")
    assert "second" in state.read_text()
    assert "first" in backup.read_text()
    assert {p.name: _mode(p) for p in state.parent.iterdir()} == {
        "local.tfstate": 0o600,
        "local.tfstate.backup": 0o600,
    }
    assert _mode(state.parent) == 0o700
