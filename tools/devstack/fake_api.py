"""The fake external alerts API (tools/fake_alerts_api) as a local-stack process on a loopback port."""

from __future__ import annotations

import os

from . import paths, private
from .proc import http_ok, start_tool, stop

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
    return private.generated_secret(TOKEN_FILE)


def healthy() -> bool:
    return http_ok(f"{url()}/_stats")


def start() -> bool:
    token()
    arguments = ["--token-file", str(TOKEN_FILE), "--alerts-per-status", str(ALERTS_PER_STATUS),
                 "--large-every", "10", "--seed", "0"]  # fmt: skip
    return start_tool("fake_alerts_api", arguments, port=PORT, port_variable="LP_ALERTS_API_PORT",
                      pid_file=PID, log_file=LOG, healthy=healthy, what="fake alerts API")  # fmt: skip


def down() -> bool:
    return stop(PID, "fake alerts API")
