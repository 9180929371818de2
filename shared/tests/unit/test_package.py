"""What importing the package costs a Lambda: no network, no client, no SQLAlchemy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2]

PROBE = """
import socket, sys

def refuse(*args, **kwargs):
    raise AssertionError("network used on import")

socket.socket.connect = refuse
socket.create_connection = refuse

import pipelines_shared
from pipelines_shared import aws, batch, log, retry, settings, tracking

assert aws._clients == {}, "a client was created on import"
assert "sqlalchemy" not in sys.modules, "sqlalchemy imported without tracking.sql"
assert "pymysql" not in sys.modules
print("ok")
"""


def test_importing_the_package_touches_no_network_and_no_sql_dependencies() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=SHARED,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
