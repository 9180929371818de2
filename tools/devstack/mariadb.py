"""MariaDB with a throwaway datadir, on a loopback port.

Our files (the generated password, the PID we stop) are in .local/mariadb/. The server's own
(datadir, socket, its pid file, temporary files) are in its home: the same folder when a normal user
runs the stack; as root, where the ``mysql`` account can reach them (homes.py), since mariadbd
refuses to run as root.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

from . import homes, paths, private
from .proc import StackError, pid_alive, port_open, spawn, stop, wait_until

DIR = paths.LOCAL / "mariadb"
PID = DIR / "mariadbd.pid"
LOG = paths.LOGS / "mariadb.log"
PASSWORD_FILE = DIR / "password"
DATABASE = "lambda_pipelines"
USER = "lp"
SERVICE_ACCOUNT = "mysql"  # Debian's mariadb-server account, which mariadbd runs under when we are root


def _binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if not found:
        raise StackError(f"{name} not found: run `make setup` (installs mariadb-server)")
    return found


def account() -> homes.Account:
    return homes.server_account(SERVICE_ACCOUNT)


def home() -> Path:
    """The server's folder: datadir, socket, pid file and temporary files."""
    return homes.server_home("mariadb", account())


def socket_path() -> Path:
    return home() / "mysqld.sock"


def password() -> str:
    if not PASSWORD_FILE.exists():
        private.write_private(PASSWORD_FILE, secrets.token_urlsafe(18))
    return PASSWORD_FILE.read_text().strip()


def url(database: str = DATABASE) -> str:
    return f"mysql+pymysql://{USER}:{password()}@{paths.HOST}:{paths.MYSQL_PORT}/{database}"


def admin_sql(sql: str) -> str:
    """Run SQL as the datadir's admin account over the unix socket (no password involved): root, or
    the normal user who created the datadir (unix-socket authentication, by uid)."""
    socket = socket_path()
    if not socket.exists():
        raise StackError(
            f"no MariaDB socket at {socket}: a MariaDB of an older checkout layout may be running; "
            "run `make down` and start again"
        )
    result = subprocess.run(
        [
            _binary("mariadb"),
            "--no-defaults",
            f"--socket={socket}",
            f"--user={homes.invoking_user().name}",
            "--batch",
            "-e",
            sql,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(f"mariadb admin SQL failed: {result.stderr.strip()}")
    return result.stdout


def _forget_old_layout() -> None:
    """Before the server had a home of its own, root ran it on .local/mariadb/ (owned by mysql):
    that datadir is throwaway and unreachable now, and the folder must be ours again."""
    if os.geteuid() != 0 or account().is_invoking_user:
        return
    for leftover in ("data", "tmp"):
        shutil.rmtree(DIR / leftover, ignore_errors=True)
    for leftover in ("mysqld.sock", "mariadbd.server.pid"):
        (DIR / leftover).unlink(missing_ok=True)
    if DIR.exists() and DIR.stat().st_uid != 0:
        os.chown(DIR, 0, 0)


def _initialise(server_home: Path, server: homes.Account) -> None:
    data = server_home / "data"
    result = subprocess.run(
        [
            _binary("mariadb-install-db"),
            "--no-defaults",
            f"--datadir={data}",
            f"--user={server.name}",
            "--auth-root-authentication-method=socket",
            "--skip-test-db",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=server_home,
        env=homes.server_environment(server_home, server),
        umask=private.UMASK,
        **server.popen_kwargs(),
    )
    if result.returncode != 0:
        shutil.rmtree(data, ignore_errors=True)
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
    _forget_old_layout()
    private.make_dir(DIR)
    server = account()
    server_home = home()
    socket = server_home / "mysqld.sock"
    if not (server_home / "data" / "mysql").exists():
        _initialise(server_home, server)
    argv = [
        _binary("mariadbd"),
        "--no-defaults",
        f"--datadir={server_home / 'data'}",
        f"--socket={socket}",
        f"--pid-file={server_home / 'mariadbd.server.pid'}",
        f"--tmpdir={server_home / 'tmp'}",
        f"--bind-address={paths.HOST}",
        f"--port={paths.MYSQL_PORT}",
        "--skip-name-resolve",
        "--innodb-buffer-pool-size=256M",
        "--innodb-flush-log-at-trx-commit=2",
        "--max-connections=300",
        "--character-set-server=utf8mb4",
        "--collation-server=utf8mb4_bin",
    ]
    # mariadbd sets its own file modes from these (default 0660, group mysql): ours alone instead.
    env = homes.server_environment(server_home, server) | {"UMASK": "0600", "UMASK_DIR": "0700"}
    spawn(
        argv,
        PID,
        LOG,
        env=env,
        popen_kwargs=server.popen_kwargs(),
        cwd=server_home,
    )
    wait_until(lambda: port_open(paths.MYSQL_PORT) and socket.exists(), "MariaDB", timeout=60, log_file=LOG)
    _provision()
    return True


def down() -> bool:
    return stop(PID, "MariaDB", timeout=60)
