"""Remote file names that are safe on any SFTP server, derived from ids of any content."""

from __future__ import annotations

import hashlib
import re

MAX_NAME_LENGTH = 200
"""Longest name :func:`safe_remote_name` returns; leaves room for the temporary ``.part`` name (255)."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_DOTS = re.compile(r"\.{2,}")
_SUFFIX = re.compile(r"(?:\.[A-Za-z0-9_-]+)*")
_HASH_HEX = 16  # 64 bits of SHA-256
_LOOKS_HASHED = re.compile(rf"-[0-9a-f]{{{_HASH_HEX}}}\Z")


def safe_remote_name(alert_id: str, suffix: str = ".json") -> str:
    """A deterministic file name for ``alert_id`` that is safe on any SFTP server, plus ``suffix``.

    Keeps ``[A-Za-z0-9._-]`` and replaces anything else with ``_``; never starts with ``.`` or ``-``,
    never contains ``..`` and is at most :data:`MAX_NAME_LENGTH` characters. An id that is already
    safe keeps its exact spelling. When anything had to change, ``-<16 hex of SHA-256(id)>`` is
    appended, so two different ids never share a name: an id that itself ends like such a hash is
    hashed too, which keeps hashed and unhashed names apart.
    """
    if not isinstance(alert_id, str) or not alert_id:
        raise ValueError("alert_id must be a non-empty string")
    if len(suffix) > 32 or not _SUFFIX.fullmatch(suffix):
        raise ValueError(f"suffix must look like '.json' or '.json.gz', got {suffix!r}")
    stem = _UNSAFE.sub("_", alert_id)
    stem = _DOTS.sub(lambda match: "_" * len(match.group()), stem)
    if stem[0] in ".-":
        stem = "_" + stem[1:]
    if stem.endswith(".") and suffix.startswith("."):
        stem = stem[:-1] + "_"  # "a." + ".json" would spell ".."
    if stem == alert_id and len(stem) + len(suffix) <= MAX_NAME_LENGTH and not _LOOKS_HASHED.search(stem):
        return stem + suffix
    # surrogatepass: an id decoded from JSON may hold a lone surrogate; it still needs a stable hash.
    digest = hashlib.sha256(alert_id.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_HEX]
    tail = f"-{digest}{suffix}"
    return stem[: MAX_NAME_LENGTH - len(tail)] + tail


def check_file_name(name: str) -> None:
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise ValueError(f"not a plain file name: {name!r} (see safe_remote_name)")
