"""What importing the package costs a Lambda: no network, no client, no SQLAlchemy, and nothing a
module does not need."""

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


def probe(code: str) -> str:
    """Run ``code`` in a fresh interpreter (nothing imported yet); its standard output."""
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=SHARED, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_importing_the_package_touches_no_network_and_no_sql_dependencies() -> None:
    assert probe(PROBE).strip() == "ok"


LIGHT = """
import sys

import pipelines_shared
import pipelines_shared.log
import pipelines_shared.tracking

heavy = {"boto3", "botocore", "aws_lambda_powertools", "tenacity", "sqlalchemy", "paramiko"}
print(sorted(heavy & {name.split(".")[0] for name in sys.modules}))
"""


def test_the_package_and_the_tracking_port_import_no_adapter_and_no_sdk() -> None:
    """A service that logs and speaks TrackingStore loads no boto3 or Powertools for it: each cold start
    pays for every import, so the packages re-export nothing heavy (adapters come from their modules)."""
    assert probe(LIGHT).strip() == "[]"


PATH_SPECIFIC = """
import sys

from pipelines_shared.sftp import SftpConfig, safe_remote_name
import pipelines_shared.tracking.sql

loaded = {name for name in sys.modules}
print(sorted(loaded & {"paramiko", "sqlalchemy.dialects.postgresql", "sqlalchemy.dialects.sqlite"}))
from pipelines_shared.sftp import SftpSession  # the session, when asked for, is still there
print(SftpSession.__module__, "paramiko" in sys.modules)
"""


def test_what_only_some_paths_need_is_imported_on_those_paths() -> None:
    """Naming remote files and the SQL store's MySQL path load neither paramiko (~120 ms of a cold
    start) nor the PostgreSQL and SQLite dialects (~70 ms); asking for SftpSession loads paramiko."""
    assert probe(PATH_SPECIFIC).splitlines() == ["[]", "pipelines_shared.sftp.session True"]
