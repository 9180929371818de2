"""Every server of the local stack starts from a checkout in a folder only its owner may enter (a clone
under /root, 0700 on Debian, or in a `mktemp -d` folder), run as root and as a normal user.

Each case copies the repo into a fresh 0700 folder, starts the four servers from the copy with
``python -m devstack up --no-deploy`` on free ports of its own (no build, no Terraform), uses each as
a client does (SQL over TCP, an SFTP upload, a Lambda invoke and a Glue Python-shell run on
ministack, an authorised API call), then ``devstack clean``: no process of the copy may be left, and
nothing it made outside the copy. Run as root, the normal-user case runs as ``daemon``, an existing
unprivileged account; run as a normal user, the suite's own user is that case.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import paramiko
import pytest
import sqlalchemy as sa

from devstack import paths
from devstack.stack import PORT_VARIABLES

pytestmark = [pytest.mark.integration, pytest.mark.own_stack]

REPO = Path(__file__).resolve().parents[2]
NOT_COPIED = (".git", ".local", ".venv", "build", "__pycache__", "*.pyc", ".terraform", "*_cache", "*.so")
CASES = ["root", "unprivileged account"] if os.geteuid() == 0 else ["normal user"]
# An existing account with no rights and no files (Debian's base-passwd has it everywhere). Not `nobody`:
# nss-systemd hands an sshd that is not root a locked shadow entry for it ("!*"), and sshd without PAM
# refuses a locked account even a key login.
UNPRIVILEGED = "daemon"


@dataclass(frozen=True)
class Checkout:
    parent: Path  # the private folder (0700) the repo is copied into
    repo: Path
    account: pwd.struct_passwd
    python: Path  # an interpreter the account can run, with the stdlib only
    env: dict[str, str]

    @property
    def local(self) -> Path:
        return self.repo / ".local"

    def devstack(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        as_account = {}
        if self.account.pw_uid != os.geteuid():
            as_account = {"user": self.account.pw_uid, "group": self.account.pw_gid, "extra_groups": []}
        return subprocess.run(
            [str(self.python), "-m", "devstack", *args],
            cwd=self.repo / "tools",
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **as_account,
        )


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


STACK_SERVER_PACKAGES = ("aiosmtpd", "atpublic", "attrs", "cryptography", "cffi", "pycparser")


def _own_python(dest: Path) -> tuple[Path, dict[str, str]]:
    """A copy of our Python for an account that cannot reach ours: this image keeps Python 3.12
    under /root, which no other account may enter (a normal user's machine has one of its own)."""
    base, version = Path(sys.base_prefix), f"python{sys.version_info.major}.{sys.version_info.minor}"
    (dest / "bin").mkdir(parents=True)
    (dest / "lib").mkdir()
    shutil.copy2(base / "bin" / version, dest / "bin" / version)
    for library in (base / "lib").glob("libpython*.so*"):
        shutil.copy2(library, dest / "lib" / library.name, follow_symlinks=False)
    shutil.copytree(
        base / "lib" / version,
        dest / "lib" / version,
        ignore=shutil.ignore_patterns(
            "test", "site-packages", "config-*", "idlelib", "tkinter", "ensurepip", "*.opt-?.pyc"
        ),
    )
    # What the stack's own servers import beyond the standard library (fake_smtp: aiosmtpd; the HEC's
    # TLS certificates: cryptography), as a user's virtualenv has them from `make setup`.
    site = dest / "lib" / version / "site-packages"
    for name in STACK_SERVER_PACKAGES:
        for file in importlib.metadata.distribution(name).files or ():
            source = Path(str(file.locate()))
            if source.is_file() and not str(file).startswith(".."):  # not its scripts in bin/
                (site / file).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, site / file)
    # Its RUNPATH names the original's lib/; the loader tries LD_LIBRARY_PATH first.
    return dest / "bin" / version, {"LD_LIBRARY_PATH": str(dest / "lib")}


def _own_ministack_venv(python: Path, venv: Path) -> None:
    """ministack's virtualenv rebuilt on that copy: its packages copied (pip and pyarrow, which
    neither ministack nor this test's Glue script imports, left out)."""
    subprocess.run([str(python), "-m", "venv", "--without-pip", str(venv)], check=True)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    source = paths.MINISTACK_VENV.resolve() / "lib" / version / "site-packages"
    shutil.copytree(
        source,
        venv / "lib" / version / "site-packages",
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("pip", "pip-*", "pyarrow", "pyarrow-*"),
    )


def _chown_tree(top: Path, uid: int, gid: int) -> None:
    os.lchown(top, uid, gid)
    for folder, dirs, files in os.walk(top):
        for name in dirs + files:
            os.lchown(os.path.join(folder, name), uid, gid)


