"""The stack as a whole: start what is down, describe how to reach it."""

from __future__ import annotations

import json
import secrets
import types

from . import fake_api, fake_records_api, mariadb, ministack, paths, private, smtp, splunk_hec, sshd

PARTS: tuple[tuple[str, types.ModuleType], ...] = (
    ("ministack", ministack),
    ("MariaDB", mariadb),
    ("sshd", sshd),
    ("fake alerts API", fake_api),
    ("fake records API", fake_records_api),
    ("SMTP server", smtp),
    ("Splunk HEC", splunk_hec),
)
TRIGGER_SECRET_FILE = paths.LOCAL / "secrets" / "alerts-trigger"
PORT_VARIABLES = (
    "LP_MINISTACK_PORT", "LP_MYSQL_PORT", "LP_SFTP_PORT", "LP_ALERTS_API_PORT", "LP_RECORDS_API_PORT",
    "LP_SMTP_PORT", "LP_SPLUNK_HEC_PORT",
)  # fmt: skip
"""The loopback port of each part, set by these variables: a second stack (another checkout, a test)
sets them all to free ports."""


def stack_env() -> dict[str, str]:
    """Everything a client needs to reach the local stack, as environment variables."""
    return {
        "AWS_ENDPOINT_URL": ministack.endpoint(),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "MYSQL_URL": mariadb.url(),
        "SFTP_HOST": paths.HOST,
        "SFTP_PORT": str(paths.SFTP_PORT),
        "SFTP_USER": sshd.user(),
        "SFTP_KEY_FILE": str(sshd.CLIENT_KEY),
        "SFTP_KNOWN_HOSTS_FILE": str(sshd.KNOWN_HOSTS),
        "SFTP_REMOTE_DIR": sshd.remote_dir(),
        "SFTP_LOCAL_DIR": str(sshd.local_upload_dir()),
        "ALERTS_API_URL": fake_api.url(),
        "ALERTS_API_TOKEN_FILE": str(fake_api.TOKEN_FILE),
        "RECORDS_API_URL": fake_records_api.url(),
        "RECORDS_API_TOKEN_FILE": str(fake_records_api.TOKEN_FILE),
        "ALERTS_TRIGGER_SECRET_FILE": str(TRIGGER_SECRET_FILE),
        "SMTP_HOST": paths.HOST,
        "SMTP_PORT": str(smtp.PORT),
        "SMTP_MAIL_DIR": str(smtp.MAIL_DIR),
        "SMTP_CA_FILE": str(smtp.CA_FILE),
        "SPLUNK_HEC_URL": splunk_hec.url(),
        "SPLUNK_HEC_CA_FILE": str(splunk_hec.CA_FILE),
    }


def trigger_secret() -> str:
    """The shared secret Airflow sends to the trigger ALB (generated once per checkout)."""
    if not TRIGGER_SECRET_FILE.exists():
        private.write_private(TRIGGER_SECRET_FILE, secrets.token_urlsafe(32))
    return TRIGGER_SECRET_FILE.read_text().strip()


def terraform_secrets() -> str:
    """The local root's secret values (TF_VAR_local_secrets): the local root writes them into Secrets
    Manager / SSM on the emulator, where the functions read them as they would on AWS."""
    sftp = {
        "host": paths.HOST,
        "port": paths.SFTP_PORT,
        "username": sshd.user(),
        "private_key": sshd.CLIENT_KEY.read_text(),
    }
    return json.dumps(
        {
            "trigger": trigger_secret(),
            "api_token": fake_api.token(),
            "records_api_token": fake_records_api.token(),
            "mysql": json.dumps({"url": mariadb.url()}),
            "sftp": json.dumps(sftp),
            "sftp_known_hosts": sshd.known_hosts_line(),
            "smtp": json.dumps(smtp.secret()),
            "splunk_hec": json.dumps(splunk_hec.secret()),
        }
    )


def write_env() -> dict[str, str]:
    env = stack_env()
    private.write_private(paths.STACK_ENV, "".join(f"{k}={v}\n" for k, v in env.items()))
    return env


def start_all(progress: bool = False) -> list[types.ModuleType]:
    """Start every part that is down; return the parts started now (to stop them later). If one
    cannot start, those started now are stopped again before the error is raised."""
    private.make_private(paths.LOCAL)
    started: list[types.ModuleType] = []
    try:
        for name, part in PARTS:
            if part.start():
                started.append(part)
                if progress:
                    print(f"==> {name}: started", flush=True)
            elif progress:
                print(f"==> {name}: already running", flush=True)
        write_env()
    except BaseException:  # also Ctrl-C: no half-started stack is left running
        stop(started)
        raise
    return started


def stop(parts: list[types.ModuleType] | None = None) -> None:
    for _, part in reversed(PARTS):
        if parts is None or part in parts:
            part.down()
