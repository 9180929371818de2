"""`lp stack`: the local stack, through tools/devstack (the same code `make up` runs)."""

from __future__ import annotations

import subprocess
from typing import Any

from lp.deployment import REPO, LpError


def up(*, deploy: bool) -> None:
    """Build the zips and start the stack (``make up``), or start the servers only."""
    if not deploy:
        from devstack.stack import start_all

        start_all(progress=True)
        return
    result = subprocess.run(["make", "-C", str(REPO), "--no-print-directory", "up"], check=False)
    if result.returncode != 0:
        raise LpError(f"make up failed (exit {result.returncode}); logs under .local/logs/")


def down() -> None:
    from devstack.__main__ import down as stop

    stop()


def status() -> list[dict[str, Any]]:
    from devstack import fake_api, fake_records_api, mariadb, ministack, paths, smtp, splunk_hec, sshd
    from devstack.proc import pid_alive

    parts = (
        ("ministack", ministack.PID, ministack.healthy, f"http://{paths.HOST}:{paths.MINISTACK_PORT}"),
        (
            "MariaDB",
            mariadb.PID,
            lambda: pid_alive(mariadb.PID) is not None,
            f"{paths.HOST}:{paths.MYSQL_PORT}",
        ),
        ("sshd", sshd.PID, lambda: pid_alive(sshd.PID) is not None, f"{paths.HOST}:{paths.SFTP_PORT}"),
        ("fake alerts API", fake_api.PID, fake_api.healthy, fake_api.url()),
        ("fake records API", fake_records_api.PID, fake_records_api.healthy, fake_records_api.url()),
        ("SMTP", smtp.PID, smtp.healthy, f"{paths.HOST}:{smtp.PORT}"),
        ("Splunk HEC", splunk_hec.PID, splunk_hec.healthy, splunk_hec.url()),
    )
    return [
        {"part": name, "state": "up" if healthy() else "down", "pid": pid_alive(pid_file), "address": address}
        for name, pid_file, healthy, address in parts
    ]
