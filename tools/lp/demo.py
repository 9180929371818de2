"""`make demo` / `lp demo [pipeline]`: start the local stack if needed, deploy, run every pipeline on
sample data with progress bars, and print what went in, what came out and where to look.

Each step drives the deployed graph exactly as production is driven (the alerts job through the
trigger ALB with the Airflow DAG's client, NDJSON files through the landing bucket) and invokes a
scheduled function directly only where the schedule would otherwise keep the demo waiting (the
alerts finalizer, the NDJSON orphan flush). A second run is harmless: it makes a new job and a new
folder of files, and the pipelines' idempotency is what the rest of the repo tests.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lp.deployment import REPO, Deployment, LpError

console = Console(highlight=False)
NDJSON_FILES = 60
NDJSON_ROWS_PER_FILE = 400
STEP_TIMEOUT_SECONDS = 600


@dataclass
class Summary:
    pipeline: str
    ok: bool
    went_in: str
    came_out: str
    seconds: float
    where: list[tuple[str, str]] = field(default_factory=list)
    # Run after the other steps: what is left to wait for (the Airflow DAG run's last sensor poke).
    finish: Callable[[], None] | None = None


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _wait(condition: Callable[[], bool], what: str, timeout: float = STEP_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise LpError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(1)


def _invoke(deployment: Deployment, function: str, payload: dict[str, Any]) -> dict[str, Any]:
    response = deployment.client("lambda").invoke(FunctionName=function, Payload=json.dumps(payload).encode())
    body = response["Payload"].read()
    if "FunctionError" in response:
        raise LpError(f"{function} failed: {body[:500]!r}")
    return dict(json.loads(body or b"{}"))


# --- 000 alerts to SFTP --------------------------------------------------------------------------


def alerts_step(deployment: Deployment, stack: dict[str, str]) -> Summary:
    from alerts_client import job_status
    from lp import alerts

    pipeline = deployment.pipeline("alerts_to_sftp")
    started = time.monotonic()
    url, secret = alerts._endpoint(deployment)
    with _progress() as progress:
        staging = progress.add_task("alerts: fetch, stage and queue", total=None)
        trigger = AlertsTrigger.start(deployment, url, secret)
        _wait(lambda: trigger.job_open(url, secret), "the job to be staged and queued")
        summary = job_status(url, secret, trigger.job_id)
        # The DAG runs one job a day: a second demo the same day finds it done, and sends nothing twice.
        again = summary["state"] == "finalized"
        total = int(summary["alert_count"] or 0)
        progress.update(staging, total=total, completed=total)
        uploads = progress.add_task("alerts: upload to the SFTP server", total=total)

        def uploaded() -> bool:
            done = job_status(url, secret, trigger.job_id)["alerts"].get("completed", 0)
            progress.update(uploads, completed=done)
            return bool(done >= total)

        _wait(uploaded, f"{total} alerts uploaded")
        closing = progress.add_task("alerts: finalize the job", total=1)
        _invoke(deployment, pipeline["functions"]["finalizer"], {})  # what the 5-minute schedule does
        _wait(
            lambda: job_status(url, secret, trigger.job_id)["state"] == "finalized", "the job finalized", 60
        )
        trigger.finish()  # the DAG's sensor sees the job finalized at its next poke
        progress.update(closing, completed=1)
    upload_dir = Path(stack["SFTP_LOCAL_DIR"]) / trigger.job_id
    files = list(upload_dir.iterdir()) if upload_dir.is_dir() else []
    size = sum(path.stat().st_size for path in files)
    return Summary(
        "alerts_to_sftp (000)",
        ok=len(files) == total and total > 0,
        went_in=f"{total} alerts from the partner API (20 statuses), job {trigger.job_id} via {trigger.via}",
        came_out=(
            f"{len(files)} JSON files, {size / 1e6:.1f} MB, on the SFTP server; job finalized"
            + (" (by an earlier run today: nothing was sent twice)" if again else "")
        ),
        seconds=time.monotonic() - started,
        where=[
            ("SFTP folder", f"{stack['SFTP_REMOTE_DIR']}/{trigger.job_id}/ (on disk: {upload_dir})"),
            ("staged alerts", f"s3://{pipeline['staging_bucket']}/staged/{trigger.job_id}/"),
            ("job", f"lp alerts job {trigger.job_id}"),
            ("dead letters", "lp dlq show alerts_to_sftp"),
        ],
        # The DAG's sensor sees the job finalized at its next poke (every 60 s): the other pipelines
        # run meanwhile.
        finish=trigger.finish,
    )


AIRFLOW = REPO / ".local" / "venv-airflow" / "bin" / "airflow"
AIRFLOW_HOME = REPO / ".local" / "airflow"


@dataclass
class AlertsTrigger:
    """How the demo's alerts job starts: as production does, through the Airflow DAG
    (airflow/dags/alerts_to_sftp.py) run by a real Airflow (`airflow dags test`, SQLite metadata
    database in .local/airflow); where Airflow is not installed, with the DAG's own client."""

    job_id: str
    via: str
    process: subprocess.Popen[str] | None = None

    @classmethod
    def start(cls, deployment: Deployment, url: str, secret: str) -> AlertsTrigger:
        from lp import alerts

        now = datetime.now(UTC)
        if not AIRFLOW.exists():
            job_id = f"demo-{now.strftime('%Y%m%dT%H%M%S')}"
            alerts.trigger(deployment, job_id, None)
            return cls(job_id, "the Airflow DAG's client (no Airflow in .local/venv-airflow)")
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(AIRFLOW_HOME),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "airflow" / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            # The DAG's one connection, as MWAA would hold it in Secrets Manager.
            "AIRFLOW_CONN_ALERTS_TRIGGER": json.dumps({"conn_type": "http", "host": url, "password": secret}),
        }
        AIRFLOW_HOME.mkdir(parents=True, exist_ok=True)
        migrated = subprocess.run(
            [str(AIRFLOW), "db", "migrate"], env=env, capture_output=True, text=True, check=False
        )
        if migrated.returncode != 0:
            raise LpError(f"airflow db migrate failed: {migrated.stderr[-800:]}")
        log = (AIRFLOW_HOME / "dags-test.log").open("w")
        process = subprocess.Popen(
            [str(AIRFLOW), "dags", "test", "alerts_to_sftp", now.strftime("%Y-%m-%dT%H:%M:%S+00:00")],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        # The DAG names the job after the logical date (airflow-<ds_nodash>): one job a day.
        return cls(
            f"airflow-{now.strftime('%Y%m%d')}", "Airflow (`airflow dags test alerts_to_sftp`)", process
        )

    def job_open(self, url: str, secret: str) -> bool:
        from alerts_client import TriggerError, job_status

        if self.process is not None and self.process.poll() not in (None, 0):
            raise LpError(f"the Airflow DAG run failed: see {AIRFLOW_HOME / 'dags-test.log'}")
        try:
            return job_status(url, secret, self.job_id)["state"] in ("open", "finalized")
        except TriggerError as error:
            if error.status == 404:  # not created yet
                return False
            raise

    def finish(self) -> None:
        if self.process is None:
            return
        try:
            code = self.process.wait(timeout=180)
        except subprocess.TimeoutExpired as error:
            self.process.kill()
            raise LpError("the Airflow DAG run did not end after the job was finalized") from error
        if code != 0:
            raise LpError(f"the Airflow DAG run failed (exit {code}): see {AIRFLOW_HOME / 'dags-test.log'}")


# --- 001 NDJSON to Parquet -----------------------------------------------------------------------


def sample_ndjson(index: int, rows: int, rng: random.Random) -> bytes:
    """An hour of click events: varied types, nested objects, keys that come and go."""
    lines = []
    for row in range(rows):
        event: dict[str, Any] = {
            "event_id": f"e-{index:03d}-{row:05d}",
            "user_id": rng.randrange(1, 5000),
            "action": rng.choice(["view", "click", "add_to_cart", "purchase"]),
            "amount": f"{rng.uniform(1, 500):.2f}" if row % 7 == 0 else None,
            "page": {"path": f"/p/{rng.randrange(1, 300)}", "ref": rng.choice(["ads", "mail", None])},
            "at": f"2026-12-03T{index % 24:02d}:{row % 60:02d}:{rng.randrange(60):02d}Z",
        }
        if row % 5 == 0:
            event["tags"] = rng.sample(["new", "mobile", "eu", "beta", "vip"], 2)
        lines.append(json.dumps(event, separators=(",", ":")))
    return ("\n".join(lines) + "\n").encode()


def ndjson_step(deployment: Deployment, stack: dict[str, str]) -> Summary:
    pipeline = deployment.pipeline("ndjson_to_parquet")
    s3, dynamodb = deployment.client("s3"), deployment.client("dynamodb")
    started = time.monotonic()
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    folder = f"demo-{datetime.now(UTC).strftime('%H%M%S')}"
    prefix = f"{pipeline['landing_prefix'].rstrip('/')}/{today}/{folder}/"
    rng = random.Random(7)  # noqa: S311 (sample data)
    bodies = {
        f"events-{i:03d}.ndjson": sample_ndjson(i, NDJSON_ROWS_PER_FILE, rng) for i in range(NDJSON_FILES)
    }
    bodies["events-bad.ndjson"] = b'{"event_id": "broken", \n'  # quarantined, with its reason
    valid_rows = NDJSON_FILES * NDJSON_ROWS_PER_FILE

    def records() -> dict[str, tuple[str, str | None]]:
        """The run folder's file records: key -> (status without its shard, manifest id)."""
        found: dict[str, tuple[str, str | None]] = {}
        pages = dynamodb.get_paginator("query").paginate(
            TableName=pipeline["tracking_table"],
            KeyConditionExpression="date_prefix = :day AND begins_with(file_key, :folder)",
            ExpressionAttributeValues={":day": {"S": today}, ":folder": {"S": f"{folder}/"}},
            ConsistentRead=True,
        )
        for page in pages:
            for item in page["Items"]:
                manifest_id = item.get("manifest_id", {}).get("S")
                found[item["file_key"]["S"]] = (item["status"]["S"].rsplit("#", 1)[0], manifest_id)
        return found

    with _progress() as progress:
        landing = progress.add_task("ndjson: land files in S3", total=len(bodies))
        with ThreadPoolExecutor(8) as pool:
            for _ in pool.map(
                lambda item: s3.put_object(
                    Bucket=pipeline["input_bucket"], Key=prefix + item[0], Body=item[1]
                ),
                bodies.items(),
            ):
                progress.advance(landing)
        tracked = progress.add_task("ndjson: validate and track", total=len(bodies))

        def all_tracked() -> bool:
            count = len(records())
            progress.update(tracked, completed=count)
            return count == len(bodies)

        _wait(all_tracked, "every file tracked")
        converted = progress.add_task("ndjson: manifests -> Glue -> Parquet", total=len(bodies))

        def all_final() -> bool:
            states = [state for state, _ in records().values()]
            if "pending" in states:
                # The rest waits for the orphan flush (every few minutes): run it now, as it would.
                _invoke(
                    deployment,
                    pipeline["functions"]["manifest_builder"],
                    {"action": "flush", "date_prefixes": [today]},
                )
            done = sum(1 for state in states if state in ("completed", "failed"))
            progress.update(converted, completed=done)
            return done == len(bodies)

        _wait(all_final, "every file converted or quarantined")
    final = records()
    manifests = {manifest_id for _, manifest_id in final.values() if manifest_id}
    rows, parts, size = _parquet_rows(s3, pipeline["output_bucket"], today, manifests)
    quarantined = sorted(key for key, (state, _) in final.items() if state == "failed")
    output = f"s3://{pipeline['output_bucket']}/pipeline/output/merged-parquet-{today}/"
    return Summary(
        "ndjson_to_parquet (001)",
        ok=rows == valid_rows and quarantined == [f"{folder}/events-bad.ndjson"],
        went_in=(
            f"{len(bodies)} NDJSON files ({sum(map(len, bodies.values())) / 1e6:.1f} MB,"
            f" {valid_rows} rows; one malformed)"
        ),
        came_out=(
            f"{rows} Parquet rows in {parts} file(s) ({size / 1e6:.1f} MB) from {len(manifests)} manifest(s);"
            f" {len(quarantined)} file quarantined"
        ),
        seconds=time.monotonic() - started,
        where=[
            ("landing", f"s3://{pipeline['input_bucket']}/{prefix}"),
            ("Parquet", output + " (" + ", ".join(sorted(manifests)) + ")"),
            ("quarantine", f"s3://{pipeline['quarantine_bucket']}/quarantine/{today}/{folder}/"),
            ("manifests", f"lp ndjson manifests --date {today}"),
            ("files", f"lp ndjson files --date {today}"),
        ],
    )


def _parquet_rows(s3: Any, bucket: str, today: str, manifests: set[str]) -> tuple[int, int, int]:
    import pyarrow.parquet as pq

    rows = parts = size = 0
    for manifest_id in manifests:
        prefix = f"pipeline/output/merged-parquet-{today}/{manifest_id}-part-"
        for obj in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            rows += pq.read_metadata(io.BytesIO(body)).num_rows
            parts += 1
            size += len(body)
    return rows, parts, size


# --- 002 CSV to API ---------------------------------------------------------------------------------

CSV_FILES = 3
CSV_ROWS_PER_FILE = 2_000


def sample_csv(index: int, rows: int, rng: random.Random) -> tuple[bytes, int]:
    """An orders CSV (the local root's ``orders`` feed) with quoted commas and line breaks, and a few bad
    rows; returns the body and how many rows are bad."""
    import csv

    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["order_id", "customer", "amount", "email", "note"])
    bad = 0
    for row in range(1, rows + 1):
        note = rng.choice(["", "gift, wrapped", 'says "rush"', "leave at\nthe door"])
        amount = f"{rng.randrange(1, 99999) / 100:.2f}"
        fields = [
            str(index * 100_000 + row),
            f"customer-{rng.randrange(500)}",
            amount,
            f"c{row}@example.com",
            note,
        ]
        if row % 500 == 0:  # a handful of rows the feed's schema rejects
            fields[2], bad = "n/a", bad + 1
        writer.writerow(fields)
    return out.getvalue().encode(), bad


