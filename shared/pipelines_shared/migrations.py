"""Forward-only SQL migrations: numbered ``*.sql`` files in a package, applied once each, in order.

The small equivalent of Alembic that a Lambda can run at deploy time without extra dependencies:

    applied = migrate(engine, "alerts_to_sftp.migrations")

* Applied files are recorded in ``schema_migrations`` (name, sha256, applied_at). Editing a file that
  has been applied is refused: write a new migration instead.
* Concurrent runners are serialised with a MySQL named lock (``GET_LOCK``), so two deploys racing
  each other apply every file once.
* MySQL DDL is not transactional: keep one DDL statement per migration where it matters, and write
  statements that can be re-run (``IF NOT EXISTS``) so a run that died half-way can be resumed.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from datetime import UTC, datetime
from importlib import resources

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipelines_shared.clock import Clock, utc_now
from pipelines_shared.db import named_lock
from pipelines_shared.log import get_logger

logger = get_logger(__name__)

_NAME = re.compile(r"^\d{4}_[a-z0-9_]+\.sql$")
_metadata = sa.MetaData()
schema_migrations = sa.Table(
    "schema_migrations",
    _metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("applied_at", sa.DateTime, nullable=False),
)


class MigrationError(RuntimeError):
    """A migration file is malformed, was edited after being applied, or failed."""


def migration_files(package: str) -> list[tuple[str, str]]:
    """(name, SQL text) of every migration in ``package``, in order."""
    files = []
    for entry in resources.files(package).iterdir():
        if entry.name.endswith(".sql"):
            if not _NAME.match(entry.name):
                raise MigrationError(f"{entry.name}: migration names look like 0001_create_things.sql")
            files.append((entry.name, entry.read_text(encoding="utf-8")))
    return sorted(files)


def statements(sql: str) -> list[str]:
    """Split a migration into statements on semicolons at line ends (no procedures in migrations)."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [part.strip() for part in re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE) if part.strip()]


def migrate(engine: Engine, package: str, *, lock_timeout: int = 60, clock: Clock = utc_now) -> list[str]:
    """Apply the package's pending migrations; return the names applied now."""
    applied_now: list[str] = []
    with engine.connect() as connection:
        if connection.dialect.name in ("mysql", "mariadb"):
            lock: contextlib.AbstractContextManager[bool] = named_lock(
                connection, f"migrations:{package}", lock_timeout
            )
        else:
            lock = contextlib.nullcontext(True)
        with lock as taken:
            if not taken:
                raise MigrationError(f"another migration run holds the lock of {package}")
            _metadata.create_all(connection, checkfirst=True)
            connection.commit()
            done: dict[str, str] = dict(
                connection.execute(sa.select(schema_migrations.c.name, schema_migrations.c.sha256)).all()
            )
            for name, sql in migration_files(package):
                digest = hashlib.sha256(sql.encode()).hexdigest()
                if name in done:
                    if done[name] != digest:
                        raise MigrationError(f"{name} was changed after it was applied: add a new migration")
                    continue
                _apply(connection, name, sql, digest, clock())
                applied_now.append(name)
    return applied_now


def _apply(connection: Connection, name: str, sql: str, digest: str, applied_at: datetime) -> None:
    logger.info("applying migration", migration=name)
    try:
        for statement in statements(sql):
            connection.execute(sa.text(statement))
        connection.execute(
            schema_migrations.insert().values(
                name=name, sha256=digest, applied_at=applied_at.astimezone(UTC).replace(tzinfo=None)
            )
        )
        connection.commit()
    except Exception as error:
        connection.rollback()
        raise MigrationError(f"{name} failed: {error}") from error