def _processes_using(*roots: Path) -> dict[int, str]:
    """Live processes whose command line, working directory or environment names one of ``roots``."""
    needles = [str(root).encode() for root in roots]
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue  # exited, waiting for its parent to reap it
            cmdline = (entry / "cmdline").read_bytes()
            seen = cmdline + os.readlink(entry / "cwd").encode() + (entry / "environ").read_bytes()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if any(needle in seen for needle in needles):
            found[int(entry.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace")[:200]
    return found


def _uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid in /proc/{pid}/status")


@pytest.fixture(params=CASES)
def checkout(request: pytest.FixtureRequest) -> Iterator[Checkout]:
    """The repo copied into a fresh 0700 folder (``mktemp -d``) owned by the case's account."""
    unprivileged = request.param == "unprivileged account"
    account = pwd.getpwnam(UNPRIVILEGED) if unprivileged else pwd.getpwuid(os.geteuid())
    parent = Path(tempfile.mkdtemp(prefix="lp-private-"))
    repo = parent / "checkout"
    shutil.copytree(REPO, repo, symlinks=True, ignore=shutil.ignore_patterns(*NOT_COPIED))
    (repo / ".local").mkdir()
    extra_env: dict[str, str] = {}
    if account.pw_uid == os.geteuid():
        python = Path(sys.executable)
        (repo / ".local" / "venv-ministack").symlink_to(paths.MINISTACK_VENV.resolve())
    else:
        python, extra_env = _own_python(parent / "python")
        _own_ministack_venv(python, repo / ".local" / "venv-ministack")
    home = parent / "home"
    home.mkdir()
    _chown_tree(parent, account.pw_uid, account.pw_gid)
    ports = dict(zip(PORT_VARIABLES, _free_ports(len(PORT_VARIABLES)), strict=True))
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "HOME": str(home),
        "USER": account.pw_name,
        "LOGNAME": account.pw_name,
        "LANG": "C.UTF-8",
        "LP_ALERTS_PER_STATUS": "2",
        **{key: str(port) for key, port in ports.items()},
        **extra_env,
    }
    made = Checkout(parent=parent, repo=repo, account=account, python=python, env=env)
    server_homes = repo / ".local" / "server-homes"
    try:
        yield made
    finally:
        outside = Path(os.readlink(server_homes)) if server_homes.is_symlink() else None
        made.devstack("clean", timeout=180)  # after a failure; harmless after the test's own
        for pid in _processes_using(parent, *([outside] if outside else [])):
            os.kill(pid, signal.SIGKILL)  # a process of this copy that clean left running: ours
        if outside and outside.name.startswith("lambda-pipelines-") and outside.parent == Path("/var/tmp"):
            shutil.rmtree(outside, ignore_errors=True)
        shutil.rmtree(parent, ignore_errors=True)


def _stack_env(local: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in (local / "stack.env").read_text().splitlines() if line)


def _use_mariadb(stack: dict[str, str]) -> None:
    engine = sa.create_engine(stack["MYSQL_URL"])
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE probe (id INT PRIMARY KEY, v VARCHAR(10))"))
            connection.execute(sa.text("INSERT INTO probe VALUES (1, 'kept')"))
            assert connection.execute(sa.text("SELECT v FROM probe")).scalar_one() == "kept"
    finally:
        engine.dispose()


def _use_sftp(stack: dict[str, str]) -> None:
    client = paramiko.SSHClient()
    client.load_host_keys(stack["SFTP_KNOWN_HOSTS_FILE"])
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        stack["SFTP_HOST"],
        port=int(stack["SFTP_PORT"]),
        username=stack["SFTP_USER"],
        key_filename=stack["SFTP_KEY_FILE"],
        look_for_keys=False,
        allow_agent=False,
        timeout=10,
        banner_timeout=10,
        auth_timeout=10,
    )
    try:
        with client.open_sftp() as sftp, sftp.open(f"{stack['SFTP_REMOTE_DIR']}/probe.json", "wb") as remote:
            remote.write(b'{"ok": true}')
    finally:
        client.close()
    assert (Path(stack["SFTP_LOCAL_DIR"]) / "probe.json").read_bytes() == b'{"ok": true}'


def _use_fake_api(stack: dict[str, str]) -> None:
    token = Path(stack["ALERTS_API_TOKEN_FILE"]).read_text().strip()
    request = urllib.request.Request(  # noqa: S310 (loopback http)
        f"{stack['ALERTS_API_URL']}/alerts?status=1&page_size=1", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback http)
        assert response.status == 200
        assert len(json.load(response)["alerts"]) == 1


LAMBDA = b"import os\ndef handler(event, context):\n    return {'uid': os.getuid(), 'cwd': os.getcwd()}\n"
GLUE_SCRIPT = b"import tempfile\nwith tempfile.TemporaryFile() as f:\n    f.write(b'x')\n"