def csv_step(deployment: Deployment, stack: dict[str, str]) -> Summary:
    pipeline = deployment.pipeline("csv_to_api")
    from csv_to_api.contract import make_file_id

    from lp import csv as lp_csv

    s3 = deployment.client("s3")
    started = time.monotonic()
    folder = f"{pipeline['incoming_prefix']}orders/demo-{datetime.now(UTC).strftime('%H%M%S')}/"
    rng = random.Random(11)  # noqa: S311 (sample data)
    samples = {f"{folder}orders-{i}.csv": sample_csv(i, CSV_ROWS_PER_FILE, rng) for i in range(CSV_FILES)}
    bad_rows = sum(bad for _, bad in samples.values())
    file_ids: dict[str, str] = {}
    with _progress() as progress:
        upload = progress.add_task("csv: upload files to S3", total=len(samples))
        for key, (body, _) in samples.items():
            put = s3.put_object(Bucket=pipeline["upload_bucket"], Key=key, Body=body)
            file_ids[key] = make_file_id(pipeline["upload_bucket"], key, put["ETag"])
            progress.advance(upload)
        finished = progress.add_task("csv: rows sent and reported", total=len(samples))

        def all_final() -> bool:
            done = 0
            for file_id in file_ids.values():
                with contextlib.suppress(LpError):  # not recorded yet
                    done += lp_csv.file(deployment, file_id).get("status") in lp_csv.FINAL
            progress.update(finished, completed=done)
            return done == len(samples)

        _wait(all_final, "every CSV file reported")
    records = [lp_csv.file(deployment, file_id) for file_id in file_ids.values()]
    counts = {
        name: sum(r.get("counts", {}).get(name, 0) for r in records)
        for name in ("accepted", "already_accepted", "rejected")
    }
    total = CSV_FILES * CSV_ROWS_PER_FILE
    return Summary(
        "csv_to_api (002)",
        ok=counts["rejected"] == bad_rows
        and counts["accepted"] + counts["already_accepted"] == total - bad_rows,
        went_in=f"{len(samples)} CSV files, {total} rows ({bad_rows} with a bad amount)",
        came_out=(
            f"{counts['accepted'] + counts['already_accepted']} rows accepted by the records API at most "
            f"{pipeline['rate_limit']}/s; {counts['rejected']} rejected, each in its file's report"
        ),
        seconds=time.monotonic() - started,
        where=[
            ("uploads", f"s3://{pipeline['upload_bucket']}/{folder}"),
            ("reports", f"s3://{pipeline['results_bucket']}/reports/<file id>.json (+ .rejects.csv)"),
            ("files", "lp csv files; lp csv file <file id>"),
            ("API", f"{pipeline.get('records_api_url', 'the partner API')}/_records"),
        ],
    )


