"""Where and how to connect: host, account, key and known host keys, timeouts."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SftpConfig:
    """Where and how to connect. ``private_key`` and ``known_hosts`` are the texts, not paths."""

    host: str
    port: int = 22
    username: str = ""
    private_key: str = field(default="", repr=False)
    """OpenSSH or PEM private key (Ed25519, ECDSA or RSA), unencrypted."""
    known_hosts: str = field(default="", repr=False)
    """OpenSSH known_hosts lines; a non-standard port is written ``[host]:port``."""
    connect_timeout: float = 5
    banner_timeout: float = 5
    auth_timeout: float = 5
    operation_timeout: float = 15
    """Longest wait for any single answer of the server (key exchange, channel, SFTP request)."""

    def __post_init__(self) -> None:
        problems = []
        if not self.host:
            problems.append("host is empty")
        if not 0 < self.port < 65536:
            problems.append(f"port {self.port} out of range")
        if not self.username:
            problems.append("username is empty")
        if not self.private_key.strip():
            problems.append("private_key is empty")
        for name in ("connect_timeout", "banner_timeout", "auth_timeout", "operation_timeout"):
            if not getattr(self, name) > 0:
                problems.append(f"{name} must be > 0")
        if problems:
            raise ValueError("invalid SftpConfig: " + "; ".join(problems))
