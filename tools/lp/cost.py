"""`lp cost <pipeline> --volume ...`: a month of AWS charges for a daily volume, from the dated price
file (docs/cost/prices.json) and the figures the benchmarks measured (the last `make bench` run saved
in .local/bench/last-run.txt, else docs/cost/measured.json, each figure with its basis).

The deploy-time values (memory, batch sizes, manifest size, Glue capacity, poll interval, schedule,
retention, chunk size, rate limit) are the Terraform modules' defaults (and, for the CSV core's block
sizes and row retention, its code's), repeated here once and compared with them by
tests/unit/test_lp_cost.py. Not priced: the MySQL database (RDS or yours), KMS keys and requests (the
buckets use S3 bucket keys: a few KMS calls a day), Secrets Manager secrets, alarms, data transfer and
the free tiers.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from lp.deployment import REPO, LpError

PRICES = REPO / "docs" / "cost" / "prices.json"
MEASURED = REPO / "docs" / "cost" / "measured.json"
LAST_BENCH = REPO / ".local" / "bench" / "last-run.txt"
DAYS_PER_MONTH = 30

# The modules' defaults (terraform/modules/<pipeline>/variables.tf and main.tf): checked by a test.
DEPLOYED = {
    "alerts_to_sftp": {
        "coordinator_memory_mb": 1024,
        "worker_memory_mb": 512,
        "worker_batch_size": 100,
        "worker_pollers": 5,
        "finalizer_runs_per_day": 288,  # rate(5 minutes)
        "staging_expiration_days": 7,
    },
    "ndjson_to_parquet": {
        "builder_memory_mb": 512,
        "builder_batch_size": 10,
        "updater_memory_mb": 512,
        "max_files_per_manifest": 500,
        "max_bytes_per_manifest": 5 * 1024**3,
        "glue_max_capacity": 1,
        "glue_poll_seconds": 30,
        "landing_expiration_days": 30,
        "flush_runs_per_day": 288,  # flush_interval_minutes = 5
    },
    "csv_to_api": {
        "starter_memory_mb": 256,
        "starter_pollers": 5,
        "planner_memory_mb": 512,
        "caller_memory_mb": 512,
        "caller_timeout_s": 300,
        "caller_deadline_margin_s": 20,
        "caller_concurrency": 16,
        "chunk_bytes": 1 << 20,
        "max_concurrency": 4,
        "rate_limit": 50,
        "rate_utilization": 0.96,
        "upload_expiration_days": 30,
        # csv_to_api's code: PlannerConfig.block_bytes, CallerConfig.block_bytes, the rows table's TTL.
        "planner_block_bytes": 4 << 20,
        "caller_block_bytes": 1 << 20,
        "row_retention_days": 35,
    },
}
STATED_VOLUME = {"alerts_to_sftp": "2000", "ndjson_to_parquet": "1TB", "csv_to_api": "1000000"}
# The caller's metrics (csv_api_caller.handler._publish), each a custom metric with dimension service.
CSV_METRICS = 9


@dataclass
class Line:
    item: str
    quantity: float
    unit: str
    unit_price: float
    basis: str

    @property
    def monthly(self) -> float:
        return self.quantity * self.unit_price

    def as_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "quantity": round(self.quantity, 3),
            "unit": self.unit,
            "unit_price_usd": self.unit_price,
            "monthly_usd": round(self.monthly, 2),
            "basis": self.basis,
        }


def measurements(*, last_bench: bool = True) -> dict[str, tuple[float, str]]:
    """Each figure with its basis: docs/cost/measured.json, overridden by the last saved bench run."""
    found = {
        key: (float(entry["value"]), str(entry["basis"]))
        for key, entry in json.loads(MEASURED.read_text()).items()
        if not key.startswith("$")
    }
    if last_bench and LAST_BENCH.exists():
        for line in LAST_BENCH.read_text().splitlines():
            match = re.fullmatch(r"([a-z_]+)((?: [a-z_]+=[0-9.]+)+)", line.strip())
            if not match:
                continue
            for pair in match.group(2).split():
                key, value = pair.split("=")
                found[f"{match.group(1)}.{key}"] = (float(value), f"measured: make bench ({LAST_BENCH.name})")
    return found


def parse_volume(pipeline: str, volume: str | None) -> float:
    """Alerts or CSV rows per day, or NDJSON bytes per day ('1TB', '500GB', '2e12')."""
    text = (volume or STATED_VOLUME[pipeline]).strip().upper().replace(",", "").replace("_", "")
    match = re.fullmatch(r"([0-9.E+]+)\s*(TB|GB|MB|KB|B)?", text)
    if not match:
        raise LpError(f"volume {volume!r}: a number, with TB/GB/MB for NDJSON")
    number = float(match.group(1))
    scale = {"TB": 1e12, "GB": 1e9, "MB": 1e6, "KB": 1e3, "B": 1, None: 1}[match.group(2)]
    return number * scale


def estimate(pipeline: str, volume: str | None, *, last_bench: bool = True) -> dict[str, Any]:
    models = {"alerts_to_sftp": _alerts, "ndjson_to_parquet": _ndjson, "csv_to_api": _csv}
    if pipeline not in models:
        raise LpError(f"no cost model for {pipeline!r} (models: {', '.join(models)})")
    prices = json.loads(PRICES.read_text())
    amount = parse_volume(pipeline, volume)
    lines = models[pipeline](
        amount, prices["prices"], measurements(last_bench=last_bench), DEPLOYED[pipeline]
    )
    total = sum(line.monthly for line in lines)
    return {
        "pipeline": pipeline,
        "volume": volume or STATED_VOLUME[pipeline],
        "per_day": amount,
        "prices_date": prices["as_of"],
        "region": prices["region"],
        "lines": [line.as_dict() for line in lines],
        "monthly_usd": round(total, 2),
    }


def _lambda(
    name: str, invocations: float, seconds_each: float, memory_mb: int, p: dict, basis: str
) -> list[Line]:
    month = invocations * DAYS_PER_MONTH
    return [
        Line(
            f"Lambda {name} compute",
            month * seconds_each * memory_mb / 1024,
            "GB-s",
            p["lambda_gb_second"],
            basis,
        ),
        Line(
            f"Lambda {name} requests",
            month / 1e6,
            "million requests",
            p["lambda_requests_per_million"],
            "count",
        ),
    ]


def _logs(invocations: float, log_bytes: float, p: dict) -> Line:
    gigabytes = invocations * log_bytes * DAYS_PER_MONTH / 1e9
    price = p["cloudwatch_logs_ingest_gb"]
    return Line("CloudWatch Logs ingestion", gigabytes, "GB", price, "assumed log volume")


def _alerts(alerts: float, p: dict, m: dict[str, tuple[float, str]], d: dict) -> list[Line]:
    files_per_s, files_basis = m["sftp_upload.files_per_s"]
    rows_per_s, rows_basis = m["alert_staging.rows_per_s"]
    if files_per_s <= 0 or rows_per_s <= 0:
        raise LpError("no measured SFTP or staging rate: run `make bench` (or fill docs/cost/measured.json)")
    mean_bytes, _ = m["alert_bytes_mean"]
    finalizer_ms, finalizer_basis = m["finalizer_ms_per_run"]
    log_bytes, _ = m["log_bytes_per_invocation"]
    worker_invocations = math.ceil(alerts / d["worker_batch_size"])
    invocations = 1 + worker_invocations + d["finalizer_runs_per_day"]
    lines = [
        *_lambda("alert-coordinator", 1, alerts / rows_per_s, d["coordinator_memory_mb"], p, rows_basis),
        *_lambda(
            "sftp-worker",
            worker_invocations,
            d["worker_batch_size"] / files_per_s,
            d["worker_memory_mb"],
            p,
            files_basis,
        ),
        *_lambda(
            "alerts-finalizer", d["finalizer_runs_per_day"], finalizer_ms / 1000, 512, p, finalizer_basis
        ),
        # Pointers go out 10 to a batch; Lambda's pollers long-poll (20 s) whether or not work waits.
        Line(
            "SQS requests",
            (alerts / 10 * 2 + d["worker_pollers"] * 86400 / 20) * DAYS_PER_MONTH / 1e6,
            "million requests",
            p["sqs_requests_per_million"],
            "send and delete in batches of 10; 5 pollers long-polling",
        ),
        Line(
            "S3 PUT (staging)",
            alerts * DAYS_PER_MONTH / 1e3,
            "thousand",
            p["s3_put_per_thousand"],
            "one object per alert",
        ),
        Line(
            "S3 GET (worker)",
            alerts * DAYS_PER_MONTH / 1e3,
            "thousand",
            p["s3_get_per_thousand"],
            "one read per alert",
        ),
        Line(
            "S3 storage (staged alerts)",
            alerts * mean_bytes * d["staging_expiration_days"] / 1e9,
            "GB-month",
            p["s3_storage_gb_month"],
            f"kept {d['staging_expiration_days']} days",
        ),
        Line(
            "ALB hours",
            24 * DAYS_PER_MONTH,
            "hour",
            p["alb_hour"],
            "always on; its LCUs at a few requests a day come to less than a cent",
        ),
        Line(
            "Scheduler invocations",
            d["finalizer_runs_per_day"] * DAYS_PER_MONTH / 1e6,
            "million",
            p["scheduler_invocations_per_million"],
            "rate(5 minutes)",
        ),
        _logs(invocations, log_bytes, p),
    ]
    return lines


def _ndjson(volume_bytes: float, p: dict, m: dict[str, tuple[float, str]], d: dict) -> list[Line]:
    mb_per_s, mb_basis = m["ndjson_to_parquet.mb_per_s"]
    file_bytes, _ = m["ndjson_file_bytes_mean"]
    ratio, ratio_basis = m["parquet_bytes_per_input_byte"]
    builder_ms, builder_basis = m["manifest_builder_ms_per_batch"]
    updater_ms, updater_basis = m["status_updater_ms_per_manifest"]
    log_bytes, _ = m["log_bytes_per_invocation"]
    files = math.ceil(volume_bytes / file_bytes)
    manifests = max(
        math.ceil(files / d["max_files_per_manifest"]), math.ceil(volume_bytes / d["max_bytes_per_manifest"])
    )
    manifest_bytes = volume_bytes / manifests
    glue_seconds = max(60.0, manifest_bytes / (mb_per_s * 1e6) + 30)  # 1-minute minimum, ~30 s start
    polls = math.ceil(glue_seconds / d["glue_poll_seconds"])
    builder_batches = math.ceil(files / d["builder_batch_size"]) + d["flush_runs_per_day"]
    invocations = builder_batches + manifests
    retention = d["landing_expiration_days"]
    return [
        *_lambda(
            "manifest-builder", builder_batches, builder_ms / 1000, d["builder_memory_mb"], p, builder_basis
        ),
        *_lambda(
            "batch-status-updater", manifests, updater_ms / 1000, d["updater_memory_mb"], p, updater_basis
        ),
        Line(
            "Glue Python shell",
            manifests * glue_seconds / 3600 * d["glue_max_capacity"] * DAYS_PER_MONTH,
            "DPU-hour",
            p["glue_dpu_hour"],
            f"{mb_basis}; {manifests} runs/day of {manifest_bytes / 1e9:.1f} GB",
        ),
        Line(
            "Step Functions transitions",
            manifests * (12 + 3 * polls) * DAYS_PER_MONTH / 1e3,
            "thousand",
            p["sfn_transitions_per_thousand"],
            f"12 + 3 per {d['glue_poll_seconds']} s poll",
        ),
        Line(
            "SQS requests",
            files * 3 * DAYS_PER_MONTH / 1e6 + 86400 / 20 * 5 * DAYS_PER_MONTH / 1e6,
            "million requests",
            p["sqs_requests_per_million"],
            "notify, receive, delete per file; pollers",
        ),
        Line(
            "DynamoDB writes",
            files * 6 * DAYS_PER_MONTH / 1e6,
            "million WRU",
            p["dynamodb_write_per_million"],
            "per file: track, claim, complete, each with its GSI write",
        ),
        Line(
            "DynamoDB reads",
            files * 4 * DAYS_PER_MONTH / 1e6,
            "million RRU",
            p["dynamodb_read_per_million"],
            "claims and status queries",
        ),
        Line(
            "S3 GET (Glue reads)",
            (files + manifests) * DAYS_PER_MONTH / 1e3,
            "thousand",
            p["s3_get_per_thousand"],
            "each file once, each manifest once",
        ),
        Line(
            "S3 PUT (manifests, Parquet parts)",
            manifests * (2 + math.ceil(manifest_bytes * ratio / 128e6)) * DAYS_PER_MONTH / 1e3,
            "thousand",
            p["s3_put_per_thousand"],
            "multipart parts of 128 MB",
        ),
        Line(
            "S3 storage (landing NDJSON)",
            volume_bytes * retention / 1e9,
            "GB-month",
            p["s3_storage_gb_month"],
            f"kept {retention} days: the steady state",
        ),
        Line(
            "S3 storage (Parquet output)",
            volume_bytes * ratio * DAYS_PER_MONTH / 2 / 1e9,
            "GB-month",
            p["s3_storage_gb_month"],
            "never expired: the first month's average, growing each month;"
            f" {ratio_basis.split(':')[0]} ratio {ratio}",
        ),
        _logs(invocations, log_bytes, p),
        Line(
            "Scheduler invocations",
            d["flush_runs_per_day"] * DAYS_PER_MONTH / 1e6,
            "million",
            p["scheduler_invocations_per_million"],
            "orphan flush",
        ),
    ]


def _csv(rows: float, p: dict, m: dict[str, tuple[float, str]], d: dict) -> list[Line]:
    """Rows through the shared rate limit: the caller's compute is mostly waiting for its send times, so
    it follows how many chunks share the limit at once, not the rows' size."""
    rows_per_file, file_basis = m["csv_rows_per_file"]
    row_bytes, row_basis = m["csv_row_bytes"]
    caller_rate, caller_basis = m["csv_caller.rows_per_s"]
    planner_mb_per_s, planner_basis = m["csv_planner_mb_per_s"]
    report_ms, report_basis = m["csv_report_ms_per_file"]
    starter_ms, starter_basis = m["csv_starter_ms_per_batch"]
    outcome_bytes, outcome_basis = m["csv_row_outcome_item_bytes"]
    log_bytes, _ = m["log_bytes_per_invocation"]
    per_second = max(1, math.floor(d["rate_limit"] * d["rate_utilization"]))  # the limiter's lattice
    if rows > per_second * 86400:
        raise LpError(f"{rows:,.0f} rows a day: more than a rate limit of {per_second}/s lets through")
    files = math.ceil(rows / rows_per_file)
    file_bytes = rows_per_file * row_bytes
    chunks_per_file = max(1, math.ceil(file_bytes / d["chunk_bytes"]))
    chunks = files * chunks_per_file
    # One file at a time (files spread over the day): its Map runs max_concurrency chunks at once, and
    # they share the limit; one invocation alone is bounded by its requests in flight.
    in_flight = min(d["max_concurrency"], chunks_per_file)
    rate = min(per_second / in_flight, caller_rate)
    chunk_seconds = rows_per_file / chunks_per_file / rate
    invocations_per_chunk = math.ceil(chunk_seconds / (d["caller_timeout_s"] - d["caller_deadline_margin_s"]))
    caller_invocations = chunks * invocations_per_chunk
    planner_seconds = (file_bytes / (planner_mb_per_s * 1e6) + report_ms / 1000) / 2
    invocations = files + 2 * files + caller_invocations
    gets_per_chunk = math.ceil((d["chunk_bytes"] + row_bytes) / d["caller_block_bytes"])
    transitions = files * 6 + chunks * 4 + chunks * (invocations_per_chunk - 1) * 3
    if per_second / in_flight < caller_rate:
        wait = (
            f"{in_flight} at once share {per_second}/s: {rate:.0f} rows/s each, mostly waiting for send times"
        )
    else:
        wait = f"{rate:.0f} rows/s each, {caller_basis}"
    return [
        *_lambda("csv-ingest-starter", files, starter_ms / 1000, d["starter_memory_mb"], p, starter_basis),
        *_lambda(
            "csv-file-planner",
            2 * files,
            planner_seconds,
            d["planner_memory_mb"],
            p,
            f"{planner_basis}; {report_basis}",
        ),
        *_lambda(
            "csv-api-caller",
            caller_invocations,
            chunk_seconds / invocations_per_chunk,
            d["caller_memory_mb"],
            p,
            f"{chunks_per_file} chunks a file, {wait}",
        ),
        Line(
            "Step Functions transitions",
            transitions * DAYS_PER_MONTH / 1e3,
            "thousand",
            p["sfn_transitions_per_thousand"],
            "6 a file (Plan, HasRows, SendChunks, Report...), 4 a chunk (Stagger, Call, MoreRows, ChunkDone)",
        ),
        Line(
            "DynamoDB writes",
            (rows * (1 + 1 / 8) + files * 4 + chunks) * DAYS_PER_MONTH / 1e6,
            "million WRU",
            p["dynamodb_write_per_million"],
            "a row: its outcome, 1/8 of a limiter update; a file: 4 status writes; a chunk: its summary",
        ),
        Line(
            "DynamoDB reads",
            (caller_invocations + files * 4) * DAYS_PER_MONTH / 1e6,
            "million RRU",
            p["dynamodb_read_per_million"],
            "per invocation: the chunk's known outcomes; per file: status, chunk summaries, rejects",
        ),
        Line(
            "DynamoDB storage (row outcomes)",
            rows * d["row_retention_days"] * outcome_bytes / 1e9,
            "GB-month",
            p["dynamodb_storage_gb_month"],
            f"kept {d['row_retention_days']} days; {outcome_basis}",
        ),
        Line(
            "SQS requests",
            (files * 3 + d["starter_pollers"] * 86400 / 20) * DAYS_PER_MONTH / 1e6,
            "million requests",
            p["sqs_requests_per_million"],
            "send, receive, delete per file; 5 pollers long-polling",
        ),
        Line(
            "S3 PUT (uploads, reports)",
            files * 3 * DAYS_PER_MONTH / 1e3,
            "thousand",
            p["s3_put_per_thousand"],
            "the upload, the JSON report and the rejects CSV",
        ),
        Line(
            "S3 GET (ranged reads)",
            (files * math.ceil(file_bytes / d["planner_block_bytes"]) + chunks * gets_per_chunk)
            * DAYS_PER_MONTH
            / 1e3,
            "thousand",
            p["s3_get_per_thousand"],
            "the planner reads each file once in 4 MiB blocks, the caller each chunk in 1 MiB blocks",
        ),
        Line(
            "S3 storage (uploads)",
            rows * row_bytes * d["upload_expiration_days"] / 1e9,
            "GB-month",
            p["s3_storage_gb_month"],
            f"kept {d['upload_expiration_days']} days; {file_basis}; {row_basis}",
        ),
        Line(
            "CloudWatch custom metrics",
            CSV_METRICS,
            "metric-month",
            p["cloudwatch_custom_metric_month"],
            "the caller's EMF metrics, dimension service",
        ),
        _logs(invocations, log_bytes, p),
    ]


def _price(value: float) -> str:
    text = f"{value:.10f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def markdown(estimate_: dict[str, Any]) -> str:
    """The estimate as a Markdown table (docs/cost.md holds one per stated volume)."""
    rows = [
        f"| {line['item']} | {line['quantity']:,} {line['unit']} | {_price(line['unit_price_usd'])} | "
        f"{line['monthly_usd']:,.2f} | {line['basis']} |"
        for line in estimate_["lines"]
    ]
    return "\n".join(
        [
            f"`lp cost {estimate_['pipeline']} --volume {estimate_['volume']}` (per day; prices of"
            f" {estimate_['prices_date']}, {estimate_['region']}):",
            "",
            "| item | per month | unit price (USD) | USD per month | basis |",
            "|---|---|---|---|---|",
            *rows,
            f"| **total** | | | **{estimate_['monthly_usd']:,.2f}** | |",
        ]
    )