# --- the whole demo ------------------------------------------------------------------------------

STEPS: dict[str, Callable[[Deployment, dict[str, str]], Summary]] = {
    "alerts_to_sftp": alerts_step,
    "ndjson_to_parquet": ndjson_step,
    "csv_to_api": csv_step,
}


def run(only: str | None = None) -> int:
    from devstack import stack, terraform

    if only is not None and only not in STEPS:
        raise LpError(f"no pipeline {only!r} (pipelines: {', '.join(STEPS)})")
    began = time.monotonic()
    console.rule("[bold]lambda-pipelines demo")
    console.print("starting the local stack (what is not running yet)...")
    stack.start_all(progress=True)
    environment = stack.stack_env()
    os.environ.update(environment)  # every client below talks to the local stack
    up = time.monotonic()
    with console.status("terraform apply (environments/local): the same graph AWS gets..."):
        terraform.apply(capture=True)
    deployed = time.monotonic()
    console.print(f"deployed in {deployed - up:.0f}s")
    deployment = Deployment(terraform.outputs())
    summaries = []
    for name, step in STEPS.items():
        if only in (None, name):
            console.rule(name)
            try:
                summaries.append(step(deployment, environment))
            except LpError as error:
                summaries.append(Summary(name, False, "-", f"FAILED: {error}", 0.0))
    for summary in summaries:
        if summary.finish is not None:
            with console.status(f"{summary.pipeline}: waiting for the Airflow DAG run to end..."):
                waited = time.monotonic()
                try:
                    summary.finish()
                    summary.where.append(("Airflow run", f"succeeded; log {AIRFLOW_HOME / 'dags-test.log'}"))
                except LpError as error:
                    summary.ok = False
                    summary.came_out += f"; FAILED: {error}"
                summary.seconds += time.monotonic() - waited
    _print(summaries, stack_seconds=up - began, deploy_seconds=deployed - up, total=time.monotonic() - began)
    return 0 if all(s.ok for s in summaries) else 1


def _print(summaries: list[Summary], *, stack_seconds: float, deploy_seconds: float, total: float) -> None:
    console.rule("[bold]summary")
    for summary in summaries:
        table = Table(title=f"{summary.pipeline}: {'done' if summary.ok else 'FAILED'}", show_header=False)
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")  # paths are for copying: wrapped, never cut
        table.add_row("in", summary.went_in)
        table.add_row("out", summary.came_out)
        table.add_row("time", f"{summary.seconds:.0f}s")
        for label, where in summary.where:
            table.add_row(label, where)
        console.print(table)
    console.print(
        f"stack {stack_seconds:.0f}s, deploy {deploy_seconds:.0f}s, pipelines "
        f"{sum(s.seconds for s in summaries):.0f}s, total {total:.0f}s"
    )
    console.print("next: `lp --help` (jobs, files, dead letters), `make down` to stop the stack")
