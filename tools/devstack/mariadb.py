"""MariaDB with a throwaway datadir under .local/, on a loopback port."""

from __future__ import annotations

import getpass
import os
import secrets
import shutil
import subprocess
from pathlib import Path

from . import paths
from .proc import StackError, pid_alive, port_open, spawn, stop, wait_until

DIR = paths.LOCAL / "mariadb"
DATA = DIR / "data"
SOCKET = DIR / "mysqld.sock"
PID = DIR / "mariadbd.pid"
LOG = paths.LOGS / "mariadb.log"
PASSWORD_FILE = DIR / "password"
DATABASE = "lambda_pipelines"
USER = "lp"


def _binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if not found:
        raise StackError(f"{name} not found: run `make setup` (installs mariadb-server)")
    return found


def _os_user() -> str:
    # mariadbd refuses to run as root; as root we run it as the packaged `mysql` account.
    return "mysql" if os.geteuid() == 0 else getpass.getuser()


def password() -> str:
    if not PASSWORD_FILE.exists():
        DIR.mkdir(parents=True, exist_ok=True)
        PASSWORD_FILE.write_text(secrets.token_urlsafe(18))
        PASSWORD_FILE.chmod(0o600)
    return PASSWORD_FILE.read_text().strip()


def url(database: str = DATABASE) -> str:
    return f"mysql+pymysql://{USER}:{password()}@{paths.HOST}:{paths.MYSQL_PORT}/{database}"


def admin_sql(sql: str) -> str:
    """Run SQL as the datadir's admin account over the unix socket (no password involved)."""
    admin = "root" if os.geteuid() == 0 else getpass.getuser()
    result = subprocess.run(
        [_binary("mariadb"), "--no-defaults", f"--socket={SOCKET}", f"--user={admin}", "--batch", "-e", sql],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(f"mariadb admin SQL failed: {result.stderr.strip()}")
    return result.stdout


def _initialise() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(DIR, "mysql", "mysql")
        shutil.chown(DATA, "mysql", "mysql")
    result = subprocess.run(
        [
            _binary("mariadb-install-db"),
            "--no-defaults",
            f"--datadir={DATA}",
            f"--user={_os_user()}",
            "--auth-root-authentication-method=socket",
            "--skip-test-db",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        shutil.rmtree(DATA, ignore_errors=True)
        raise StackError(f"mariadb-install-db failed:\n{result.stdout}\n{result.stderr}")


def _provision() -> None:
    pw = password().replace("'", "''")
    admin_sql(
        f"CREATE DATABASE IF NOT EXISTS `{DATABASE}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;"
        f"CREATE USER IF NOT EXISTS '{USER}'@'127.0.0.1' IDENTIFIED BY '{pw}';"
        f"ALTER USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{pw}';"
        f"GRANT ALL PRIVILEGES ON `{DATABASE}`.* TO '{USER}'@'127.0.0.1';"
        # Tests create and drop throwaway databases named lp_test_*.
        f"GRANT ALL PRIVILEGES ON `lp\\_test\\_%`.* TO '{USER}'@'127.0.0.1';"
    )


def start() -> bool:
    """Start our MariaDB unless it is up; True if it was started now."""
    if pid_alive(PID) and port_open(paths.MYSQL_PORT):
        _provision()
        return False
    if port_open(paths.MYSQL_PORT):
        raise StackError(f"port {paths.MYSQL_PORT} is taken by another process; set LP_MYSQL_PORT")
    if not (DATA / "mysql").exists():
        _initialise()
    argv = [
        _binary("mariadbd"),
        "--no-defaults",
        f"--datadir={DATA}",
        f"--socket={SOCKET}",
        f"--pid-file={DIR / 'mariadbd.server.pid'}",
        f"--bind-address={paths.HOST}",
        f"--port={paths.MYSQL_PORT}",
        "--skip-name-resolve",
        f"--user={_os_user()}",
        "--innodb-buffer-pool-size=256M",
        "--innodb-flush-log-at-trx-commit=2",
        "--max-connections=300",
        "--character-set-server=utf8mb4",
        "--collation-server=utf8mb4_bin",
    ]
    spawn(argv, PID, LOG)
    wait_until(
        lambda: port_open(paths.MYSQL_PORT) and Path(SOCKET).exists(), "MariaDB", timeout=60, log_file=LOG
    )
    _provision()
    return True


def down() -> bool:
    return stop(PID, "MariaDB", timeout=60)
