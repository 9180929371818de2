"""The coordinator's collaborators on AWS and MySQL."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from alerts_to_sftp.contract import AlertPointer
from pipelines_shared.db import named_lock
from pipelines_shared.http import JsonHttpClient, paginate
from pipelines_shared.log import correlation_message_attributes, get_logger
from pipelines_shared.retry import RetryPolicy, TransientError

logger = get_logger(__name__)

SQS_BATCH = 10  # send_message_batch's limit


class SqsPointerQueue:
    """Sends pointers with send_message_batch, 10 a call; failed entries are retried, then raise."""

    def __init__(self, client: Any, queue_url: str, *, retry_policy: RetryPolicy | None = None) -> None:
        self._sqs = client
        self._url = queue_url
        self._retry = retry_policy or RetryPolicy()

    def send(self, pointers: list[AlertPointer], correlation_id: str) -> None:
        attributes = correlation_message_attributes(correlation_id)
        for start in range(0, len(pointers), SQS_BATCH):
            pending = {str(i): p for i, p in enumerate(pointers[start : start + SQS_BATCH])}
            self._retry.call(self._send_batch, pending, attributes)

    def _send_batch(self, pending: dict[str, AlertPointer], attributes: dict[str, Any]) -> None:
        response = self._sqs.send_message_batch(
            QueueUrl=self._url,
            Entries=[
                {"Id": entry_id, "MessageBody": pointer.to_body(), "MessageAttributes": attributes}
                for entry_id, pointer in pending.items()
            ],
        )
        for ok in response.get("Successful", []):
            pending.pop(ok["Id"], None)
        if pending:
            failed = response.get("Failed", [])
            logger.warning(
                "sqs entries failed, retrying them", count=len(pending), codes=[f.get("Code") for f in failed]
            )
            # Retry only what failed; the entries that went through are not sent twice.
            raise TransientError(f"{len(pending)} of the batch's entries failed: {failed[:1]}")


class MySqlJobLock:
    """A MySQL named lock per job (GET_LOCK): released when the run ends or its connection dies."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine

    @contextlib.contextmanager
    def hold(self, job_id: str) -> Iterator[bool]:
        with self._engine.connect() as connection, named_lock(connection, f"alerts-job:{job_id}") as taken:
            yield taken


def api_pages(client: JsonHttpClient, *, page_size: int) -> Callable[[int], Iterator[list[dict[str, Any]]]]:
    """status -> pages of the alerts API (``GET /alerts?status=&page_size=&page_token=``)."""

    def pages(status: int) -> Iterator[list[dict[str, Any]]]:
        return paginate(client, "/alerts", {"status": status, "page_size": page_size}, "alerts")

    return pages
