"""`lp cost`: the deploy-time values it assumes are the Terraform modules' defaults, every price it
uses is in the dated price file, every figure has a basis, cost grows with volume, and the tables in
docs/cost.md are what `lp cost --markdown` prints today."""

from __future__ import annotations

import json
import re
from pathlib import Path

import hcl2
import pytest

from lp import cost
from lp.deployment import LpError

REPO = Path(__file__).resolve().parents[2]
MODULES = REPO / "terraform" / "modules"


def variables(pipeline: str) -> dict:
    with (MODULES / pipeline / "variables.tf").open() as handle:
        blocks = hcl2.load(handle)["variable"]
    return {name.strip('"'): body for block in blocks for name, body in block.items()}


def optional_default(variable: dict, field: str) -> str:
    match = re.search(rf"{field}\s*=\s*optional\(number,\s*([0-9.]+)\)", str(variable["type"]))
    assert match, (field, variable["type"])
    return match.group(1)


def test_alerts_assumptions_are_the_module_defaults():
    deployed = cost.DEPLOYED["alerts_to_sftp"]
    main = (MODULES / "alerts_to_sftp" / "main.tf").read_text()
    coordinator = main.split('module "coordinator"')[1].split("\nmodule ")[0]
    worker = main.split('module "worker"')[1].split("\nmodule ")[0]
    assert f"memory_size  = {deployed['coordinator_memory_mb']}" in coordinator
    assert f"memory_size  = {deployed['worker_memory_mb']}" in worker
    found = variables("alerts_to_sftp")
    assert optional_default(found["worker"], "batch_size") == str(deployed["worker_batch_size"])
    assert optional_default(found["worker"], "maximum_concurrency") == str(deployed["worker_pollers"])
    assert found["staging_expiration_days"]["default"] == deployed["staging_expiration_days"]
    assert found["finalizer_schedule"]["default"].strip('"') == "rate(5 minutes)"
    assert deployed["finalizer_runs_per_day"] == 24 * 60 // 5


def test_ndjson_assumptions_are_the_module_defaults():
    deployed = cost.DEPLOYED["ndjson_to_parquet"]
    found = variables("ndjson_to_parquet")
    assert optional_default(found["builder"], "memory_size") == str(deployed["builder_memory_mb"])
    assert optional_default(found["builder"], "batch_size") == str(deployed["builder_batch_size"])
    assert optional_default(found["status_updater"], "memory_size") == str(deployed["updater_memory_mb"])
    assert found["max_files_per_manifest"]["default"] == deployed["max_files_per_manifest"]
    assert found["max_bytes_per_manifest"]["default"] == deployed["max_bytes_per_manifest"]
    assert found["glue_max_capacity"]["default"] == deployed["glue_max_capacity"]
    assert found["glue_poll_seconds"]["default"] == deployed["glue_poll_seconds"]
    assert optional_default(found["expiration_days"], "landing") == str(deployed["landing_expiration_days"])
    assert deployed["flush_runs_per_day"] == 24 * 60 // found["flush_interval_minutes"]["default"]


