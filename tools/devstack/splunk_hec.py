"""The fake Splunk HTTP Event Collector (tools/fake_splunk_hec) as a local-stack process on a loopback
port: HTTPS with a throwaway CA's certificate, a generated token, every event kept (``GET /_events``).
csv_to_api's log forwarder sends its functions' logs here, as it sends them to Splunk in AWS."""

from __future__ import annotations

import json
import os
import ssl
import urllib.request
from typing import Any

from . import paths, private
from .proc import StackError, start_tool, stop

DIR = paths.LOCAL / "splunk-hec"
PID = DIR / "fake-splunk-hec.pid"
LOG = paths.LOGS / "fake-splunk-hec.log"
TOKEN_FILE = DIR / "token"
CERT_DIR = DIR / "tls"
# Written by the server on its first start (fake_http.tls): the one CA the log forwarder trusts.
CA_FILE = CERT_DIR / "ca.pem"
PORT = int(os.environ.get("LP_SPLUNK_HEC_PORT", "8088"))
INDEX = "lambda_pipelines"


def url() -> str:
    return f"https://{paths.HOST}:{PORT}"


def token() -> str:
    return private.generated_secret(TOKEN_FILE)


def secret() -> dict[str, Any]:
    """The HEC secret's JSON as the log forwarder reads it from Secrets Manager."""
    if not CA_FILE.exists():
        raise StackError(f"{CA_FILE} is missing: the HEC server writes it when it starts (make up)")
    return {"url": url(), "token": token(), "index": INDEX, "ca_cert": CA_FILE.read_text()}


def healthy() -> bool:
    """Its health endpoint answers over TLS verified against our CA (not just any server on the port)."""
    if not CA_FILE.exists():
        return False
    try:
        context = ssl.create_default_context(cafile=str(CA_FILE))
        health = f"{url()}/services/collector/health"
        with urllib.request.urlopen(health, timeout=2, context=context) as response:  # noqa: S310 (loopback)
            return bool(response.status == 200)
    except (OSError, ssl.SSLError):
        return False


def events(since: int = 0) -> list[dict[str, Any]]:
    """The events received so far (``since``: skip that many)."""
    context = ssl.create_default_context(cafile=str(CA_FILE))
    with urllib.request.urlopen(f"{url()}/_events?since={since}", timeout=10, context=context) as response:  # noqa: S310
        found: list[dict[str, Any]] = json.loads(response.read())["events"]
    return found


def start() -> bool:
    private.make_dir(DIR)
    token()
    arguments = ["--token-file", str(TOKEN_FILE), "--cert-dir", str(CERT_DIR)]
    return start_tool("fake_splunk_hec", arguments, port=PORT, port_variable="LP_SPLUNK_HEC_PORT",
                      pid_file=PID, log_file=LOG, healthy=healthy, what="Splunk HEC")  # fmt: skip


def down() -> bool:
    return stop(PID, "Splunk HEC")
