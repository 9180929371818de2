"""The migration function against real MariaDB, with its connection secret in Secrets Manager (moto)."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
import sqlalchemy as sa
from moto import mock_aws

pytestmark = pytest.mark.integration


class Context:
    aws_request_id = "req-1"
    function_name = "alerts-migrate-test"


@pytest.fixture
def database(local_stack):
    server = sa.make_url(local_stack["MYSQL_URL"])
    name = f"lp_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server)
    with admin.begin() as connection:
        connection.execute(sa.text(f"CREATE DATABASE `{name}`"))
    yield server.set(database=name)
    with admin.begin() as connection:
        connection.execute(sa.text(f"DROP DATABASE `{name}`"))
    admin.dispose()


def test_applies_pending_migrations_once(database, monkeypatch):
    from pipelines_shared import aws, settings

    monkeypatch.delenv("AWS_ENDPOINT_URL")  # the secret lives in moto; MariaDB is the real one
    with mock_aws():
        aws.reset_clients()
        settings.clear_secret_cache()
        arn = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="mysql", SecretString=json.dumps({"url": database.render_as_string(hide_password=False)})
        )["ARN"]
        monkeypatch.setenv("MYSQL_SECRET_ARN", arn)
        from alerts_migrate.handler import lambda_handler

        first = lambda_handler({}, Context())
        second = lambda_handler({}, Context())
        aws.reset_clients()
        settings.clear_secret_cache()
    assert first["applied"][:2] == ["0001_alert_tracking.sql", "0002_alert_payloads.sql"]
    assert second == {"applied": []}
    tables = set(sa.inspect(sa.create_engine(database)).get_table_names())
    assert {"alert_tracking", "alert_payloads"} <= tables