def _use_ministack(stack: dict[str, str]) -> dict[str, object]:
    """A Lambda invoked and a Glue Python-shell job run: both are processes ministack starts from
    files it unpacks under the copy's .local/."""
    clients = {
        name: boto3.client(
            name,
            endpoint_url=stack["AWS_ENDPOINT_URL"],
            region_name=stack["AWS_DEFAULT_REGION"],
            aws_access_key_id=stack["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=stack["AWS_SECRET_ACCESS_KEY"],
        )
        for name in ("lambda", "s3", "glue")
    }
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("probe.py", LAMBDA)
    clients["lambda"].create_function(
        FunctionName="private-checkout-probe",
        Runtime="python3.12",
        Role="arn:aws:iam::000000000000:role/probe",
        Handler="probe.handler",
        Code={"ZipFile": code.getvalue()},
    )
    answer = clients["lambda"].invoke(FunctionName="private-checkout-probe", Payload=b"{}")
    assert answer["StatusCode"] == 200
    assert "FunctionError" not in answer, answer["Payload"].read()
    result = json.load(answer["Payload"])

    bucket = f"probe-{uuid.uuid4().hex[:8]}"
    clients["s3"].create_bucket(Bucket=bucket)
    clients["s3"].put_object(Bucket=bucket, Key="job.py", Body=GLUE_SCRIPT)
    clients["glue"].create_job(
        Name="private-checkout-probe",
        Role="arn:aws:iam::000000000000:role/probe",
        Command={"Name": "pythonshell", "PythonVersion": "3.9", "ScriptLocation": f"s3://{bucket}/job.py"},
        MaxCapacity=0.0625,
        Timeout=60,
    )
    run_id = clients["glue"].start_job_run(JobName="private-checkout-probe")["JobRunId"]
    deadline = time.monotonic() + 60
    while True:
        run = clients["glue"].get_job_run(JobName="private-checkout-probe", RunId=run_id)["JobRun"]
        if run["JobRunState"] not in {"STARTING", "RUNNING", "WAITING", "STOPPING"}:
            break
        assert time.monotonic() < deadline, f"Glue job still {run['JobRunState']}"
        time.sleep(0.3)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    return result


def test_every_server_starts_from_a_checkout_in_a_private_folder(checkout: Checkout):
    assert stat.S_IMODE(checkout.parent.stat().st_mode) == 0o700  # as `mktemp -d` makes it

    up = checkout.devstack("up", "--no-deploy", timeout=300)
    assert up.returncode == 0, f"devstack up failed:\n{up.stdout}\n{up.stderr}"
    stack = _stack_env(checkout.local)
    pids = {
        part: int((checkout.local / part / f"{name}.pid").read_text())
        for part, name in (
            ("ministack", "ministack"),
            ("mariadb", "mariadbd"),
            ("sshd", "sshd"),
            ("fake-alerts-api", "fake-alerts-api"),
        )
    }
    server_homes = checkout.local / "server-homes"
    outside = Path(os.readlink(server_homes)) if server_homes.is_symlink() else None

    _use_mariadb(stack)
    _use_sftp(stack)
    _use_fake_api(stack)
    lambda_result = _use_ministack(stack)

    # Each server runs as the invoking account, except MariaDB under root, which runs as `mysql`
    # (it refuses root) with its files outside the checkout, where that account can reach them.
    uid = checkout.account.pw_uid
    expected = dict.fromkeys(pids, uid)
    if uid == 0:
        expected["mariadb"] = pwd.getpwnam("mysql").pw_uid
        assert outside is not None
        assert outside.parent == Path("/var/tmp")
        assert stat.S_IMODE(outside.stat().st_mode) == 0o711
        assert (outside / "mariadb").stat().st_uid == expected["mariadb"]
        assert stat.S_IMODE((outside / "mariadb").stat().st_mode) == 0o700
    else:
        assert outside is None  # a normal user's servers keep everything under .local/
    assert {part: _uid_of(pid) for part, pid in pids.items()} == expected
    assert lambda_result["uid"] == uid
    assert str(lambda_result["cwd"]).startswith(str(checkout.local / "ministack" / "tmp"))
    # Nothing was opened up to make that work.
    assert stat.S_IMODE(checkout.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(checkout.local.stat().st_mode) == 0o700

    clean = checkout.devstack("clean", timeout=180)
    assert clean.returncode == 0, f"devstack clean failed:\n{clean.stdout}\n{clean.stderr}"
    roots = [checkout.parent, *([outside] if outside else [])]
    deadline = time.monotonic() + 10
    while (left := _processes_using(*roots)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == {}, f"processes left behind: {left}"
    for name in PORT_VARIABLES:
        port = checkout.env[name]
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", int(port))) != 0, f"port {port} still open"
    if outside:
        assert not outside.exists(), f"{outside} left behind"
        assert not server_homes.is_symlink()
