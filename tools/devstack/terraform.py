"""Apply the `local` Terraform root against the local stack."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from . import fake_api, ministack, paths, sshd
from .proc import StackError


def _env() -> dict[str, str]:
    env = dict(os.environ)
    if Path("/opt/tf-plugins/registry.terraform.io").is_dir():
        # Providers from the filesystem mirror (no network) where there is one.
        env["TF_CLI_CONFIG_FILE"] = str(paths.TERRAFORM / "terraformrc")
    from .stack import terraform_secrets

    env.update(
        TF_VAR_local_secrets=terraform_secrets(),
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        CHECKPOINT_DISABLE="1",
    )
    return env


def run(*args: str, check: bool = True, capture: bool = False) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("terraform")
    if not binary:
        raise StackError("terraform not found on PATH")
    result = subprocess.run(
        [binary, *args],
        cwd=paths.LOCAL_ROOT,
        env=_env(),
        text=True,
        capture_output=capture,
        check=False,
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


def init(capture: bool = False) -> None:
    paths.TF_STATE.parent.mkdir(parents=True, exist_ok=True)
    run("init", "-input=false", "-reconfigure", f"-backend-config=path={paths.TF_STATE}", capture=capture)


def apply(capture: bool = False, overrides: Mapping[str, str] | None = None) -> None:
    """Apply the local root; ``overrides`` sets root variables (e.g. feature flags) for this apply."""
    init(capture=capture)
    run("apply", "-auto-approve", "-input=false", *_vars(overrides), capture=capture)


def plan_detailed_exitcode() -> subprocess.CompletedProcess[str]:
    """`terraform plan -detailed-exitcode`: returncode 0 = no changes, 2 = changes, 1 = error."""
    return run("plan", "-detailed-exitcode", "-input=false", "-no-color", *_vars(), check=False, capture=True)


def outputs() -> dict[str, object]:
    result = run("output", "-json", capture=True)
    return {name: value["value"] for name, value in json.loads(result.stdout or "{}").items()}
