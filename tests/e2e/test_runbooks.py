"""Every alarm the local root deploys has a runbook row in its pipeline's docs page (what it means,
how to look, how to fix with `lp`): an alarm added without one fails here."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import boto3
import pytest

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
PAGES = ("alerts_to_sftp", "ndjson_to_parquet", "csv_to_api", "example")


def expand(pattern: str) -> set[str]:
    """`a-{b,c}-{env}` -> {"a-b-{env}", "a-c-{env}"}: brace lists expanded, `{env}` kept."""
    parts = re.split(r"(\{[^{}]*,[^{}]*\})", pattern)
    choices = [p[1:-1].split(",") if p.startswith("{") and "," in p else [p] for p in parts]
    return {"".join(combination) for combination in itertools.product(*choices)}


def runbook_alarms() -> set[str]:
    names: set[str] = set()
    for page in PAGES:
        text = (REPO / "docs" / f"{page}.md").read_text()
        assert "## Runbook" in text, f"docs/{page}.md has no runbook"
        runbook = text.split("## Runbook", 1)[1].split("\n## ", 1)[0]
        for row in runbook.splitlines():
            if row.startswith("| `"):
                for pattern in re.findall(r"`([a-z0-9{},-]+\{env\}[a-z0-9{},-]*)`", row.split("|")[1]):
                    names |= expand(pattern)
    return names


def test_every_deployed_alarm_has_a_runbook_row(deployed_stack):
    cloudwatch = boto3.client("cloudwatch")
    deployed = {
        alarm["AlarmName"]
        for page in cloudwatch.get_paginator("describe_alarms").paginate()
        for alarm in page["MetricAlarms"]
        if alarm["AlarmName"].startswith(("lambda-pipelines-", "ndjson-parquet-"))
    }
    assert len(deployed) >= 15
    documented = runbook_alarms()
    missing = sorted(name for name in deployed if name.replace("-local", "-{env}", 1) not in documented)
    assert missing == []
