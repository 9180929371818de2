"""Host key verification from OpenSSH ``known_hosts`` text: plain, hashed and wildcard entries, ``@revoked``.

An unknown host or a changed key is refused, never learnt.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

import paramiko


def fingerprint(blob: bytes) -> str:
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _glob(pattern: str, name: str) -> bool:
    # known_hosts patterns know only * and ?; fnmatch would also read [..] (as in "[host]:port").
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, name) is not None


def _host_matches(patterns: str, names: list[str]) -> bool:
    """OpenSSH semantics: any negated pattern that matches rules the line out; else any match."""
    matched = False
    for raw in patterns.split(","):
        negated = raw.startswith("!")
        pattern = raw[1:] if negated else raw
        if pattern.startswith("|1|"):
            hit = any(_hashed_matches(pattern, name) for name in names)
        else:
            hit = any(_glob(pattern.lower(), name) for name in names)
        if hit and negated:
            return False
        matched = matched or hit
    return matched


def _hashed_matches(pattern: str, name: str) -> bool:
    try:
        return paramiko.HostKeys.hash_host(name, pattern) == pattern
    except (ValueError, IndexError, TypeError):
        return False


@dataclass(frozen=True)
class KnownKeys:
    """The host keys known_hosts accepts and revokes for one host:port."""

    accepted: dict[bytes, str]  # key blob -> key type
    revoked: frozenset[bytes]


def known_keys(known_hosts: str, host: str, port: int) -> tuple[KnownKeys, list[str]]:
    """The keys ``known_hosts`` accepts and revokes for host:port, and the names that were looked up."""
    host = host.lower()  # as OpenSSH's client looks it up
    names = [f"[{host}]:{port}"] if port != 22 else [host, f"[{host}]:22"]
    accepted: dict[bytes, str] = {}
    revoked: set[bytes] = set()
    for line in known_hosts.splitlines():
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        marker = fields.pop(0) if fields[0].startswith("@") else None
        if len(fields) < 3 or marker not in (None, "@revoked"):
            continue  # malformed, or @cert-authority (certificates are not supported)
        patterns, key_type, key_b64 = fields[:3]
        if not _host_matches(patterns, names):
            continue
        try:
            blob = base64.b64decode(key_b64, validate=True)
        except ValueError:
            continue
        if marker == "@revoked":
            revoked.add(blob)
        else:
            accepted[blob] = key_type
    return KnownKeys(accepted, frozenset(revoked)), names


def host_key_algorithms(key_types: set[str], supported: tuple[str, ...]) -> list[str]:
    """Host key algorithms to offer, in paramiko's order, limited to key types we can verify."""
    wanted = []
    for algorithm in supported:
        key_type = "ssh-rsa" if algorithm in ("rsa-sha2-512", "rsa-sha2-256") else algorithm
        if key_type in key_types:
            wanted.append(algorithm)
    return wanted
