"""The fake partner records API (tools/fake_records_api) as a local-stack process on a loopback port.

It starts without a rate limit unless ``LP_RECORDS_API_RATE_LIMIT`` says otherwise: tests set the one
they need at runtime (``POST /_config``), so one stack serves them all.
"""

from __future__ import annotations

import os
import secrets
import sys
import urllib.request
from pathlib import Path

from . import paths, private
from .proc import StackError, pid_alive, port_open, spawn, stop, wait_until

DIR = paths.LOCAL / "fake-records-api"
PID = DIR / "fake-records-api.pid"
LOG = paths.LOGS / "fake-records-api.log"
TOKEN_FILE = DIR / "token"
PORT = int(os.environ.get("LP_RECORDS_API_PORT", "8766"))
RATE_LIMIT = int(os.environ.get("LP_RECORDS_API_RATE_LIMIT", "0"))


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
        raise StackError(f"port {PORT} is taken by another process; set LP_RECORDS_API_PORT")
    token()
    argv = [
        sys.executable, "-m", "fake_records_api", "--port", str(PORT), "--token-file", str(TOKEN_FILE),
        "--rate-limit", str(RATE_LIMIT),
    ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    spawn(argv, PID, LOG, env=env)
    wait_until(healthy, "fake records API", timeout=20, log_file=LOG)
    return True


def down() -> bool:
    return stop(PID, "fake records API")
