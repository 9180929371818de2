"""Apply the `local` Terraform root against the local stack."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from . import fake_api, ministack, paths, private, sshd
from .proc import StackError


def _env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if Path("/opt/tf-plugins/registry.terraform.io").is_dir():
        # Providers from the filesystem mirror (no network) where there is one.
        env["TF_CLI_CONFIG_FILE"] = str(paths.TERRAFORM / "terraformrc")
    env.update(TF_IN_AUTOMATION="1", TF_INPUT="0", CHECKPOINT_DISABLE="1", **(extra or {}))
    return env


def _secrets() -> dict[str, str]:
    from .stack import terraform_secrets

    return {"TF_VAR_local_secrets": terraform_secrets()}


def run(
    *args: str,
    check: bool = True,
    capture: bool = False,
    root: Path = paths.LOCAL_ROOT,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run terraform in ``root`` under umask 077: the state and its backups hold every secret of the
    stack, and Terraform creates them with the mode the umask leaves (see private.py)."""
    binary = shutil.which("terraform")
    if not binary:
        raise StackError("terraform not found on PATH")
    result = subprocess.run(
        [binary, *args],
        cwd=root,
        env=_env(env),
        text=True,
        capture_output=capture,
        check=False,
        umask=private.UMASK,
    )
    if check and result.returncode != 0:
        detail = f"\n{result.stdout}\n{result.stderr}" if capture else ""
        raise StackError(f"terraform {args[0]} failed (exit {result.returncode}){detail}")
    return result


def _vars(overrides: Mapping[str, str] | None = None) -> list[str]:
    # AWS_ENDPOINT_URL wins, so the same root deploys to LocalStack from docker-compose.
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or ministack.endpoint()
    return [
        f"-var=endpoint={endpoint}",
        f"-var=package_dir={paths.BUILD}",
        f"-var=alerts_api_url={fake_api.url()}",
        f"-var=sftp_remote_dir={sshd.remote_dir()}",
        *(f"-var={name}={value}" for name, value in (overrides or {}).items()),
    ]


def init(capture: bool = False, root: Path = paths.LOCAL_ROOT, state: Path = paths.TF_STATE) -> None:
    # Terraform keeps the mode of a state file it rewrites: one an older checkout wrote 0644 (and
    # its backups) must be made private here, not only new ones by the umask.
    private.make_private(state.parent)
    run("init", "-input=false", "-reconfigure", f"-backend-config=path={state}", capture=capture, root=root)


def apply(capture: bool = False, overrides: Mapping[str, str] | None = None) -> None:
    """Apply the local root; ``overrides`` sets root variables (e.g. feature flags) for this apply."""
    private.make_private(paths.LOCAL)  # `make deploy` may be the first run after an older checkout's
    init(capture=capture)
    run("apply", "-auto-approve", "-input=false", *_vars(overrides), capture=capture, env=_secrets())


def plan_detailed_exitcode() -> subprocess.CompletedProcess[str]:
    """`terraform plan -detailed-exitcode`: returncode 0 = no changes, 2 = changes, 1 = error."""
    return run(
        "plan", "-detailed-exitcode", "-input=false", "-no-color", *_vars(),
        check=False, capture=True, env=_secrets(),
    )  # fmt: skip


def outputs() -> dict[str, object]:
    result = run("output", "-json", capture=True)
    return {name: value["value"] for name, value in json.loads(result.stdout or "{}").items()}
