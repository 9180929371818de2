"""`lp`: operate lambda-pipelines against the local stack or an AWS account (see the README, "Operating").

Every command reads the deployment's names from ``terraform output`` of ``--root`` (default: the local
root) or from ``--outputs <file>``; prints a table, or JSON with ``--json``; and exits non-zero with
one clear line when a name, a credential or the stack is wrong.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from lp.deployment import LOCAL_ROOT, Deployment, LpError, load_outputs
from lp.output import emit

app = typer.Typer(
    name="lp",
    help="Operate the lambda-pipelines pipelines: stack, jobs, files, dead letters, demo, cost.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
stack_app = typer.Typer(
    help="The local stack: ministack, MariaDB, sshd and the fake APIs.", no_args_is_help=True
)
alerts_app = typer.Typer(help="Alerts to SFTP (000): trigger and follow jobs.", no_args_is_help=True)
ndjson_app = typer.Typer(help="NDJSON to Parquet (001): files, manifests, breaker.", no_args_is_help=True)
breaker_app = typer.Typer(help="The NDJSON pipeline's circuit breaker.", no_args_is_help=True)
dlq_app = typer.Typer(help="Every dead-letter queue of every pipeline.", no_args_is_help=True)
csv_app = typer.Typer(
    help="CSV to API (002): send a file, files, a file's status and report.", no_args_is_help=True
)
app.add_typer(stack_app, name="stack")
app.add_typer(alerts_app, name="alerts")
app.add_typer(ndjson_app, name="ndjson")
ndjson_app.add_typer(breaker_app, name="breaker")
app.add_typer(dlq_app, name="dlq")
app.add_typer(csv_app, name="csv")


@dataclass
class Context:
    root: Path
    outputs_file: Path | None
    profile: str | None
    json: bool
    _deployment: Deployment | None = None

    @property
    def deployment(self) -> Deployment:
        if self._deployment is None:
            self._deployment = Deployment(load_outputs(self.root, self.outputs_file), profile=self.profile)
        return self._deployment


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]


@app.callback()
def _options(
    ctx: typer.Context,
    root: Annotated[
        Path, typer.Option(envvar="LP_ROOT", help="Terraform environment root whose outputs name everything.")
    ] = LOCAL_ROOT,
    outputs: Annotated[
        Path | None,
        typer.Option(envvar="LP_OUTPUTS", help="A saved `terraform output -json` instead of --root."),
    ] = None,
    profile: Annotated[
        str | None, typer.Option(envvar="AWS_PROFILE", help="AWS profile (not for local).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    ctx.obj = Context(root, outputs, profile, as_json)


def _ctx(ctx: typer.Context, as_json: bool) -> Context:
    state: Context = ctx.find_root().obj
    state.json = state.json or as_json
    return state


# --- stack -------------------------------------------------------------------------------------


@stack_app.command("up")
def stack_up(
    deploy: Annotated[bool, typer.Option(help="Also build and apply the local root.")] = True,
) -> None:
    """Start what of the local stack is down (and deploy the local Terraform root)."""
    from lp import stack

    stack.up(deploy=deploy)


@stack_app.command("down")
def stack_down() -> None:
    """Stop everything `lp stack up` started."""
    from lp import stack

    stack.down()


@stack_app.command("status")
def stack_status(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """What of the local stack runs; exit 1 when a part is down."""
    from lp import stack

    state = _ctx(ctx, as_json)
    rows = stack.status()
    emit(rows, as_json=state.json, columns=["part", "state", "pid", "address"], title="local stack")
    if any(row["state"] != "up" for row in rows):
        raise typer.Exit(1)


# --- demo and cost -----------------------------------------------------------------------------


@app.command("demo")
def demo(
    pipeline: Annotated[str | None, typer.Argument(help="One pipeline (default: every pipeline).")] = None,
) -> None:
    """Run the pipelines end to end on sample data and print what went in and came out."""
    from lp import demo as demo_module

    raise typer.Exit(demo_module.run(pipeline))


@app.command("cost")
def cost(
    ctx: typer.Context,
    pipeline: Annotated[str, typer.Argument(help="alerts_to_sftp | ndjson_to_parquet")],
    volume: Annotated[
        str | None,
        typer.Option(help="Daily volume: '2000' alerts, or '1TB' of NDJSON (default: the stated one)."),
    ] = None,
    as_json: JsonOption = False,
    markdown: Annotated[
        bool,
        typer.Option("--markdown", help="Print the Markdown table of docs/cost.md (committed figures only)."),
    ] = False,
) -> None:
    """Monthly AWS cost of a pipeline at a daily volume, from docs/cost/prices.json and benchmark figures."""
    from lp import cost as cost_module

    state = _ctx(ctx, as_json)
    estimate = cost_module.estimate(pipeline, volume, last_bench=not markdown)
    if markdown:
        print(cost_module.markdown(estimate))
        return
    if state.json:
        emit(estimate, as_json=True)
        return
    emit(
        estimate["lines"],
        as_json=False,
        columns=["item", "quantity", "unit", "unit_price_usd", "monthly_usd", "basis"],
        title=(
            f"{pipeline}: {estimate['volume']} per day,"
            f" prices of {estimate['prices_date']} ({estimate['region']})"
        ),
    )
    print(f"total: {estimate['monthly_usd']:.2f} USD per month")


# --- alerts ------------------------------------------------------------------------------------


@alerts_app.command("trigger")
def alerts_trigger(
    ctx: typer.Context,
    job_id: Annotated[
        str | None, typer.Option(help="Job id (default: a new one); re-triggering is safe.")
    ] = None,
    status: Annotated[
        list[int] | None, typer.Option(help="Alert status to fetch (repeat; default all 20).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Start (or resume) an alerts job through the ALB, as the Airflow DAG does."""
    from lp import alerts

    state = _ctx(ctx, as_json)
    summary = alerts.trigger(state.deployment, job_id, status or None)
    emit(summary, as_json=state.json, title=f"job {summary.get('job_id')}")


