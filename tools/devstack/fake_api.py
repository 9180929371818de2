"""The fake external alerts API (tools/fake_alerts_api) as a local-stack process on a loopback port."""

from __future__ import annotations

import os
import secrets
import sys
import urllib.request
from pathlib import Path

from . import paths, private
from .proc import StackError, pid_alive, port_open, spawn, stop, wait_until

DIR = paths.LOCAL / "fake-alerts-api"
PID = DIR / "fake-alerts-api.pid"
LOG = paths.LOGS / "fake-alerts-api.log"
TOKEN_FILE = DIR / "token"
PORT = int(os.environ.get("LP_ALERTS_API_PORT", "8765"))
# 100 alerts per status x 20 statuses, every 10th one ~200 KB: the size of job the e2e tests run.
ALERTS_PER_STATUS = int(os.environ.get("LP_ALERTS_PER_STATUS", "100"))


def url() -> str:
    return f"http://{paths.HOST}:{PORT}"


def token() -> str:
    if not TOKEN_FILE.exists():
        private.write_private(TOKEN_FILE, secrets.token_urlsafe(24))
    return TOKEN_FILE.read_text().strip()


def healthy() -> bool:
    try:
        with urllib.request.urlopen(f"{url()}/_stats", timeout=2) as response:  # noqa: S310 (loopback)
            return bool(response.status == 200)
    except OSError:
        return False


def start() -> bool:
    if pid_alive(PID) and healthy():
        return False
    if port_open(PORT):
        raise StackError(f"port {PORT} is taken by another process; set LP_ALERTS_API_PORT")
    token()
    argv = [
        sys.executable, "-m", "fake_alerts_api", "--port", str(PORT), "--token-file", str(TOKEN_FILE),
        "--alerts-per-status", str(ALERTS_PER_STATUS), "--large-every", "10", "--seed", "0",
    ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    spawn(argv, PID, LOG, env=env)
    wait_until(healthy, "fake alerts API", timeout=20, log_file=LOG)
    return True


def down() -> bool:
    return stop(PID, "fake alerts API")
