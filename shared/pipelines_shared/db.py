"""SQLAlchemy engines for MySQL from a Secrets Manager secret (never from plain settings).

The secret is JSON, either ``{"url": "mysql+pymysql://user:pw@host:3306/db"}`` or the shape RDS
writes for managed credentials: ``{"host", "port", "username", "password", "dbname"}``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from pipelines_shared.settings import get_secret_json


def url_from_secret(secret: dict[str, Any]) -> Any:
    import sqlalchemy as sa

    if "url" in secret:
        return sa.make_url(secret["url"])
    return sa.URL.create(
        "mysql+pymysql",
        username=secret["username"],
        password=secret["password"],
        host=secret["host"],
        port=int(secret.get("port", 3306)),
        database=secret.get("dbname") or secret.get("database"),
    )


def engine_from_secret(secret_id: str, *, pool_size: int = 4, connect_timeout: int = 5) -> Any:
    """An engine for the database the secret describes; pre-pings so a Lambda's stale pool recovers."""
    import sqlalchemy as sa

    return sa.create_engine(
        url_from_secret(get_secret_json(secret_id)),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=300,
        connect_args={"connect_timeout": connect_timeout, "read_timeout": 30, "write_timeout": 30},
    )


@contextlib.contextmanager
def named_lock(connection: Any, name: str, timeout: float = 0) -> Iterator[bool]:
    """Hold MySQL's named lock ``name`` (GET_LOCK) on ``connection``; the context's value says whether it
    was taken within ``timeout`` seconds. Released on exit, or by MySQL if the connection dies."""
    import sqlalchemy as sa

    name = name[:64]  # MySQL's limit for lock names
    taken = connection.execute(sa.text("SELECT GET_LOCK(:n, :t)"), {"n": name, "t": timeout}).scalar() == 1
    try:
        yield taken
    finally:
        if taken:
            connection.execute(sa.text("SELECT RELEASE_LOCK(:n)"), {"n": name})
