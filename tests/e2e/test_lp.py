"""`lp` against the deployed local stack, for what the pipeline tests do not already drive: the stack's
status, every pipeline's dead-letter queue found from the root's outputs, the breaker read with the
deployed threshold and window, and clear failures for a wrong root or name. (Redrive: the alerts e2e
test; reprocess: the NDJSON e2e test.)"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_stack_status_lists_every_part_up(deployed_stack, lp):
    code, parts = lp("stack", "status")
    assert code == 0, parts
    assert {part["part"]: part["state"] for part in parts} == {
        "ministack": "up", "MariaDB": "up", "sshd": "up", "fake alerts API": "up", "fake records API": "up",
        "SMTP": "up", "Splunk HEC": "up",
    }  # fmt: skip


def test_every_pipelines_dlq_is_listed_from_the_outputs(deployed_stack, lp):
    code, queues = lp("dlq", "list")
    assert code == 0, queues
    by_id = {queue["queue"]: queue for queue in queues}
    assert set(by_id) == {
        "alerts_to_sftp",
        "example",
        "ndjson_to_parquet",
        "csv_to_api/ingest",
        "csv_to_api/caller",
        "csv_to_api/log_forwarder",  # the local root forwards logs to the stack's Splunk HEC
    }
    for pipeline in ("alerts_to_sftp", "example", "ndjson_to_parquet"):
        queue = by_id[pipeline]
        assert queue["dlq"] == deployed_stack[pipeline]["dlq_url"].rsplit("/", 1)[-1]
        assert queue["source"] == deployed_stack[pipeline]["queue_url"].rsplit("/", 1)[-1]
        assert queue["messages"] >= 0
    csv_queues = deployed_stack["csv_to_api"]["dead_letter_queues"]
    assert by_id["csv_to_api/ingest"]["source"] == csv_queues["ingest"]["source_url"].rsplit("/", 1)[-1]
    assert by_id["csv_to_api/caller"]["source"] == f"function {csv_queues['caller']['function_name']}"
    forwarder = csv_queues["log_forwarder"]["function_name"]
    assert by_id["csv_to_api/log_forwarder"]["source"] == f"function {forwarder}"


def test_the_breaker_is_read_with_the_deployed_settings(deployed_stack, lp):
    code, breaker = lp("ndjson", "breaker", "status")
    assert code == 0, breaker
    settings = deployed_stack["ndjson_to_parquet"]["settings"]
    assert breaker["failure_threshold"] == settings["breaker_failure_threshold"]
    assert breaker["window_seconds"] == settings["breaker_window_seconds"]
    assert isinstance(breaker["open"], bool)


def test_a_wrong_root_or_name_fails_with_one_line(deployed_stack, lp, tmp_path):
    code, error = lp("--root", str(tmp_path), "dlq", "list")
    assert code == 1
    assert error.startswith("lp: error:")
    assert len(error.strip().splitlines()) == 1
    code, error = lp("dlq", "show", "no_such_pipeline")
    assert code == 1
    assert "no dead-letter queue 'no_such_pipeline'" in error
    code, error = lp("ndjson", "manifest", "not-a-manifest")
    assert code == 1
    assert "not a manifest id" in error
