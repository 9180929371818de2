"""Every alarm the csv_to_api module creates has a row in docs/csv_to_api.md's runbook, found the way
tests/e2e/test_runbooks.py finds it on the deployed stack, and carries the anchor the alert manager's
e-mail links to (csv_alert_manager.render.runbook_anchor): checked here from the Terraform source,
without a stack."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import hcl2
import pytest
from csv_alert_manager.render import runbook_anchor

REPO = Path(__file__).resolve().parents[3]
MODULE = REPO / "terraform" / "modules" / "csv_to_api"
PAGE = REPO / "docs" / "csv_to_api.md"


def _e2e_runbooks() -> Any:
    spec = importlib.util.spec_from_file_location("e2e_runbooks", REPO / "tests" / "e2e" / "test_runbooks.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _text(value: Any) -> str:
    text = str(value)
    return text[1:-1] if len(text) > 1 and text[0] == text[-1] == '"' else text


def alarm_templates() -> list[str]:
    """Every alarm name of the module, with ``{env}`` for the environment: its own alarms (alarms.tf)
    and those of each function from modules/lambda_service (errors; DLQ depth with a queue source)."""
    documents = {path.name: hcl2.load(path.open()) for path in sorted(MODULE.glob("*.tf"))}
    names = {key: _text(value) for key, value in documents["main.tf"]["locals"][0]["names"].items()}
    prefix = "lambda-pipelines-csv"  # "${var.project}-csv" with the project's default

    def resolve(template: str) -> str:
        template = re.sub(r"\$\{local\.names\.(\w+)\}", lambda m: names[m.group(1)], _text(template))
        return template.replace("${local.prefix}", prefix).replace("${local.env}", "{env}")

    locals_ = {key: value for block in documents["alarms.tf"]["locals"] for key, value in block.items()}
    found = []
    for document in documents.values():
        for block in document.get("resource", []):
            for kind, resources in block.items():
                if _text(kind) != "aws_cloudwatch_metric_alarm":
                    continue
                for body in resources.values():
                    if "for_each" in body:  # the metric_alarms and forwarder_alarms maps, by key
                        assert '${local.prefix}-${replace(each.key, "_", "-")}-${local.env}' in _text(
                            body["alarm_name"]
                        )
                        keys = [*locals_["metric_alarms"], *locals_["forwarder_alarms"]]
                        found += [f"{prefix}-{key.replace('_', '-')}-{{env}}" for key in keys]
                    else:
                        found.append(resolve(body["alarm_name"]))
        for block in document.get("module", []):
            for body in block.values():
                if _text(body["source"]) == "../lambda_service":
                    function = resolve(body["name"])
                    found.append(f"{function}-errors")
                    if "sqs_source" in body:
                        found.append(f"{function}-dlq-depth")
    return sorted(found)


ALARMS = alarm_templates()


def runbook_rows() -> list[str]:
    runbook = PAGE.read_text().split("## Runbook", 1)[1].split("\n## ", 1)[0]
    return [row for row in runbook.splitlines() if row.startswith("| `")]


def test_the_module_has_the_alarms_the_issue_asks_for() -> None:
    assert len(ALARMS) >= 12
    kinds = ("ingest-age", "ingest-depth", "caller-dlq", "executions-failed", "executions-timed-out",
             "caller-throttles", "log-forwarder-dlq")  # fmt: skip
    for kind in kinds:
        assert f"lambda-pipelines-csv-{kind}-{{env}}" in ALARMS
    assert "lambda-pipelines-csv-reject-rate-{env}" in ALARMS


@pytest.mark.parametrize("alarm", ALARMS)
def test_every_alarm_has_a_runbook_row_the_e2e_check_finds(alarm: str) -> None:
    e2e = _e2e_runbooks()
    assert "csv_to_api" in e2e.PAGES
    assert alarm in e2e.runbook_alarms()
    deployed = alarm.replace("{env}", "local")
    assert deployed.replace("-local", "-{env}", 1) == alarm  # how the e2e test maps a deployed name


@pytest.mark.parametrize("alarm", ALARMS)
@pytest.mark.parametrize("environment", ["dev", "prod", "local"])
def test_the_e_mails_runbook_link_lands_on_the_alarms_row(alarm: str, environment: str) -> None:
    anchor = runbook_anchor(alarm.replace("{env}", environment), environment)
    rows = [row for row in runbook_rows() if f'<a id="{anchor}"></a>' in row]
    assert len(rows) == 1, f"no single runbook row with the anchor {anchor}"
    assert f"`{alarm}`" in rows[0].split("|")[1]


def test_every_anchor_of_the_runbook_is_an_alarms() -> None:
    anchors = re.findall(r'<a id="([^"]+)"></a>', "\n".join(runbook_rows()))
    assert len(anchors) == len(set(anchors))
    assert sorted(anchors) == sorted(runbook_anchor(a.replace("{env}", "dev"), "dev") for a in ALARMS)
