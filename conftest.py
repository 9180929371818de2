"""Session fixtures shared by every test: offline AWS for unit tests, the local stack for the rest.

Tests marked ``integration`` or ``e2e`` get the local stack: if nothing is running, the session
starts ministack, MariaDB and sshd (and stops what it started at the end; LP_KEEP_STACK=1 keeps
them). With LP_STACK=external nothing is started and the endpoints come from the environment
(AWS_ENDPOINT_URL, MYSQL_URL, SFTP_*), e.g. LocalStack and MySQL from docker-compose.
A stack that cannot start is an error, never a skip. Tests also marked ``own_stack`` start servers of
their own and do not need the session's.
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent

# As at the root of a zip: each pipeline's core package (services/<pipeline>/<core>/), each service's
# package (services/<pipeline>/<service>/<package>/), and the pipeline's test helpers (its tests/ folder).
for _pipeline in sorted((REPO / "services").glob("*/")):
    sys.path.insert(0, str(_pipeline))
    if (_pipeline / "tests").is_dir():
        sys.path.insert(0, str(_pipeline / "tests"))
    for _service in sorted(_pipeline.glob("*/requirements.txt")):
        sys.path.insert(0, str(_service.parent))

# Taken before any fixture edits os.environ: with LP_STACK=external this is where the stack is.
_ENVIRONMENT_AT_START = dict(os.environ)
STACK_KEYS = ("AWS_ENDPOINT_URL", "MYSQL_URL", "SFTP_HOST", "SFTP_PORT", "SFTP_USER", "SFTP_KEY_FILE")


def _needs_stack(item: pytest.Item) -> bool:
    if item.get_closest_marker("own_stack") is not None:
        return False
    return item.get_closest_marker("integration") is not None or item.get_closest_marker("e2e") is not None


@pytest.fixture(scope="session")
def local_stack() -> Iterator[dict[str, str]]:
    """Environment variables that reach the running local stack."""
    if os.environ.get("LP_STACK") == "external":
        missing = [key for key in STACK_KEYS if not _ENVIRONMENT_AT_START.get(key)]
        if missing:
            pytest.fail(f"LP_STACK=external but {', '.join(missing)} not set", pytrace=False)
        prefixes = ("AWS_", "MYSQL_", "SFTP_")
        yield {key: value for key, value in _ENVIRONMENT_AT_START.items() if key.startswith(prefixes)}
        return
    from devstack import stack
    from devstack.proc import StackError

    try:
        started = stack.start_all()
    except StackError as error:
        pytest.fail(f"local stack could not start: {error}", pytrace=False)
    yield stack.stack_env()
    if os.environ.get("LP_KEEP_STACK") != "1":
        stack.stop(started)


@pytest.fixture(autouse=True)
def _logging_configuration() -> Iterator[None]:
    """Each test gets the logging configuration the one before it had: a test (or a CLI it drives) that
    configures logging onto a stream pytest captures would leave every later log line writing to a
    closed file."""
    import structlog

    before = structlog.get_config()
    yield
    structlog.configure(**before)


@pytest.fixture(autouse=True)
def _aws_environment(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Integration tests talk to the local stack; unit tests can never reach a real endpoint."""
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    if _needs_stack(request.node):
        for key, value in request.getfixturevalue("local_stack").items():
            monkeypatch.setenv(key, value)
    else:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="session")
def aws_endpoint_url(local_stack: dict[str, str]) -> str:
    return local_stack["AWS_ENDPOINT_URL"]


@contextlib.contextmanager
def _throwaway_database(server_url: str) -> Iterator[str]:
    import sqlalchemy as sa

    server = sa.make_url(server_url)
    name = f"lp_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server)
    with admin.begin() as connection:
        connection.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@pytest.fixture(scope="session")
def mysql_url(local_stack: dict[str, str]) -> Iterator[str]:
    """A throwaway MySQL database for this test session, dropped at the end."""
    with _throwaway_database(local_stack["MYSQL_URL"]) as url:
        yield url


@pytest.fixture
def fresh_mysql_url(local_stack: dict[str, str]) -> Iterator[str]:
    """A throwaway MySQL database of this test's own (for schema tests), dropped afterwards."""
    with _throwaway_database(local_stack["MYSQL_URL"]) as url:
        yield url


@pytest.fixture(scope="session")
def deployed_stack(local_stack: dict[str, str]) -> dict[str, object]:
    """The whole graph built and applied with the `local` Terraform root; returns its outputs."""
    import build_glue
    import build_zips
    from devstack import terraform

    assert build_zips.main([]) == 0
    assert build_glue.main([]) == 0
    terraform.apply(capture=True)
    return terraform.outputs()
