"""The file's report: counts that account for every row, every rejected row with its reason, and the
final status. Written to the results bucket as JSON (``reports/<file_id>.json``) and the rejects as CSV
(``reports/<file_id>.rejects.csv``), streamed through a temporary file (a file can hold millions of
rejects).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from csv_to_api.contract import VERSION, FileRef, FileStatus
from csv_to_api.outcomes import Outcome, RowOutcome

REPORT_PREFIX = "reports/"


@dataclass(frozen=True)
class Summary:
    status: FileStatus
    rows: int
    counts: dict[str, int]
    reason: str = ""
    message: str = ""
    missing_chunks: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "rows": self.rows,
            "counts": self.counts,
            "reason": self.reason,
            "message": self.message,
            "missing_chunks": list(self.missing_chunks),
        }


def summarize(
    *,
    plan_outcome: str,
    rows: int,
    chunk_count: int,
    chunks: Mapping[int, Mapping[str, int]],
    reason: str = "",
    message: str = "",
) -> Summary:
    """The final status from the plan and the chunks' summaries: every row must be accounted for."""
    counts = {o.value: 0 for o in Outcome}
    for summary in chunks.values():
        for name in counts:
            counts[name] += int(summary.get(name, 0))
    if plan_outcome == "rejected":
        return Summary(FileStatus.FAILED, rows, counts, reason, message)
    missing = tuple(index for index in range(chunk_count) if index not in chunks)
    if missing:
        return Summary(
            FileStatus.FAILED,
            rows,
            counts,
            reason or "chunks_failed",
            message
            or f"{len(missing)} of {chunk_count} chunks did not finish; "
            "redrive them (lp dlq redrive csv_to_api/caller --yes)",
            missing,
        )
    accounted = sum(counts.values())
    if accounted != rows:
        return Summary(
            FileStatus.FAILED,
            rows,
            counts,
            "rows_unaccounted",
            f"{rows} rows in the file, {accounted} with an outcome",
        )
    status = FileStatus.COMPLETED_WITH_REJECTS if counts[Outcome.REJECTED.value] else FileStatus.COMPLETED
    return Summary(status, rows, counts, reason, message)


def write_report(
    s3: Any,
    bucket: str,
    file: FileRef,
    *,
    feed: str,
    header: list[str],
    summary: Summary,
    rejects: Iterable[RowOutcome],
    timings: Mapping[str, str],
) -> tuple[str, str, dict[str, int]]:
    """Stream the JSON report and the rejects CSV to the results bucket; return their keys and the
    rejects counted by reason."""
    json_key = f"{REPORT_PREFIX}{file.file_id}.json"
    csv_key = f"{REPORT_PREFIX}{file.file_id}.rejects.csv"
    head = {
        "version": VERSION,
        "file": file.to_json(),
        "feed": feed,
        "header": header,
        **summary.to_json(),
        "timings": dict(timings),
        "rejects_csv": f"s3://{bucket}/{csv_key}",
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
    }
    with (
        tempfile.NamedTemporaryFile("w+", encoding="utf-8", suffix=".json", delete=False) as report,
        tempfile.NamedTemporaryFile("w+", encoding="utf-8", newline="", suffix=".csv", delete=False) as table,
    ):
        try:
            writer = csv.writer(table)
            writer.writerow(["row", "reason", "detail", "http_status", "raw"])
            opening = json.dumps(head, ensure_ascii=False)
            report.write(opening[:-1] + ', "rejected": [')
            reasons: Counter[str] = Counter()
            for number, outcome in enumerate(rejects):
                reasons[outcome.reason] += 1
                entry = {
                    "row": outcome.row,
                    "reason": outcome.reason,
                    "detail": outcome.detail,
                    "raw": outcome.raw,
                }
                if outcome.status:
                    entry["http_status"] = outcome.status
                report.write(("," if number else "") + "\n  " + json.dumps(entry, ensure_ascii=False))
                writer.writerow(
                    [outcome.row, outcome.reason, outcome.detail, outcome.status or "", outcome.raw]
                )
            report.write(f'\n], "rejects_by_reason": {json.dumps(dict(sorted(reasons.items())))}}}\n')
            report.flush()
            table.flush()
            s3.upload_file(report.name, bucket, json_key, ExtraArgs={"ContentType": "application/json"})
            s3.upload_file(table.name, bucket, csv_key, ExtraArgs={"ContentType": "text/csv"})
        finally:
            os.unlink(report.name)
            os.unlink(table.name)
    return json_key, csv_key, dict(reasons)


def read_report(s3: Any, bucket: str, file_id: str) -> dict[str, Any]:
    body = s3.get_object(Bucket=bucket, Key=f"{REPORT_PREFIX}{file_id}.json")["Body"].read()
    report: dict[str, Any] = json.loads(io.BytesIO(body).read())
    return report
