"""The migration function against real MariaDB, with its connection secret in Secrets Manager (moto)."""

from __future__ import annotations

import json

import boto3
import pytest
import sqlalchemy as sa
from moto import mock_aws

pytestmark = pytest.mark.integration


class Context:
    aws_request_id = "req-1"
    function_name = "alerts-migrate-test"


def test_applies_pending_migrations_once(fresh_mysql_url, monkeypatch):
    database = sa.make_url(fresh_mysql_url)
    from pipelines_shared import aws, settings

    monkeypatch.delenv("AWS_ENDPOINT_URL")  # the secret lives in moto; MariaDB is the real one
    with mock_aws():
        aws.reset_clients()
        settings.clear_secret_cache()
        arn = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="mysql", SecretString=json.dumps({"url": database.render_as_string(hide_password=False)})
        )["ARN"]
        monkeypatch.setenv("MYSQL_SECRET_ARN", arn)
        monkeypatch.setenv("LOG_LEVEL", "INFO")
        from alerts_migrate.handler import dependencies, lambda_handler

        dependencies.cache_clear()  # a fresh cold start
        first = lambda_handler({}, Context())
        second = lambda_handler({}, Context())
        aws.reset_clients()
        settings.clear_secret_cache()
    assert first["applied"][:2] == ["0001_alert_tracking.sql", "0002_alert_payloads.sql"]
    assert second == {"applied": []}
    tables = set(sa.inspect(sa.create_engine(database)).get_table_names())
    assert {"alert_tracking", "alert_payloads"} <= tables
