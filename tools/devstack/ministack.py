"""ministack, the AWS API emulator, from its own Python 3.12 virtualenv."""

from __future__ import annotations

import os
from pathlib import Path

from . import paths, private
from .proc import StackError, http_ok, pid_alive, port_open, spawn, stop, wait_until

DIR = paths.LOCAL / "ministack"
PID = DIR / "ministack.pid"
LOG = paths.LOGS / "ministack.log"
# Outside this package: run as a script, its folder is first on sys.path and must not hold a ministack.py.
SERVER = Path(__file__).resolve().parents[1] / "ministack_server.py"


def endpoint() -> str:
    return f"http://{paths.HOST}:{paths.MINISTACK_PORT}"


def healthy() -> bool:
    return http_ok(f"{endpoint()}/_ministack/health")


def start() -> bool:
    """Start ministack unless ours is already up; True if it was started now (its state is empty)."""
    if pid_alive(PID) and healthy():
        return False
    if port_open(paths.MINISTACK_PORT):
        raise StackError(
            f"port {paths.MINISTACK_PORT} is taken by a process that is not our ministack; "
            "stop it, or set LP_MINISTACK_PORT"
        )
    python = paths.MINISTACK_VENV / "bin" / "python"
    if not python.exists():
        raise StackError(f"{python} is missing: run `make setup`")
    # Lambda code and Glue scripts are unpacked here by ministack, as the invoking user (whose 0700
    # .local/ they may enter wherever the checkout is); spawn()'s umask keeps them private.
    private.make_dir(DIR / "tmp")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(
        BIND_HOST=paths.HOST,
        GATEWAY_PORT=str(paths.MINISTACK_PORT),
        MINISTACK_HOST=paths.HOST,
        TMPDIR=str(DIR / "tmp"),
        # Glue Python-shell jobs run the first `python3` on ministack's PATH: make it the 3.12 venv.
        PATH=f"{python.parent}:{env.get('PATH', '/usr/bin:/bin')}",
        # Glue jobs run as child processes with ministack's environment: give them what a job role
        # gives them on AWS (credentials and a region in the environment), here the emulator's dummies.
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",  # noqa: S106 - the emulator's well-known dummy credentials
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        # Cognito's MQTT listener would otherwise open 0.0.0.0:8883.
        IOT_MTLS_ENABLED="0",
        LOG_LEVEL=os.environ.get("MINISTACK_LOG_LEVEL", "WARNING"),
    )
    spawn([str(python), str(SERVER)], PID, LOG, env=env)
    wait_until(healthy, "ministack", timeout=30, log_file=LOG)
    # A fresh emulator holds no resources: a Terraform state from an earlier run would lie.
    paths.TF_STATE.unlink(missing_ok=True)
    return True


def down() -> bool:
    return stop(PID, "ministack")
