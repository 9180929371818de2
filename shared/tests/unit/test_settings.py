"""Settings from the environment, and secrets/parameters from AWS with a TTL cache (moto, fake clock)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from moto import mock_aws

from pipelines_shared import aws, settings
from pipelines_shared.settings import SettingsError, load_settings


@dataclass(frozen=True)
class WorkerSettings:
    table_name: str
    batch_size: int = 100
    threshold: float = 0.5
    dry_run: bool = False
    sources: tuple[str, ...] = ()
    region_override: str | None = None
    db_secret_id: str = field(default="", metadata={"env": "DB_SECRET_ARN"})


def test_loads_and_converts_every_supported_type() -> None:
    loaded = load_settings(
        WorkerSettings,
        environ={
            "TABLE_NAME": "tracking",
            "BATCH_SIZE": " 25 ",
            "THRESHOLD": "0.75",
            "DRY_RUN": "Yes",
            "SOURCES": "sftp, s3 ,,api",
            "REGION_OVERRIDE": "eu-west-1",
            "DB_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123:secret:db",
        },
    )
    assert loaded == WorkerSettings(
        table_name="tracking",
        batch_size=25,
        threshold=0.75,
        dry_run=True,
        sources=("sftp", "s3", "api"),
        region_override="eu-west-1",
        db_secret_id="arn:aws:secretsmanager:us-east-1:123:secret:db",
    )


def test_defaults_apply_when_variables_are_unset_or_empty() -> None:
    loaded = load_settings(WorkerSettings, environ={"TABLE_NAME": "t", "BATCH_SIZE": ""})
    assert loaded == WorkerSettings(table_name="t")
    assert loaded.region_override is None


def test_reads_os_environ_by_default_with_a_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_TABLE_NAME", "from-env")
    monkeypatch.setenv("WORKER_DRY_RUN", "off")
    loaded = load_settings(WorkerSettings, prefix="WORKER_")
    assert (loaded.table_name, loaded.dry_run) == ("from-env", False)


def test_missing_required_variable_is_named() -> None:
    with pytest.raises(SettingsError, match=r"TABLE_NAME is required \(for WorkerSettings.table_name\)"):
        load_settings(WorkerSettings, environ={})


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(WorkerSettings, environ={"BATCH_SIZE": "ten", "DRY_RUN": "maybe", "THRESHOLD": "x"})
    message = str(raised.value)
    assert "TABLE_NAME is required" in message
    assert "BATCH_SIZE='ten' is not a valid int" in message
    assert "DRY_RUN='maybe' is not a valid bool" in message
    assert "THRESHOLD='x' is not a valid float" in message


def test_rejects_settings_classes_that_could_change_or_cannot_be_parsed() -> None:
    @dataclass
    class Mutable:
        name: str = "x"

    @dataclass(frozen=True)
    class Unsupported:
        mapping: dict = field(default_factory=dict)

    with pytest.raises(TypeError, match="frozen"):
        load_settings(Mutable, environ={})
    with pytest.raises(TypeError, match="unsupported settings type"):
        load_settings(Unsupported, environ={})


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    fake = FakeClock()
    settings.reset_secret_cache()
    settings.configure_secret_cache(ttl_seconds=300, clock=fake)
    yield fake
    settings.reset_secret_cache()


@pytest.fixture
def aws_mock() -> Iterator[None]:
    with mock_aws():
        aws.reset_clients()
        yield
    aws.reset_clients()


@pytest.mark.usefixtures("aws_mock")
def test_secret_is_cached_until_its_ttl_expires(clock: FakeClock) -> None:
    secrets = aws.client("secretsmanager")
    secrets.create_secret(Name="sftp/password", SecretString="first")
    assert settings.get_secret("sftp/password") == "first"

    secrets.put_secret_value(SecretId="sftp/password", SecretString="rotated")
    clock.now += 299
    assert settings.get_secret("sftp/password") == "first"  # served from cache, no AWS call
    clock.now += 1
    assert settings.get_secret("sftp/password") == "rotated"


@pytest.mark.usefixtures("aws_mock")
def test_clear_and_max_age_force_a_fresh_read(clock: FakeClock) -> None:
    secrets = aws.client("secretsmanager")
    secrets.create_secret(Name="api/token", SecretString="v1")
    assert settings.get_secret("api/token") == "v1"
    secrets.put_secret_value(SecretId="api/token", SecretString="v2")

    assert settings.get_secret("api/token", max_age=0) == "v2"
    secrets.put_secret_value(SecretId="api/token", SecretString="v3")
    settings.clear_secret_cache()
    assert settings.get_secret("api/token") == "v3"


@pytest.mark.usefixtures("aws_mock")
def test_secret_json_is_decoded_and_bad_json_does_not_leak_the_value(clock: FakeClock) -> None:
    secrets = aws.client("secretsmanager")
    secrets.create_secret(Name="db", SecretString=json.dumps({"username": "lp", "password": "pw"}))
    secrets.create_secret(Name="broken", SecretString="hunter2-not-json")

    assert settings.get_secret_json("db") == {"username": "lp", "password": "pw"}
    with pytest.raises(SettingsError, match="'broken' is not valid JSON") as raised:
        settings.get_secret_json("broken")
    assert "hunter2" not in str(raised.value)


@pytest.mark.usefixtures("aws_mock")
def test_binary_secret_is_refused(clock: FakeClock) -> None:
    aws.client("secretsmanager").create_secret(Name="blob", SecretBinary=b"\x00\x01")
    with pytest.raises(SettingsError, match="no SecretString"):
        settings.get_secret("blob")


@pytest.mark.usefixtures("aws_mock")
def test_parameter_is_decrypted_and_cached(clock: FakeClock) -> None:
    ssm = aws.client("ssm")
    ssm.put_parameter(Name="/lp/webhook", Value="s3cr3t", Type="SecureString")
    assert settings.get_parameter("/lp/webhook") == "s3cr3t"

    ssm.put_parameter(Name="/lp/webhook", Value="new", Type="SecureString", Overwrite=True)
    assert settings.get_parameter("/lp/webhook") == "s3cr3t"
    clock.now += 300
    assert settings.get_parameter("/lp/webhook") == "new"


@pytest.mark.usefixtures("aws_mock")
def test_secrets_and_parameters_with_the_same_name_do_not_share_a_cache_entry(clock: FakeClock) -> None:
    aws.client("secretsmanager").create_secret(Name="shared-name", SecretString="from-secrets-manager")
    aws.client("ssm").put_parameter(Name="shared-name", Value="from-ssm", Type="String")
    assert settings.get_secret("shared-name") == "from-secrets-manager"
    assert settings.get_parameter("shared-name") == "from-ssm"


def test_missing_secret_error_comes_from_aws(aws_mock: None, clock: FakeClock) -> None:
    with pytest.raises(aws.client("secretsmanager").exceptions.ResourceNotFoundException):
        settings.get_secret("nope")
