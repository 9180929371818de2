"""airflow/dags/alerts_client.py against the trigger endpoint's documented contract
(docs/alerts_to_sftp/schemas/): the body it POSTs is a valid trigger request, it hands back the
documented summary and status bodies as they come, and an error answer becomes a TriggerError
carrying the documented error body. Served by a local HTTP server standing in for the ALB."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from alerts_client import SECRET_HEADER, TriggerError, job_status, list_jobs, trigger_job
from contract_schemas import contract

REQUEST = contract("alerts_to_sftp", "job-request")
SUMMARY = contract("alerts_to_sftp", "job-summary")
STATUS = contract("alerts_to_sftp", "job-status")
LIST = contract("alerts_to_sftp", "job-list")
ERROR = contract("alerts_to_sftp", "error-response")
SECRET = "s3cr3t"


class Endpoint(ThreadingHTTPServer):
    """Answers each request with the next (status, body) of ``answers``; keeps what it was sent."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.answers: list[tuple[int, dict[str, Any]]] = []
        self.requests: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/jobs"


class Handler(BaseHTTPRequestHandler):
    server: Endpoint

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.requests.append(
            {
                "method": self.command,
                "path": self.path,
                "secret": self.headers.get(SECRET_HEADER),
                "body": body,
            }
        )
        status, answer = self.server.answers.pop(0)
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    server = Endpoint()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("statuses", [None, [7], [1, 2, 20]])
def test_the_trigger_posts_a_valid_request_and_returns_the_summary(endpoint: Endpoint, statuses):
    answer = SUMMARY.examples[0]
    endpoint.answers.append((200, answer))
    summary = trigger_job(endpoint.url, SECRET, "airflow-20260201", statuses, timeout=10)
    [sent] = endpoint.requests
    assert (sent["method"], sent["path"], sent["secret"]) == ("POST", "/jobs", SECRET)
    REQUEST.assert_produced(json.loads(sent["body"]))
    assert summary == answer
    # What the DAG's trigger task reads.
    assert (summary["state"], summary["alert_count"], summary["totals"]) == (
        answer["state"], answer["alert_count"], answer["totals"]
    )  # fmt: skip


@pytest.mark.parametrize("answer", STATUS.examples)
def test_the_status_is_read_from_the_jobs_path(endpoint: Endpoint, answer: dict[str, Any]):
    endpoint.answers.append((200, answer))
    status = job_status(endpoint.url, SECRET, answer["job_id"], timeout=10)
    [sent] = endpoint.requests
    assert (sent["method"], sent["path"], sent["body"]) == ("GET", f"/jobs/{answer['job_id']}", b"")
    assert status == answer
    assert (status["state"] == "finalized") is (answer["finalized_at"] is not None)


def test_without_a_job_id_the_coordinator_names_the_job(endpoint: Endpoint):
    endpoint.answers.append((200, SUMMARY.examples[0]))
    trigger_job(endpoint.url, SECRET, None, timeout=10)
    [sent] = endpoint.requests
    assert json.loads(sent["body"]) == {}
    REQUEST.assert_produced(json.loads(sent["body"]))


@pytest.mark.parametrize(("state", "query"), [(None, "limit=50"), ("open", "limit=7&state=open")])
def test_the_job_list_is_read_with_its_query(endpoint: Endpoint, state, query):
    endpoint.answers.append((200, LIST.examples[0]))
    listed = list_jobs(endpoint.url, SECRET, state=state, limit=7 if state else 50, timeout=10)
    [sent] = endpoint.requests
    assert (sent["method"], sent["path"], sent["secret"]) == ("GET", f"/jobs?{query}", SECRET)
    assert listed == LIST.examples[0]


@pytest.mark.parametrize(
    ("code", "answer"),
    [(401, ERROR.examples[0]), (409, ERROR.examples[3]), (502, SUMMARY.examples[1])],
)
def test_an_error_answer_is_a_trigger_error_with_its_body(
    endpoint: Endpoint, code: int, answer: dict[str, Any]
):
    endpoint.answers.append((code, answer))
    with pytest.raises(TriggerError) as raised:
        trigger_job(endpoint.url, SECRET, "airflow-20260201", timeout=10)
    assert (raised.value.status, raised.value.body) == (code, answer)
    (SUMMARY if code == 502 else ERROR).assert_valid(raised.value.body)
