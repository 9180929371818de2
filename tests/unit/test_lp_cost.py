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
    large = cost.estimate(pipeline, str(cost.parse_volume(pipeline, None) * 10))
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
        cost.estimate("csv_to_api", None)


def test_the_docs_tables_are_todays_estimates():
    page = (REPO / "docs" / "cost.md").read_text()
    for pipeline in cost.STATED_VOLUME:
        assert cost.markdown(cost.estimate(pipeline, None, last_bench=False)) in page, (
            f"regenerate: lp cost {pipeline} --markdown"
        )
