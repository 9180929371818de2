"""One SQS batch: one SFTP connection, each record uploaded atomically and marked completed once.

Per record: a pointer that breaks the contract, names an untracked alert or a missing/corrupt staged
payload fails permanently (SQS retries it, then it rests in the DLQ, where the finalizer reports it).
An alert already completed is skipped: a duplicate delivery changes nothing on the server.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from typing import Protocol

from alerts_to_sftp import tracking as t
from alerts_to_sftp.contract import AlertPointer
from alerts_to_sftp.staging import PayloadStore, verified
from pipelines_shared.clock import Clock, utc_now
from pipelines_shared.deadline import Deadline
from pipelines_shared.log import get_logger
from pipelines_shared.retry import PermanentError, TransientError
from pipelines_shared.sftp import safe_remote_name
from pipelines_shared.tracking import TrackingStore

logger = get_logger(__name__)


class UnknownAlert(PermanentError):
    """The pointer names an alert the tracker has never seen."""


class DeadlineReached(TransientError):
    """Too little time is left in this invocation to start another upload: SQS will redeliver it."""


class Uploader(Protocol):
    def ensure_directory(self, path: str) -> None: ...

    def upload_atomic(self, remote_dir: str, name: str, data: bytes) -> str: ...


class Worker:
    """Handles the records of one invocation; open_session is called at most once, lazily."""

    def __init__(
        self,
        *,
        store: TrackingStore,
        payloads: Callable[[str], PayloadStore],
        open_session: Callable[[], AbstractContextManager[Uploader]],
        remote_dir: str,
        deadline: Deadline,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._payloads = payloads
        self._open_session = open_session
        self._remote_dir = remote_dir.rstrip("/") or "/"
        self._deadline = deadline
        self._clock = clock
        self._session: Uploader | None = None
        self._session_error: BaseException | None = None
        self._exit_stack = ExitStack()
        self._directories: set[str] = set()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self._exit_stack.close()

    def _uploader(self) -> Uploader:
        # One connection for the whole batch; if it cannot be opened, every remaining record fails at
        # once with the same error instead of each waiting out its own connect timeout.
        if self._session_error is not None:
            raise self._session_error
        if self._session is None:
            try:
                self._session = self._exit_stack.enter_context(self._open_session())
            except Exception as error:
                self._session_error = error
                raise
        return self._session

    def process(self, body: str) -> str:
        """Upload one pointer's alert; return its remote path."""
        if self._deadline.passed():
            raise DeadlineReached("no time left in this invocation")
        pointer = AlertPointer.from_body(body)
        namespace = t.job_namespace(pointer.job_id)
        item = self._store.get(namespace, pointer.alert_id)
        if item is None:
            raise UnknownAlert(f"alert {pointer.alert_id!r} of job {pointer.job_id} is not tracked")
        if item.status == t.COMPLETED:
            logger.info("alert already completed, skipped", alert_id=pointer.alert_id, job_id=pointer.job_id)
            return str(item.attributes.get("remote_path", ""))
        data = verified(
            self._payloads(pointer.location).fetch(pointer.location), pointer.sha256, pointer.location
        )
        uploader = self._uploader()
        directory = f"{self._remote_dir}/{pointer.job_id}"
        if directory not in self._directories:
            uploader.ensure_directory(directory)
            self._directories.add(directory)
        path = uploader.upload_atomic(directory, safe_remote_name(pointer.alert_id), data)
        changed = self._store.transition(
            namespace,
            pointer.alert_id,
            from_statuses=[t.QUEUED, t.STAGED],
            to_status=t.COMPLETED,
            attributes={
                "remote_path": path,
                "uploaded_sha256": pointer.sha256,
                "completed_at": self._clock().isoformat(),
            },
        )
        # False: a concurrent duplicate delivery completed it first; it wrote the same bytes, same name.
        logger.info(
            "alert uploaded", alert_id=pointer.alert_id, remote_path=path, marked=changed, size=len(data)
        )
        return path


def payload_router(stores: dict[str, PayloadStore]) -> Callable[[str], PayloadStore]:
    """location -> the store that staged it, by URL scheme (s3:// or mysql://)."""

    def route(location: str) -> PayloadStore:
        scheme = location.split("://", 1)[0]
        if scheme not in stores:
            raise PermanentError(f"no payload store for {scheme}:// locations")
        return stores[scheme]

    return route
