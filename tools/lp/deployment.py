"""One deployed environment: its Terraform outputs and AWS clients pointed at it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
LOCAL_ROOT = REPO / "terraform" / "environments" / "local"
# The local stack's fixed credentials (ministack accepts any; these are the ones the README gives).
LOCAL_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


class LpError(RuntimeError):
    """A failure the operator can fix (a wrong name, missing credentials, nothing deployed): printed
    as one line, exit status 1."""


def load_outputs(root: Path | None = None, outputs_file: Path | None = None) -> dict[str, Any]:
    """The outputs of an environment root (``terraform output -json``) or of a file holding them."""
    if outputs_file is not None:
        try:
            raw = json.loads(outputs_file.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise LpError(f"cannot read outputs from {outputs_file}: {error}") from error
    else:
        raw = _terraform_outputs(root or LOCAL_ROOT)
    # `terraform output -json` wraps each value as {"value": ..., "type": ...}; a hand-written file may not.
    return {name: value["value"] if _wrapped(value) else value for name, value in raw.items()}


def _wrapped(value: Any) -> bool:
    return isinstance(value, dict) and "value" in value and set(value) <= {"value", "type", "sensitive"}


def _terraform_outputs(root: Path) -> dict[str, Any]:
    if not root.is_dir():
        raise LpError(f"no Terraform root at {root}")
    binary = shutil.which("terraform")
    if not binary:
        raise LpError(
            "terraform is not on PATH: install it, or pass --outputs <file of terraform output -json>"
        )
    result = subprocess.run(
        [binary, f"-chdir={root}", "output", "-json", "-no-color"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"},
    )
    if result.returncode != 0:
        detail = result.stderr.strip() or result.stdout.strip()
        if "terraform init" in detail:
            raise LpError(
                f"{root} is not initialised: run `terraform init` there (the local root: `lp stack up`)"
            )
        first = next((line for line in detail.splitlines() if line.startswith("Error:")), detail[:300])
        raise LpError(f"terraform output in {root} failed: {first}")
    outputs = json.loads(result.stdout or "{}")
    if not outputs:
        raise LpError(
            f"{root} has no outputs: deploy it first"
            " (`lp stack up` for the local stack, `terraform apply` for AWS)"
        )
    return dict(outputs)


@dataclass
class Deployment:
    """The outputs of one root, and boto3 clients for the account and region they were deployed to.

    A root with an ``endpoint`` output (the local one) is reached at that endpoint; the others at AWS
    with the caller's usual credential chain (profile, SSO, environment).
    """

    outputs: Mapping[str, Any]
    profile: str | None = None
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def endpoint(self) -> str | None:
        value = self.outputs.get("endpoint")
        return str(value) if value else None

    @property
    def region(self) -> str:
        return (
            str(
                self.outputs.get("region")
                or os.environ.get("AWS_REGION")
                or os.environ.get("AWS_DEFAULT_REGION")
                or ""
            )
            or "us-east-1"
        )

    def pipeline(self, name: str) -> dict[str, Any]:
        """One pipeline's entry points (its module's outputs)."""
        value = self.outputs.get(name)
        if not isinstance(value, dict):
            deployed = ", ".join(sorted(k for k, v in self.outputs.items() if isinstance(v, dict))) or "none"
            raise LpError(f"pipeline {name!r} is not deployed in this root (deployed: {deployed})")
        return value

    @cached_property
    def _session(self) -> Any:
        import boto3  # the CLI's slowest import, needed only by commands that call AWS

        options: dict[str, Any] = {"region_name": self.region}
        if self.profile:
            options["profile_name"] = self.profile
        elif self.endpoint and not os.environ.get("AWS_ACCESS_KEY_ID"):
            options.update(LOCAL_CREDENTIALS)
        return boto3.session.Session(**options)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            from botocore.config import Config

            config = Config(
                retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=60
            )
            self._clients[service] = self._session.client(service, endpoint_url=self.endpoint, config=config)
        return self._clients[service]
