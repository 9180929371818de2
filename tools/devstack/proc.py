"""Start, probe and stop the stack's daemons by PID file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import private


class StackError(RuntimeError):
    """A part of the local stack could not be started or is unhealthy."""


def pid_alive(pid_file: Path) -> int | None:
    """The PID in pid_file if that process is alive, else None."""
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    return pid


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback only)
            return bool(response.status == 200)
    except OSError:
        return False


def wait_until(check: Callable[[], bool], what: str, timeout: float, log_file: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    tail = ""
    if log_file and log_file.exists():
        tail = (
            "\n--- "
            + str(log_file)
            + " ---\n"
            + "\n".join(log_file.read_text(errors="replace").splitlines()[-20:])
        )
    raise StackError(f"{what} not ready after {timeout:.0f}s{tail}")


def start_tool(
    module: str,
    arguments: Sequence[str],
    *,
    port: int,
    port_variable: str,
    pid_file: Path,
    log_file: Path,
    healthy: Callable[[], bool],
    what: str,
) -> bool:
    """Start ``python -m <module> --port <port> <arguments>`` from tools/ (a fake server of the stack)
    unless it runs and is healthy already; False when it was running."""
    if pid_alive(pid_file) and healthy():
        return False
    if port_open(port):
        raise StackError(f"port {port} is taken by another process; set {port_variable}")
    argv = [sys.executable, "-m", module, "--port", str(port), *arguments]
    spawn(argv, pid_file, log_file, env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1])))
    wait_until(healthy, what, timeout=20, log_file=log_file)
    return True


def spawn(
    argv: Sequence[str],
    pid_file: Path,
    log_file: Path,
    env: dict[str, str] | None = None,
    popen_kwargs: dict[str, Any] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start argv detached from our process group, logging to log_file; record its PID.

    It runs under umask 077 (what it writes is its owner's alone, see private.py) and, with
    ``popen_kwargs`` from ``homes.Account.popen_kwargs()``, as another account."""
    log = private.open_private(log_file)  # ours; the server only inherits the descriptor
    try:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
            umask=private.UMASK,
            **(popen_kwargs or {}),
        )
    finally:
        os.close(log)
    private.write_private(pid_file, f"{process.pid}\n")
    return process.pid


def _exited(pid: int) -> bool:
    # A daemon started by this very process (the pytest fixture) stays a zombie until reaped,
    # and kill(pid, 0) succeeds on zombies.
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return True
    except ChildProcessError:
        pass  # not our child: its parent (init, once `make up` has exited) reaps it, in its own time
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # exited, not yet reaped: done all the same
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True
    except OSError:
        return False


def stop(pid_file: Path, name: str, timeout: float = 15) -> bool:
    """SIGTERM the process of pid_file (then SIGKILL); True if something was running."""
    pid = pid_alive(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _exited(pid):
            break
        time.sleep(0.1)
    else:
        print(f"  {name} (pid {pid}) did not stop on SIGTERM; killing it")
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True
