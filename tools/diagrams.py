"""One model of each pipeline's graph, rendered to the pictures in the README and docs
(``docs/img/<pipeline>.svg``, via Graphviz ``dot``).

Every box that is a deployed resource names the Terraform output that points at it
(``output`` below, a ``<name>[.<key>]`` of ``terraform/modules/<pipeline>/outputs.tf``), and every
output of a pipeline's module is drawn: ``tests/unit/test_diagrams.py`` fails when the picture and
the outputs drift apart, or when a committed SVG is not the render of this model.

    python tools/diagrams.py            # write docs/img/<pipeline>.dot and .svg (needs `dot`)
    python tools/diagrams.py --check    # exit 1 when a committed .dot is stale (no `dot` needed)
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMG = REPO / "docs" / "img"

# kind -> (shape, fill colour): AWS services in their console colours, outsiders in grey.
STYLE = {
    "lambda": ("box", "#fbd8b0"),
    "queue": ("box", "#f6c3d6"),
    "dlq": ("box", "#f28b8b"),
    "bucket": ("cylinder", "#c5e5b4"),
    "table": ("cylinder", "#c9d3f2"),
    "database": ("cylinder", "#c9d3f2"),
    "stepfunctions": ("box", "#f5b5d9"),
    "glue": ("box", "#d9c2ef"),
    "events": ("box", "#f7c6e0"),
    "topic": ("box", "#f6c3d6"),
    "alb": ("box", "#d6c4f0"),
    "parameter": ("box", "#e3ecc8"),
    "external": ("box", "#e6e6e6"),
    "observability": ("note", "#f2f2f2"),
}


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    kind: str
    outputs: tuple[str, ...] = ()  # Terraform outputs naming it: "queue_url", "functions.worker"


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""


@dataclass(frozen=True)
class Graph:
    pipeline: str
    title: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    # Outputs no box stands for, each with why (settings are the deployed values, not a resource).
    not_drawn: tuple[tuple[str, str], ...] = (("settings", "the deployed settings, not a resource"),)

    def dot(self) -> str:
        lines = [
            f'digraph "{self.pipeline}" {{',
            "  rankdir=LR;",
            '  graph [fontname="Helvetica", fontsize=12, labelloc=t, nodesep=0.35, ranksep=0.5,'
            f' label="{self.title}"];',
            '  node [fontname="Helvetica", fontsize=10, style="filled,rounded", penwidth=0.8];',
            '  edge [fontname="Helvetica", fontsize=9, color="#555555", arrowsize=0.7];',
        ]
        for node in self.nodes:
            shape, fill = STYLE[node.kind]
            style = "filled" if shape in ("cylinder", "note") else "filled,rounded"
            lines.append(
                f'  "{node.id}" [label="{node.label}", shape={shape}, fillcolor="{fill}", style="{style}"];'
            )
        for edge in self.edges:
            label = f' [label="{edge.label}"]' if edge.label else ""
            lines.append(f'  "{edge.source}" -> "{edge.target}"{label};')
        lines.append("}")
        return "\n".join(lines) + "\n"


ALERTS = Graph(
    "alerts_to_sftp",
    "000 Alerts to SFTP",
    nodes=(
        Node("airflow", "Airflow DAG\\nalerts_to_sftp (daily)", "external"),
        Node(
            "alb", "ALB (HTTPS)\\nPOST /jobs, GET /jobs", "alb", ("trigger_url", "alb_name", "alb_dns_name")
        ),
        Node("coordinator", "alert-coordinator", "lambda", ("functions.coordinator",)),
        Node("api", "partner alerts API", "external"),
        Node("staging", "S3 staging\\n(or MySQL payloads)", "bucket", ("staging_bucket",)),
        Node("mysql", "MySQL\\nalert_tracking", "database"),
        Node("migrate", "alerts-migrate", "lambda", ("functions.migrate",)),
        Node("queue", "SQS alert pointers", "queue", ("queue_url",)),
        Node("dlq", "DLQ", "dlq", ("dlq_url",)),
        Node("worker", "sftp-worker", "lambda", ("functions.worker",)),
        Node("sftp", "partner SFTP server", "external"),
        Node("schedule", "EventBridge Scheduler\\nevery 5 min", "events", ("finalizer_schedule",)),
        Node("finalizer", "alerts-finalizer", "lambda", ("functions.finalizer",)),
        Node("bus", "EventBridge\\nAlertJobFinalized", "events"),
        Node("alarms", "CloudWatch alarms\\n-> SNS alarm topic", "observability"),
    ),
    edges=(
        Edge("airflow", "alb", "trigger, poll"),
        Edge("alb", "coordinator"),
        Edge("coordinator", "api", "GET /alerts"),
        Edge("coordinator", "staging", "stage"),
        Edge("coordinator", "mysql", "track"),
        Edge("migrate", "mysql", "schema"),
        Edge("coordinator", "queue", "pointers"),
        Edge("queue", "worker", "batches"),
        Edge("queue", "dlq", "3 receives"),
        Edge("worker", "staging", "fetch"),
        Edge("worker", "sftp", "upload"),
        Edge("worker", "mysql", "completed"),
        Edge("schedule", "finalizer"),
        Edge("finalizer", "mysql", "close jobs"),
        Edge("finalizer", "dlq", "peek"),
        Edge("finalizer", "bus"),
        Edge("dlq", "alarms"),
    ),
)

NDJSON = Graph(
    "ndjson_to_parquet",
    "001 NDJSON to Parquet",
    nodes=(
        Node("producer", "producers", "external"),
        Node(
            "landing", "S3 landing\\nlanding/ndjson/YYYY-MM-DD/", "bucket", ("input_bucket", "landing_prefix")
        ),
        Node("queue", "SQS file events", "queue", ("queue_url",)),
        Node("dlq", "DLQ", "dlq", ("dlq_url",)),
        Node("builder", "manifest-builder", "lambda", ("functions.manifest_builder",)),
        Node("flush", "Scheduler\\norphan flush", "events", ("flush_schedule",)),
        Node("tracking", "DynamoDB\\nfile tracking", "table", ("tracking_table",)),
        Node("metrics", "DynamoDB\\ncircuit breaker", "table", ("metrics_table",)),
        Node("quarantine", "S3 quarantine", "bucket", ("quarantine_bucket",)),
        Node("manifests", "S3 manifests", "bucket", ("manifest_bucket",)),
        Node("stream", "stream-manifest-creator\\n(flag)", "lambda", ("functions.stream_creator",)),
        Node("bus", "EventBridge\\nManifestReady (flag)", "events", ("event_bus_name",)),
        Node("sfn", "Step Functions\\nprocessor", "stepfunctions", ("state_machine_arn",)),
        Node("glue", "Glue job\\n(Python shell | Spark)", "glue", ("glue_jobs.batch", "glue_jobs.spark")),
        Node("scripts", "S3 scripts", "bucket", ("scripts_bucket",)),
        Node("output", "S3 Parquet output", "bucket", ("output_bucket",)),
        Node("updater", "batch-status-updater", "lambda", ("functions.status_updater",)),
        Node("alerts", "SNS failure alerts", "topic", ("alerts_topic_arn",)),
        Node("dashboard", "CloudWatch dashboard\\nand alarms", "observability", ("dashboard_name",)),
    ),
    edges=(
        Edge("producer", "landing", "put .ndjson"),
        Edge("landing", "queue", "ObjectCreated"),
        Edge("queue", "builder", "batches"),
        Edge("queue", "dlq", "receives"),
        Edge("flush", "builder"),
        Edge("builder", "tracking", "claim"),
        Edge("builder", "quarantine", "invalid"),
        Edge("builder", "manifests", "write"),
        Edge("builder", "metrics", "breaker?"),
        Edge("builder", "sfn", "start"),
        Edge("tracking", "stream", "stream"),
        Edge("stream", "bus"),
        Edge("bus", "sfn"),
        Edge("sfn", "glue", "run"),
        Edge("scripts", "glue"),
        Edge("manifests", "glue", "read"),
        Edge("glue", "output", "Parquet"),
        Edge("sfn", "updater", "status"),
        Edge("updater", "tracking", "completed | failed"),
        Edge("updater", "metrics", "outcome"),
        Edge("sfn", "alerts", "on failure"),
        Edge("alerts", "dashboard"),
    ),
)

CSV = Graph(
    "csv_to_api",
    "002 CSV to API",
    nodes=(
        Node("partner", "partner\\ndrops CSV files", "external"),
        Node("upload", "S3 upload\\nincoming/*.csv", "bucket", ("upload_bucket", "incoming_prefix")),
        Node("rule", "EventBridge rule\\nObject Created", "events"),
        Node("ingest", "SQS ingest", "queue", ("ingest_queue_url",)),
        Node("ingest_dlq", "ingest DLQ", "dlq", ("dead_letter_queues.ingest",)),
        Node("starter", "csv-ingest-starter", "lambda", ("functions.starter",)),
        Node("files", "DynamoDB\\nfile status", "table", ("file_table",)),
        Node("sfn", "Step Functions\\nplan, staggered Map, report", "stepfunctions", ("state_machine_arn",)),
        Node("feeds", "SSM feeds", "parameter", ("feeds_parameter",)),
        Node("planner", "csv-file-planner", "lambda", ("functions.planner",)),
        Node("caller", "csv-api-caller", "lambda", ("functions.caller",)),
        Node("limiter", "DynamoDB limiter\\nR requests/s shared", "table", ("limiter_table", "rate_limit")),
        Node("rows", "DynamoDB\\nrow outcomes", "table", ("rows_table",)),
        Node("api", "partner records API\\nPOST /v1/records", "external"),
        Node("results", "S3 results\\nreports/", "bucket", ("results_bucket",)),
        Node("caller_dlq", "caller DLQ\\ndestination records", "dlq", ("dead_letter_queues.caller",)),
        Node("dlq_processor", "csv-dlq-processor", "lambda", ("functions.dlq_processor",)),
        Node("cloudwatch", "CloudWatch Logs\\nJSON logs, EMF metrics", "observability", ("log_groups",)),
        Node("dashboard", "CloudWatch dashboard", "observability", ("dashboard_name",)),
        Node("alarms", "CloudWatch alarms", "observability", ("alarm_names",)),
        Node("topic", "SNS alarm topic", "topic", ("alarm_topic_arn",)),
        Node("alert_manager", "csv-alert-manager", "lambda", ("functions.alert_manager",)),
        Node("smtp", "SMTP server", "external"),
        Node("forwarder", "csv-log-forwarder\\n(with a HEC secret)", "lambda", ("functions.log_forwarder",)),
        Node("forwarder_dlq", "forwarder DLQ", "dlq", ("dead_letter_queues.log_forwarder",)),
        Node("splunk", "Splunk HEC", "external"),
        Node("dynatrace", "Dynatrace\\n(switch, off by default)", "external"),
    ),
    edges=(
        Edge("partner", "upload", "put .csv"),
        Edge("upload", "rule", "Object Created"),
        Edge("rule", "ingest"),
        Edge("ingest", "starter", "batches"),
        Edge("ingest", "ingest_dlq", "5 receives"),
        Edge("starter", "files", "received"),
        Edge("starter", "sfn", "start, named\\nafter the file id"),
        Edge("sfn", "planner", "plan, report"),
        Edge("feeds", "planner"),
        Edge("upload", "planner", "ranged GETs"),
        Edge("planner", "files", "status"),
        Edge("planner", "results", "report"),
        Edge("sfn", "caller", "a chunk each,\\nstaggered"),
        Edge("feeds", "caller"),
        Edge("upload", "caller", "ranged GETs"),
        Edge("caller", "limiter", "send times"),
        Edge("caller", "api", "one row each"),
        Edge("caller", "rows", "outcomes"),
        Edge("caller", "files", "chunk summary"),
        Edge("sfn", "caller_dlq", "ParkChunk"),
        Edge("caller", "caller_dlq", "on failure (async)"),
        Edge("ingest_dlq", "dlq_processor"),
        Edge("caller_dlq", "dlq_processor"),
        Edge("dlq_processor", "ingest", "redrive"),
        Edge("dlq_processor", "caller", "redrive (async)"),
        Edge("dlq_processor", "sfn", "restart failed"),
        Edge("caller", "cloudwatch", "logs, metrics"),
        Edge("cloudwatch", "dashboard"),
        Edge("cloudwatch", "alarms"),
        Edge("alarms", "topic"),
        Edge("topic", "alert_manager"),
        Edge("alert_manager", "smtp", "one e-mail per\\nstate change"),
        Edge("cloudwatch", "forwarder", "subscription"),
        Edge("forwarder", "splunk", "batches, TLS"),
        Edge("forwarder", "forwarder_dlq", "on failure"),
        Edge("cloudwatch", "dynatrace", "metric stream"),
    ),
    not_drawn=(),
)

EXAMPLE = Graph(
    "example",
    "The template: a queue-fed worker",
    nodes=(
        Node("producer", "producer", "external"),
        Node("queue", "SQS", "queue", ("queue_url",)),
        Node("worker", "example-worker", "lambda", ("function_name",)),
        Node("dlq", "DLQ", "dlq", ("dlq_url",)),
        Node("tracking", "DynamoDB tracking", "table", ("tracking_table",)),
        Node("alarms", "alarms -> SNS", "observability"),
    ),
    edges=(
        Edge("producer", "queue"),
        Edge("queue", "worker", "batches"),
        Edge("queue", "dlq", "3 receives"),
        Edge("worker", "tracking"),
        Edge("dlq", "alarms"),
    ),
    not_drawn=(),
)

GRAPHS = (ALERTS, NDJSON, CSV, EXAMPLE)


def render(graph: Graph) -> tuple[str, str]:
    """(DOT source, SVG) of one graph."""
    binary = shutil.which("dot")
    if not binary:
        raise SystemExit("diagrams: Graphviz `dot` not found (make setup installs it)")
    source = graph.dot()
    svg = subprocess.run([binary, "-Tsvg"], input=source, capture_output=True, text=True, check=True).stdout
    return source, svg


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail when a committed .dot is stale")
    args = parser.parse_args(argv)
    stale = []
    for graph in GRAPHS:
        dot_file = IMG / f"{graph.pipeline}.dot"
        if args.check:
            if not dot_file.exists() or dot_file.read_text() != graph.dot():
                stale.append(dot_file)
            continue
        source, svg = render(graph)
        IMG.mkdir(parents=True, exist_ok=True)
        dot_file.write_text(source)
        (IMG / f"{graph.pipeline}.svg").write_text(svg)
        print(f"{IMG.relative_to(REPO)}/{graph.pipeline}.svg")
    if stale:
        print(
            "stale: " + ", ".join(str(p.relative_to(REPO)) for p in stale) + " (run `make docs`)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
