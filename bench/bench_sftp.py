"""SFTP upload throughput to the local sshd: our client against two common ways to use paramiko.

    .venv/bin/python bench/bench_sftp.py [--files 500] [--size 200000] [--naive-files 50] [--seed 7]

Each method uploads the same generated JSON-like payloads (seeded, ~200 KB each, like the alerts the
sftp-worker sends) into its own remote directory:

- ours: ``pipelines_shared.sftp.SftpSession.upload_atomic`` on one connection (temporary name, then
  rename into place);
- naive: a new ``paramiko.SSHClient`` connection per file and ``sftp.putfo`` (what a first version of a
  worker often does); it is slow, so it uploads only ``--naive-files`` files and its rate is per file;
- paramiko defaults: one ``SSHClient`` connection, ``open(path, "wb").write(data)`` per file, with no
  TCP_NODELAY and no pipelining. Each 32 KiB write waits for its reply, and its last few header bytes
  wait for Nagle's algorithm and the server's delayed ACK (~40 ms): about 6 files/s here, so it also
  uploads fewer files (``--default-files``) and its rate is per file;
- for reference, paramiko ``putfo`` on one connection (pipelined writes, still without TCP_NODELAY).

Every timing includes connecting. Afterwards every file's size is checked through a separate
connection and a sample is read back and compared byte for byte; then the directories are removed.
The last line is machine-readable:
``sftp_upload files_per_s=<ours> ratio_vs_naive=<x> ratio_vs_paramiko_default=<y>``.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import random
import stat
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
sys.path.insert(0, str(REPO / "shared"))

import paramiko  # noqa: E402

from devstack import stack  # noqa: E402
from pipelines_shared.log import configure_logging  # noqa: E402
from pipelines_shared.sftp import SftpConfig, SftpSession, safe_remote_name  # noqa: E402


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    user: str
    key_file: str
    known_hosts_file: str
    remote_dir: str

    def config(self) -> SftpConfig:
        return SftpConfig(
            host=self.host,
            port=self.port,
            username=self.user,
            private_key=Path(self.key_file).read_text(),
            known_hosts=Path(self.known_hosts_file).read_text(),
        )

    def ssh_client(self) -> paramiko.SSHClient:
        """A plain paramiko client as its documentation shows it (host keys checked, defaults kept)."""
        client = paramiko.SSHClient()
        client.load_host_keys(self.known_hosts_file)
        client.connect(
            self.host,
            port=self.port,
            username=self.user,
            key_filename=self.key_file,
            look_for_keys=False,
            allow_agent=False,
            timeout=10,
        )
        return client


@dataclass(frozen=True)
class Result:
    method: str
    files: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.files / self.seconds


def make_payloads(count: int, size: int, seed: int) -> list[tuple[str, bytes]]:
    """``count`` (file name, JSON document of exactly ``size`` bytes), the same for a given seed."""
    rng = random.Random(seed)
    payloads = []
    for number in range(count):
        alert = {
            "alert_id": f"alert-{seed}-{number:06d}",
            "source": rng.choice(["fraud", "aml", "limits", "sanctions"]),
            "score": round(rng.random(), 6),
            "amount": f"{rng.randrange(10**9) / 100:.2f}",
            "created_at": f"2026-11-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00Z",
            "evidence": "",
        }
        overhead = len(json.dumps(alert, separators=(",", ":")).encode())
        if size < overhead:
            raise SystemExit(f"--size must be at least {overhead} bytes")
        blob = base64.b64encode(rng.randbytes(size)).decode()[: size - overhead]
        alert["evidence"] = blob
        document = json.dumps(alert, separators=(",", ":")).encode()
        assert len(document) == size
        payloads.append((safe_remote_name(str(alert["alert_id"])), document))
    return payloads


def upload_ours(target: Target, directory: str, payloads: list[tuple[str, bytes]]) -> None:
    with SftpSession(target.config()) as sftp:
        for name, data in payloads:
            sftp.upload_atomic(directory, name, data)


def connect_ours(target: Target) -> float:
    """Seconds to open one SftpSession (TCP, key exchange, host key check, auth, SFTP channel)."""
    started = time.perf_counter()
    with SftpSession(target.config()):
        return time.perf_counter() - started


def upload_naive(target: Target, directory: str, payloads: list[tuple[str, bytes]]) -> None:
    for name, data in payloads:
        client = target.ssh_client()
        try:
            sftp = client.open_sftp()
            sftp.putfo(io.BytesIO(data), f"{directory}/{name}")
            sftp.close()
        finally:
            client.close()


def upload_putfo(target: Target, directory: str, payloads: list[tuple[str, bytes]]) -> None:
    client = target.ssh_client()
    try:
        sftp = client.open_sftp()
        for name, data in payloads:
            sftp.putfo(io.BytesIO(data), f"{directory}/{name}")
        sftp.close()
    finally:
        client.close()


def upload_paramiko_default(target: Target, directory: str, payloads: list[tuple[str, bytes]]) -> None:
    client = target.ssh_client()
    try:
        sftp = client.open_sftp()
        for name, data in payloads:
            with sftp.open(f"{directory}/{name}", "wb") as remote:
                remote.write(data)
        sftp.close()
    finally:
        client.close()


@dataclass(frozen=True)
class Method:
    key: str
    label: str
    upload: Callable[[Target, str, list[tuple[str, bytes]]], None]
    payloads: list[tuple[str, bytes]]
    rounds: int


def timed(target: Target, method: Method, directory: str) -> Result:
    started = time.perf_counter()
    method.upload(target, directory, method.payloads)
    result = Result(method.key, len(method.payloads), time.perf_counter() - started)
    print(f"  {method.label}: {result.files} files in {result.seconds:.2f} s", flush=True)
    return result


def verify(
    admin: paramiko.SFTPClient, directory: str, payloads: list[tuple[str, bytes]], sample: int
) -> None:
    """Every expected file with its exact size, nothing else (no leftover temporary files)."""
    found = {entry.filename: entry for entry in admin.listdir_attr(directory)}
    expected = {name: len(data) for name, data in payloads}
    sizes = {name: entry.st_size for name, entry in found.items()}
    if sizes != expected:
        missing = sorted(set(expected) - set(sizes))[:5]
        extra = sorted(set(sizes) - set(expected))[:5]
        wrong = sorted(name for name in expected if name in sizes and sizes[name] != expected[name])[:5]
        raise SystemExit(f"{directory}: missing {missing}, unexpected {extra}, wrong size {wrong}")
    for name, data in random.Random(0).sample(payloads, min(sample, len(payloads))):
        with admin.open(f"{directory}/{name}", "rb") as remote:
            remote.prefetch(len(data))
            if remote.read() != data:
                raise SystemExit(f"{directory}/{name}: content differs from what was uploaded")


def remove_tree(admin: paramiko.SFTPClient, directory: str) -> None:
    try:
        entries = admin.listdir_attr(directory)
    except FileNotFoundError:
        return
    for entry in entries:
        path = f"{directory}/{entry.filename}"
        if stat.S_ISDIR(entry.st_mode or 0):
            remove_tree(admin, path)
        else:
            admin.remove(path)
    admin.rmdir(directory)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=500, help="files for ours and putfo")
    parser.add_argument("--default-files", type=int, default=100, help="files for paramiko defaults")
    parser.add_argument("--size", type=int, default=200_000, help="bytes per file")
    parser.add_argument(
        "--naive-files", type=int, default=50, help="files for the connection-per-file method"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds of ours and putfo (median kept)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    configure_logging(level="WARNING")  # keep the table readable

    started_parts = stack.start_all()
    try:
        env = stack.stack_env()
        target = Target(
            host=env["SFTP_HOST"],
            port=int(env["SFTP_PORT"]),
            user=env["SFTP_USER"],
            key_file=env["SFTP_KEY_FILE"],
            known_hosts_file=env["SFTP_KNOWN_HOSTS_FILE"],
            remote_dir=env["SFTP_REMOTE_DIR"],
        )
        return run(target, args)
    finally:
        stack.stop(started_parts)


def run(target: Target, args: argparse.Namespace) -> int:
    payloads = make_payloads(args.files, args.size, args.seed)
    methods = [
        Method("ours", "ours (1 conn, atomic)", upload_ours, payloads, args.rounds),
        Method("putfo", "paramiko putfo (1 conn)", upload_putfo, payloads, args.rounds),
        Method(
            "paramiko-default",
            "paramiko defaults (1 conn)",
            upload_paramiko_default,
            payloads[: args.default_files],
            1,
        ),
        Method("naive", "naive (1 conn per file)", upload_naive, payloads[: args.naive_files], 1),
    ]
    print(
        f"SFTP upload to {target.host}:{target.port}, {args.size} bytes per file; "
        f"CPUs: {os.cpu_count()}, load: {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    base = f"{target.remote_dir}/bench-sftp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    admin_client = target.ssh_client()
    admin = admin_client.open_sftp()
    results: dict[str, Result] = {}
    try:
        admin.mkdir(base)
        for method in methods:
            rounds = []
            for number in range(1, method.rounds + 1):
                directory = f"{base}/{method.key}-{number}"
                admin.mkdir(directory)
                rounds.append(timed(target, method, directory))
                verify(admin, directory, method.payloads, sample=10)
                remove_tree(admin, directory)
            rounds.sort(key=lambda result: result.seconds)
            results[method.key] = rounds[(len(rounds) - 1) // 2]  # the median round (lower middle)
        connect_seconds = statistics.median(connect_ours(target) for _ in range(5))
    finally:
        remove_tree(admin, base)
        admin.close()
        admin_client.close()

    ours = results["ours"].per_second
    print()
    print(f"{'method':<28} {'files':>6} {'seconds':>8} {'files/s':>8} {'ratio':>8}")
    for method in methods:
        result = results[method.key]
        rounds = f"  (median of {method.rounds} rounds)" if method.rounds > 1 else ""
        print(
            f"{method.label:<28} {result.files:>6} {result.seconds:>8.2f} {result.per_second:>8.1f} "
            f"{ours / result.per_second:>7.2f}x{rounds}"
        )
    print("ratio = ours files/s / method files/s; times include connecting")
    uploads_alone = results["ours"].files / (results["ours"].seconds - connect_seconds)
    print(f"ours connects in {connect_seconds * 1000:.0f} ms; its uploads alone: {uploads_alone:.1f} files/s")
    print("every file's size checked, a sample compared byte for byte; remote directories removed")
    print(
        f"sftp_upload files_per_s={ours:.1f} "
        f"ratio_vs_naive={ours / results['naive'].per_second:.1f} "
        f"ratio_vs_paramiko_default={ours / results['paramiko-default'].per_second:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
