"""The local stack's parts are real servers reached over real connections."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import boto3
import paramiko
import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.integration


def test_aws_api_over_http_via_standard_endpoint_variable():
    assert os.environ["AWS_ENDPOINT_URL"].startswith("http://")
    s3 = boto3.client("s3")  # no endpoint_url argument: boto3 reads AWS_ENDPOINT_URL itself
    bucket = f"lp-probe-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"payload")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"payload"
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)


def test_mysql_is_a_real_mariadb_over_tcp(mysql_url: str):
    engine = sa.create_engine(mysql_url)
    with engine.begin() as connection:
        version = connection.execute(sa.text("SELECT VERSION()")).scalar_one()
        connection.execute(sa.text("CREATE TABLE probe (id INT PRIMARY KEY, v VARCHAR(10))"))
        connection.execute(sa.text("INSERT INTO probe VALUES (1, 'a') ON DUPLICATE KEY UPDATE v = 'b'"))
        connection.execute(sa.text("INSERT INTO probe VALUES (1, 'a') ON DUPLICATE KEY UPDATE v = 'b'"))
        assert connection.execute(sa.text("SELECT v FROM probe")).scalar_one() == "b"
    assert "MariaDB" in version
    engine.dispose()


def _sftp_client(known_hosts: str) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.load_host_keys(known_hosts)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        os.environ["SFTP_HOST"],
        port=int(os.environ["SFTP_PORT"]),
        username=os.environ["SFTP_USER"],
        key_filename=os.environ["SFTP_KEY_FILE"],
        look_for_keys=False,
        allow_agent=False,
        timeout=5,
        banner_timeout=5,
        auth_timeout=5,
    )
    return client


def test_sftp_upload_with_verified_host_key():
    client = _sftp_client(os.environ["SFTP_KNOWN_HOSTS_FILE"])
    name = f"probe-{uuid.uuid4().hex}.json"
    try:
        sftp = client.open_sftp()
        with sftp.open(f"{os.environ['SFTP_REMOTE_DIR']}/{name}", "wb") as remote:
            remote.write(b'{"ok": true}')
        assert (Path(os.environ["SFTP_LOCAL_DIR"]) / name).read_bytes() == b'{"ok": true}'
        sftp.remove(f"{os.environ['SFTP_REMOTE_DIR']}/{name}")
    finally:
        client.close()


def test_sftp_rejects_a_server_whose_host_key_is_not_known(tmp_path: Path):
    # Pin a different ed25519 key for the server's address: a man in the middle, as the client sees it.
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    key_type, key = (tmp_path / "other.pub").read_text().split()[:2]
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[{os.environ['SFTP_HOST']}]:{os.environ['SFTP_PORT']} {key_type} {key}\n")
    with pytest.raises(paramiko.BadHostKeyException):
        _sftp_client(str(known_hosts))


def test_sftp_rejects_an_unknown_host(tmp_path: Path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        _sftp_client(str(empty))


def test_starting_the_stack_again_is_harmless():
    from devstack import stack

    assert stack.start_all() == []  # everything already up: nothing (re)started
    assert stack.stack_env()["AWS_ENDPOINT_URL"] == os.environ["AWS_ENDPOINT_URL"]