def test_csv_assumptions_are_the_module_and_core_defaults():
    from csv_to_api.caller import CallerConfig
    from csv_to_api.outcomes import DynamoDbRowStore
    from csv_to_api.planner import PlannerConfig

    deployed = cost.DEPLOYED["csv_to_api"]
    found = variables("csv_to_api")
    for field in ("memory_size", "timeout", "concurrency"):
        key = {"memory_size": "caller_memory_mb", "timeout": "caller_timeout_s"}.get(field, f"caller_{field}")
        assert optional_default(found["caller"], field) == str(deployed[key])
    assert optional_default(found["caller"], "deadline_margin") == str(deployed["caller_deadline_margin_s"])
    assert optional_default(found["planner"], "memory_size") == str(deployed["planner_memory_mb"])
    assert optional_default(found["starter"], "maximum_concurrency") == str(deployed["starter_pollers"])
    for name in ("chunk_bytes", "max_concurrency", "rate_limit", "rate_utilization"):
        assert found[name]["default"] == deployed[name], name
    functions = (MODULES / "csv_to_api" / "functions.tf").read_text()
    starter = functions.split('module "starter"')[1].split("\nmodule ")[0]
    assert f"memory_size  = {deployed['starter_memory_mb']}" in starter
    main = (MODULES / "csv_to_api" / "main.tf").read_text()
    assert f"{{ (var.incoming_prefix) = {deployed['upload_expiration_days']} }}" in main
    assert PlannerConfig().block_bytes == deployed["planner_block_bytes"]
    assert CallerConfig().block_bytes == deployed["caller_block_bytes"]
    assert DynamoDbRowStore(None, "rows").retention_seconds == deployed["row_retention_days"] * 86400
    handler = REPO / "services/csv_to_api/csv-api-caller/csv_api_caller/handler.py"
    assert handler.read_text().count("metrics.add_metric(") == cost.CSV_METRICS


def test_csv_caller_compute_follows_the_chunks_that_share_the_limit():
    prices = json.loads(cost.PRICES.read_text())["prices"]
    figures = cost.measurements(last_bench=False)

    def caller_gb_seconds(**changes: float) -> float:
        lines = cost._csv(1e6, prices, figures, {**cost.DEPLOYED["csv_to_api"], **changes})
        return next(line.quantity for line in lines if line.item == "Lambda csv-api-caller compute")

    # One invocation alone can fill the limit: four at once wait four times as long for the same rows.
    assert caller_gb_seconds(max_concurrency=1) == pytest.approx(caller_gb_seconds() / 4)
    assert caller_gb_seconds(rate_limit=100) == pytest.approx(caller_gb_seconds() / 2, rel=0.02)


def test_a_csv_volume_beyond_the_rate_limit_fails_clearly():
    with pytest.raises(LpError, match="more than a rate limit of 48/s"):
        cost.estimate("csv_to_api", "5000000")


def test_the_price_file_is_dated_and_every_figure_has_a_basis():
    prices = json.loads(cost.PRICES.read_text())
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", prices["as_of"])
    assert all(value > 0 for value in prices["prices"].values())
    for key, (value, basis) in cost.measurements(last_bench=False).items():
        assert value > 0, f"{key}: run `make bench` and record it"
        assert basis.split(":")[0] in ("measured", "assumed", "the fake API's mix"), (key, basis)


@pytest.mark.parametrize("pipeline", sorted(cost.STATED_VOLUME))
def test_cost_grows_with_volume_and_adds_up(pipeline: str):
    small = cost.estimate(pipeline, None)
    # 3x: the CSV pipeline's stated volume is a quarter of what its default rate limit delivers a day.
    large = cost.estimate(pipeline, str(cost.parse_volume(pipeline, None) * 3))
    assert 0 < small["monthly_usd"] < large["monthly_usd"]
    assert small["monthly_usd"] == pytest.approx(
        sum(line["monthly_usd"] for line in small["lines"]), abs=0.05
    )
    assert {line["item"].split()[0] for line in small["lines"]} >= {"Lambda", "SQS", "S3"}


def test_volumes_parse_and_bad_ones_fail_clearly():
    assert cost.parse_volume("ndjson_to_parquet", "1TB") == 1e12
    assert cost.parse_volume("ndjson_to_parquet", "500 GB") == 5e11
    assert cost.parse_volume("alerts_to_sftp", "2,000") == 2000
    with pytest.raises(LpError, match="volume"):
        cost.parse_volume("alerts_to_sftp", "lots")
    with pytest.raises(LpError, match="no cost model"):
        cost.estimate("example", None)


def test_the_docs_tables_are_todays_estimates():
    page = (REPO / "docs" / "cost.md").read_text()
    for pipeline in cost.STATED_VOLUME:
        assert cost.markdown(cost.estimate(pipeline, None, last_bench=False)) in page, (
            f"regenerate: lp cost {pipeline} --markdown"
        )
