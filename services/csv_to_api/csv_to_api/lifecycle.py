"""A file's way through the pipeline, over its status record: received -> splitting -> sending ->
completed | completed_with_rejects | failed. Each step is safe to repeat (at-least-once everywhere).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from csv_to_api.contract import FileRef, FileStatus
from csv_to_api.feeds import Feeds
from csv_to_api.outcomes import FileStore, RowStore, TransitionRefused
from csv_to_api.planner import Plan, PlannerConfig, plan_file
from csv_to_api.report import Summary, summarize, write_report
from pipelines_shared.log import get_logger

logger = get_logger(__name__)

NOT_DONE = (FileStatus.RECEIVED, FileStatus.SPLITTING, FileStatus.SENDING, FileStatus.FAILED)
DONE = (FileStatus.COMPLETED.value, FileStatus.COMPLETED_WITH_REJECTS.value)
ANY = tuple(FileStatus)


class ReportIncomplete(Exception):
    """The rejects index still lacks rows the chunks counted as rejected; the report step is retried."""


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


@dataclass
class Lifecycle:
    files: FileStore
    rows: RowStore
    s3: Any
    results_bucket: str
    read_blocks: Callable[[FileRef, int, int], Iterator[bytes]]
    report_attempts: int = 5
    sleep: Callable[[float], None] = time.sleep

    def receive(self, file: FileRef, execution_name: str) -> bool:
        """Record the file as received; False when it was already known (a duplicate event)."""
        return self.files.create(
            file.file_id,
            {
                "bucket": file.bucket,
                "key": file.key,
                "etag": file.etag,
                "size": file.size,
                "execution_name": execution_name,
                "received_at": now_iso(),
            },
        )

    def plan(self, file: FileRef, feeds: Feeds, config: PlannerConfig) -> Plan:
        record = self.files.get(file.file_id)
        if record is None:  # started by hand (lp), not by the starter
            self.receive(file, "manual")
        elif record.get("status") in DONE:
            # A redriven execution of a file a redriven chunk has finished since: nothing to send; the
            # state machine goes on to Report, which writes the same report again, and succeeds.
            logger.info("file already finished", file_id=file.file_id, status=record["status"])
            return Plan(
                file=file,
                feed=str(record.get("feed", "")) or "default",
                outcome="done",
                header=list(record.get("header", [])),
                rows=int(record.get("rows", 0)),
                message=f"the file is already {record['status']}: nothing to send",
            )
        self.files.transition(file.file_id, FileStatus.SPLITTING, NOT_DONE, {"started_at": now_iso()})
        feed = feeds.for_key(file.key)
        plan = plan_file(self.read_blocks, file, feed, config)
        self.files.transition(
            file.file_id,
            FileStatus.SENDING,
            (FileStatus.SPLITTING,),
            {
                "feed": plan.feed,
                "header": plan.header,
                "plan_outcome": plan.outcome,
                "rows": plan.rows,
                "chunk_count": len(plan.chunks),
                # The plan's own verdict, kept apart from the file's reason (which finish() rewrites).
                "plan_reason": plan.reason,
                "plan_message": plan.message,
                "planned_at": now_iso(),
            },
        )
        logger.info(
            "file planned", file_id=file.file_id, key=file.key, outcome=plan.outcome, rows=plan.rows,
            chunks=len(plan.chunks), feed=plan.feed, reason=plan.reason,
        )  # fmt: skip
        return plan

    def finish(self, file: FileRef, *, error: str = "") -> Summary:
        """Write the report and set the final status from the plan and the chunks' summaries. Run again
        (a redriven chunk finished later) it writes them anew."""
        record = self.files.get(file.file_id)
        if record is None:
            raise TransitionRefused(f"{file.file_id}: no such file")
        if error and "plan_outcome" not in record:
            summary = summarize(
                plan_outcome="rejected",
                rows=0,
                chunk_count=0,
                chunks={},
                reason="pipeline_error",
                message=error,
            )
        else:
            summary = summarize(
                plan_outcome=str(record.get("plan_outcome", "")),
                rows=int(record.get("rows", 0)),
                chunk_count=int(record.get("chunk_count", 0)),
                chunks=self.files.chunks(file.file_id),
                reason=str(record.get("plan_reason", "")),
                message=str(record.get("plan_message", "")) or error,
            )
        finished = now_iso()
        timings = {
            name: str(record[name]) for name in ("received_at", "started_at", "planned_at") if name in record
        } | {"finished_at": finished}
        expected = summary.counts.get("rejected", 0)
        for attempt in range(self.report_attempts):
            json_key, csv_key, reasons = write_report(
                self.s3,
                self.results_bucket,
                file,
                feed=str(record.get("feed", "")),
                header=list(record.get("header", [])),
                summary=summary,
                rejects=self.rows.rejects(file.file_id),
                timings=timings,
            )
            # The rejects come from an index that is eventually consistent: a reject recorded a moment
            # ago may be missing. The chunks' counts say how many there are; read again until all show.
            found = sum(reasons.values())
            if found >= expected:
                break
            logger.warning("rejects index behind", file_id=file.file_id, found=found, expected=expected)
            if attempt + 1 < self.report_attempts:
                self.sleep(0.5 * 2**attempt)
        else:
            raise ReportIncomplete(
                f"{file.file_id}: the rejects index shows {found} of {expected} rejected rows; report again"
            )
        self.files.transition(
            file.file_id,
            summary.status,
            ANY,
            {
                "counts": summary.counts,
                "rejects_by_reason": reasons,
                "report_key": json_key,
                "rejects_key": csv_key,
                "finished_at": finished,
                "reason": summary.reason,
                "message": summary.message,
            },
        )
        logger.info(
            "file finished", file_id=file.file_id, key=file.key, status=summary.status.value,
            rows=summary.rows, **summary.counts, report=json_key,
        )  # fmt: skip
        return summary
