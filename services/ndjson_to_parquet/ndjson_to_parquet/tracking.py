"""How the NDJSON pipeline uses its file-tracking table ``ndjson-parquet-sqs-file-tracking-{env}``.

One table, two stores on it (``docs/ndjson_to_parquet.md``):

* file records, status sharded over :data:`STATUS_SHARDS` GSI keys (``pending#3``), so a day with
  100 000 pending files is not one hot ``status-index`` partition::

      pending --(claimed into a manifest)--> manifested --> completed
                                                        \\-> failed
      failed (also a quarantined file: quarantine_path, reason)

* MANIFEST records (``file_key = MANIFEST#<manifest_id>``), unsharded::

      pending --(state machine)--> processing --> completed | failed

The two never meet in the GSI: file statuses always carry ``#N``, MANIFEST statuses never do. The
stores speak plain statuses; the shard suffix is the file store's business.
"""

from __future__ import annotations

from typing import Any

from ndjson_to_parquet.contract import MANIFEST_KEY_PREFIX
from pipelines_shared.clock import Clock, utc_now
from pipelines_shared.tracking.dynamodb import DynamoDBTrackingStore, status_shard

PARTITION_KEY = "date_prefix"
SORT_KEY = "file_key"
STATUS_INDEX = "status-index"
TTL_ATTRIBUTE = "ttl"
TTL_SECONDS = 30 * 24 * 3600
STATUS_SHARDS = 10

# File statuses (stored as "<status>#<shard>").
PENDING = "pending"
MANIFESTED = "manifested"
COMPLETED = "completed"
FAILED = "failed"

# MANIFEST record statuses (stored as they are).
MANIFEST_PENDING = "pending"
MANIFEST_PROCESSING = "processing"
MANIFEST_COMPLETED = "completed"
MANIFEST_FAILED = "failed"

# Attributes of file records.
FILE_PATH = "file_path"
SIZE = "size"
ETAG = "etag"
SHARD_ID = "shard_id"
MANIFEST_ID = "manifest_id"
MANIFEST_PATH = "manifest_path"
GLUE_JOB_RUN_ID = "glue_job_run_id"
ERROR = "error"
QUARANTINE_PATH = "quarantine_path"
REASON = "reason"
# Attributes of MANIFEST records (with MANIFEST_PATH, REASON, GLUE_JOB_RUN_ID, ERROR).
FILE_COUNT = "file_count"
TOTAL_BYTES = "total_bytes"
EXECUTION_ARN = "execution_arn"


def shard_id(file_key: str) -> int:
    """The status shard of a file: the same crc32 the sharded store uses for ``pending#N``."""
    return status_shard(file_key, STATUS_SHARDS)


def is_manifest_record(file_key: str) -> bool:
    return file_key.startswith(MANIFEST_KEY_PREFIX)


def file_store(
    table_name: str, *, client: Any = None, clock: Clock = utc_now, max_workers: int = 8
) -> DynamoDBTrackingStore:
    """The store of file records: status sharded over 10 GSI keys, 30-day TTL."""
    return _store(table_name, STATUS_SHARDS, client=client, clock=clock, max_workers=max_workers)


def manifest_store(table_name: str, *, client: Any = None, clock: Clock = utc_now) -> DynamoDBTrackingStore:
    """The store of MANIFEST records, on the same table: unsharded statuses, 30-day TTL."""
    return _store(table_name, 0, client=client, clock=clock)


def _store(table_name: str, shards: int, **options: Any) -> DynamoDBTrackingStore:
    return DynamoDBTrackingStore(
        table_name,
        partition_key=PARTITION_KEY,
        sort_key=SORT_KEY,
        status_index=STATUS_INDEX,
        status_shards=shards,
        ttl_attribute=TTL_ATTRIBUTE,
        ttl_seconds=TTL_SECONDS,
        **options,
    )
