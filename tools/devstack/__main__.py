"""`python -m devstack up|down|status|env|deploy` — the local stack (see the README)."""

from __future__ import annotations

import argparse
import json
import shutil
import sys

from . import (
    fake_api,
    fake_records_api,
    homes,
    mariadb,
    ministack,
    paths,
    private,
    smtp,
    splunk_hec,
    sshd,
    terraform,
)
from .proc import StackError, pid_alive
from .stack import PARTS, stack_env, start_all


def up(deploy: bool) -> None:
    start_all(progress=True)
    if deploy:
        print("==> terraform apply (environments/local)", flush=True)
        terraform.apply()
    describe(deployed=deploy)


def describe(deployed: bool) -> None:
    env = stack_env()
    print(
        f"""
Local stack is up (state and logs under {paths.LOCAL}):
  AWS API (ministack)  {env["AWS_ENDPOINT_URL"]}   credentials test/test, region us-east-1
  MariaDB              127.0.0.1:{paths.MYSQL_PORT}   {env["MYSQL_URL"]}
  SFTP (OpenSSH)       {env["SFTP_USER"]}@127.0.0.1:{paths.SFTP_PORT}   key {env["SFTP_KEY_FILE"]}
                       known_hosts {env["SFTP_KNOWN_HOSTS_FILE"]}   uploads to {env["SFTP_REMOTE_DIR"]}
  fake alerts API      {env["ALERTS_API_URL"]}   bearer token in {env["ALERTS_API_TOKEN_FILE"]}
  fake records API     {env["RECORDS_API_URL"]}   bearer token in {env["RECORDS_API_TOKEN_FILE"]}
  trigger secret       {env["ALERTS_TRIGGER_SECRET_FILE"]} (header X-Alerts-Trigger-Secret)
  SMTP (fake_smtp)     {env["SMTP_HOST"]}:{env["SMTP_PORT"]}   STARTTLS, CA {env["SMTP_CA_FILE"]}
                       user {smtp.USERNAME}, password in {smtp.PASSWORD_FILE}
                       mail lands in {env["SMTP_MAIL_DIR"]}/new
  Splunk HEC (fake)    {env["SPLUNK_HEC_URL"]}   CA {env["SPLUNK_HEC_CA_FILE"]}, events at /_events
  Environment for clients: source {paths.STACK_ENV}   (or: eval "$(make -s env)")"""
    )
    if deployed:
        print("\nTerraform outputs (terraform/environments/local):")
        print(json.dumps(terraform.outputs(), indent=2, sort_keys=True))


def down() -> None:
    for name, part in reversed(PARTS):
        print(f"==> {name}: {'stopped' if part.down() else 'was not running'}", flush=True)


# What `clean` removes: the servers' state (not the virtualenvs, logs or generated secrets).
STATE = ("ministack", "mariadb", "sshd", "sftp-root", "terraform", "build")


def clean() -> None:
    down()
    homes.remove_homes()
    for name in STATE:
        shutil.rmtree(paths.LOCAL / name, ignore_errors=True)


def status() -> int:
    rows = (
        ("fake API", fake_api.PID, fake_api.healthy()),
        ("recs API", fake_records_api.PID, fake_records_api.healthy()),
        ("ministack", ministack.PID, ministack.healthy()),
        ("MariaDB", mariadb.PID, pid_alive(mariadb.PID) is not None),
        ("sshd", sshd.PID, pid_alive(sshd.PID) is not None),
        ("SMTP", smtp.PID, smtp.healthy()),
        ("HEC", splunk_hec.PID, splunk_hec.healthy()),
    )
    for name, pid_file, ok in rows:
        print(f"{name:10} {'up' if ok else 'down':5} pid={pid_alive(pid_file) or '-'}")
    return 0 if all(ok for _, _, ok in rows) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser("up", help="start the local stack (and deploy the local Terraform root)")
    up_parser.add_argument("--no-deploy", action="store_true", help="start the services only")
    sub.add_parser("down", help="stop everything `up` started")
    sub.add_parser("clean", help="stop the stack and remove its state (datadir, keys, Terraform state)")
    sub.add_parser("status", help="say what runs")
    sub.add_parser("env", help="print `export` lines for the stack's endpoints and credentials")
    sub.add_parser("deploy", help="terraform apply the local root")
    sub.add_parser("sftp-keys", help="create the SFTP host/client keys and known_hosts (for docker-compose)")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            up(deploy=not args.no_deploy)
        elif args.command == "down":
            down()
        elif args.command == "clean":
            clean()
        elif args.command == "status":
            return status()
        elif args.command == "env":
            for key, value in stack_env().items():
                print(f"export {key}='{value}'")
        elif args.command == "deploy":
            terraform.apply()
        elif args.command == "sftp-keys":
            private.make_private(paths.LOCAL)
            sshd.ensure_keys()
            print(f"keys and known_hosts in {sshd.DIR}")
    except StackError as error:
        print(f"devstack: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
