"""The fake partner records API (tools/fake_records_api) as a local-stack process on a loopback port.

It starts without a rate limit unless ``LP_RECORDS_API_RATE_LIMIT`` says otherwise: tests set the one
they need at runtime (``POST /_config``), so one stack serves them all.
"""

from __future__ import annotations

import os

from . import paths, private
from .proc import http_ok, start_tool, stop

DIR = paths.LOCAL / "fake-records-api"
PID = DIR / "fake-records-api.pid"
LOG = paths.LOGS / "fake-records-api.log"
TOKEN_FILE = DIR / "token"
PORT = int(os.environ.get("LP_RECORDS_API_PORT", "8766"))
RATE_LIMIT = int(os.environ.get("LP_RECORDS_API_RATE_LIMIT", "0"))


def url() -> str:
    return f"http://{paths.HOST}:{PORT}"


def token() -> str:
    return private.generated_secret(TOKEN_FILE)


def healthy() -> bool:
    return http_ok(f"{url()}/_stats")


def start() -> bool:
    token()
    arguments = ["--token-file", str(TOKEN_FILE), "--rate-limit", str(RATE_LIMIT)]
    return start_tool("fake_records_api", arguments, port=PORT, port_variable="LP_RECORDS_API_PORT",
                      pid_file=PID, log_file=LOG, healthy=healthy, what="fake records API")  # fmt: skip


def down() -> bool:
    return stop(PID, "fake records API")