@alerts_app.command("jobs")
def alerts_jobs(
    ctx: typer.Context,
    state_filter: Annotated[str | None, typer.Option("--state", help="staging | open | finalized")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
    as_json: JsonOption = False,
) -> None:
    """The most recent jobs, newest first."""
    from lp import alerts

    state = _ctx(ctx, as_json)
    rows = alerts.jobs(state.deployment, state_filter, limit)
    emit(
        rows,
        as_json=state.json,
        columns=["job_id", "state", "alert_count", "created_at", "finalized_at"],
        title="alerts jobs",
    )


@alerts_app.command("job")
def alerts_job(ctx: typer.Context, job_id: str, as_json: JsonOption = False) -> None:
    """One job's state and its alerts' counts by state."""
    from lp import alerts

    state = _ctx(ctx, as_json)
    emit(alerts.job(state.deployment, job_id), as_json=state.json, title=f"job {job_id}")


# --- ndjson ------------------------------------------------------------------------------------

DateOption = Annotated[
    str | None, typer.Option("--date", help="The files' day, YYYY-MM-DD (default: today, UTC).")
]


@ndjson_app.command("files")
def ndjson_files(
    ctx: typer.Context,
    date: DateOption = None,
    status: Annotated[
        list[str] | None, typer.Option(help="pending | manifested | completed | failed")
    ] = None,
    limit: Annotated[int, typer.Option(min=1)] = 100,
    as_json: JsonOption = False,
) -> None:
    """A day's files and where each is: pending, in a manifest, converted or failed (with why)."""
    from lp import ndjson

    state = _ctx(ctx, as_json)
    day = date or ndjson.today()
    rows = ndjson.files(state.deployment, day, tuple(status or ndjson.FILE_STATUSES), limit)
    emit(
        rows,
        as_json=state.json,
        columns=["file", "status", "bytes", "manifest", "reason"],
        title=f"NDJSON files of {day}",
    )


@ndjson_app.command("manifests")
def ndjson_manifests(
    ctx: typer.Context,
    date: DateOption = None,
    status: Annotated[
        list[str] | None, typer.Option(help="pending | processing | completed | failed")
    ] = None,
    limit: Annotated[int, typer.Option(min=1)] = 100,
    as_json: JsonOption = False,
) -> None:
    """A day's manifests and their state."""
    from lp import ndjson

    state = _ctx(ctx, as_json)
    day = date or ndjson.today()
    rows = ndjson.manifests(state.deployment, day, tuple(status or ndjson.MANIFEST_STATUSES), limit)
    emit(
        rows,
        as_json=state.json,
        columns=["manifest", "status", "files", "bytes", "glue_run", "error"],
        title=f"manifests of {day}",
    )


@ndjson_app.command("manifest")
def ndjson_manifest(
    ctx: typer.Context, manifest_id: str, date: DateOption = None, as_json: JsonOption = False
) -> None:
    """One manifest: its record and its execution's state."""
    from lp import ndjson

    state = _ctx(ctx, as_json)
    emit(ndjson.manifest(state.deployment, manifest_id, date), as_json=state.json, title=manifest_id)


@ndjson_app.command("reprocess")
def ndjson_reprocess(
    ctx: typer.Context,
    manifest_id: str,
    date: DateOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Start it (without: say what would start).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Run a failed manifest's state machine again, with the input of its last execution."""
    from lp import ndjson

    state = _ctx(ctx, as_json)
    if not yes:
        row = ndjson.manifest(state.deployment, manifest_id, date)
        allowed = row["status"] in ndjson.REPROCESSABLE
        row["would"] = "start a new execution (pass --yes)" if allowed else "nothing: not failed or pending"
        emit(row, as_json=state.json, title=f"dry run: {manifest_id}")
        return
    started = ndjson.reprocess(state.deployment, manifest_id, date, now=datetime.now(UTC))
    emit(started, as_json=state.json, title=f"reprocessing {manifest_id}")


def _breaker(ctx: typer.Context, as_json: bool, *, reset: bool) -> None:
    from lp import ndjson

    state = _ctx(ctx, as_json)
    emit(ndjson.breaker(state.deployment, reset=reset), as_json=state.json, title="circuit breaker")


@breaker_app.command("status")
def breaker_status(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Open or closed, with the failures counted in the deployed window."""
    _breaker(ctx, as_json, reset=False)


@breaker_app.command("reset")
def breaker_reset(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Close the breaker (outcomes so far are ignored); the next flush starts the waiting manifests."""
    _breaker(ctx, as_json, reset=True)


# --- csv ---------------------------------------------------------------------------------------

CSV_COLUMNS = ["file_id", "key", "status", "rows", "accepted", "already", "rejected", "reason", "finished_at"]


@csv_app.command("send")
def csv_send(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A local CSV file.")],
    key: Annotated[
        str | None, typer.Option(help="Object key (default: <incoming prefix><file name>).")
    ] = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait for its report (0: do not wait).")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Upload a CSV under the incoming prefix, as a partner would; print its file id (and, with --wait, its
    outcome)."""
    from lp import csv

    state = _ctx(ctx, as_json)
    emit(csv.send(state.deployment, path, key, wait), as_json=state.json, title="sent")


@csv_app.command("files")
def csv_files(
    ctx: typer.Context,
    status: Annotated[
        list[str] | None,
        typer.Option(help="received | splitting | sending | completed | completed_with_rejects | failed"),
    ] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    as_json: JsonOption = False,
) -> None:
    """Files, newest first, with their status and row counts."""
    from lp import csv

    state = _ctx(ctx, as_json)
    rows = csv.files(state.deployment, tuple(status or ()), limit)
    emit(rows, as_json=state.json, columns=CSV_COLUMNS, title="CSV files")


@csv_app.command("file")
def csv_file(ctx: typer.Context, file_id: str, as_json: JsonOption = False) -> None:
    """One file: status, timings, counts, rejects by reason and the first rejected rows."""
    from lp import csv

    state = _ctx(ctx, as_json)
    emit(csv.file(state.deployment, file_id), as_json=state.json, title=file_id)


@csv_app.command("report")
def csv_report(ctx: typer.Context, file_id: str) -> None:
    """The file's whole JSON report (every rejected row with its reason and raw line)."""
    from lp import csv

    state = _ctx(ctx, True)
    emit(csv.report_of(state.deployment, file_id), as_json=True)


@csv_app.command("executions")
def csv_executions(
    ctx: typer.Context,
    ids: Annotated[
        list[str] | None,
        typer.Argument(help="Only these executions (names, or file ids).", show_default=False),
    ] = None,
    redrive: Annotated[bool, typer.Option("--redrive", help="Start each again as <file id>-r<n>.")] = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="With --redrive: start them (the default is a dry run).")
    ] = False,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    as_json: JsonOption = False,
) -> None:
    """File executions that failed, timed out or were aborted and were not started again since; with
    --redrive, start them again (rows already sent are skipped, a finished file just reports)."""
    from lp import csv

    state = _ctx(ctx, as_json)
    rows = csv.executions(state.deployment, redrive=redrive, yes=yes, ids=tuple(ids or ()), limit=limit)
    if redrive:
        title = "redrive" if yes else "dry run (pass --yes to start them)"
        emit(rows, as_json=state.json, columns=["failed", "status", "new", "action"], title=title)
    else:
        emit(
            rows,
            as_json=state.json,
            columns=["name", "status", "started", "stopped"],
            title="executions to redrive",
        )


# --- dlq ---------------------------------------------------------------------------------------


@dlq_app.command("list")
def dlq_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every dead-letter queue with its depth and the queue it redrives to."""
    from lp import dlq

    state = _ctx(ctx, as_json)
    sqs = state.deployment.client("sqs")
    rows = []
    for queue in dlq.discover(state.deployment.outputs):
        visible, in_flight = dlq.depth(sqs, queue.dlq_url)
        rows.append(
            {
                "queue": queue.id,
                "messages": visible,
                "in_flight": in_flight,
                "dlq": queue.dlq_url.rsplit("/", 1)[-1],
                "source": queue.target.rsplit("/", 1)[-1],
            }
        )
    emit(rows, as_json=state.json, columns=["queue", "messages", "in_flight", "dlq", "source"], title="DLQs")


@dlq_app.command("show")
def dlq_show(
    ctx: typer.Context,
    queue: Annotated[str, typer.Argument(help="<pipeline> or <pipeline>/<name>, as `lp dlq list` shows.")],
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 10,
    as_json: JsonOption = False,
) -> None:
    """Peek at a DLQ's messages (they stay in it)."""
    from lp import dlq

    state = _ctx(ctx, as_json)
    [chosen] = dlq.select(dlq.discover(state.deployment.outputs), queue)[:1]
    rows = dlq.peek(state.deployment.client("sqs"), chosen, limit=limit)
    emit(
        rows,
        as_json=state.json,
        columns=["message_id", "receive_count", "attributes", "body"],
        title=chosen.id,
    )


@dlq_app.command("redrive")
def dlq_redrive(
    ctx: typer.Context,
    queue: Annotated[str | None, typer.Argument(help="<pipeline>[/<name>] (default: every DLQ).")] = None,
    message_id: Annotated[list[str] | None, typer.Option(help="Only this message (repeat for more).")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Move them (the default is a dry run).")] = False,
    limit: Annotated[int, typer.Option(min=1)] = 10_000,
    as_json: JsonOption = False,
) -> None:
    """Send dead letters back to their source queue (or invoke a destination DLQ's function again with the
    record's requestPayload), deleting each only after its delivery succeeded."""
    from lp import dlq

    state = _ctx(ctx, as_json)
    sqs = state.deployment.client("sqs")
    functions = state.deployment.client("lambda")
    wanted = set(message_id) if message_id else None
    outcomes = [
        dlq.redrive(sqs, chosen, message_ids=wanted, dry_run=not yes, limit=limit, lambda_client=functions)
        for chosen in dlq.select(dlq.discover(state.deployment.outputs), queue)
    ]
    rows = [{"queue": o.queue.id, **m.as_dict()} for o in outcomes for m in o.messages]
    if state.json:
        emit({"dry_run": not yes, "messages": rows}, as_json=True)
    else:
        title = "dry run (pass --yes to move them)" if not yes else "redrive"
        emit(
            rows,
            as_json=False,
            columns=["queue", "message_id", "receive_count", "action", "body"],
            title=title,
        )
    if any(o.failed for o in outcomes) or any(m.action == "not found" for o in outcomes for m in o.messages):
        raise typer.Exit(1)


# --- entry point -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> Any:
    """The `lp` console script: operator errors become one line on stderr and exit status 1."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return app(args=argv, prog_name="lp", standalone_mode=True)
    except LpError as error:
        print(f"lp: error: {error}", file=sys.stderr)
    except ClientError as error:
        detail = error.response.get("Error", {})
        print(f"lp: AWS error: {detail.get('Code')}: {detail.get('Message')}", file=sys.stderr)
    except BotoCoreError as error:  # no credentials, endpoint unreachable, ...
        print(f"lp: AWS error: {error}", file=sys.stderr)
    sys.exit(1)
