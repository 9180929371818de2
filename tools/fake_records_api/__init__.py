"""A local fake of the partner's records API (pipeline csv_to_api): idempotent writes, a sliding-window
rate limit, reject rules and injectable, deterministic faults.

In tests: ``with FakeRecordsApi(rate_limit=50) as api: ... api.url, api.token, api.records()``.
From a shell: ``cd tools && python -m fake_records_api --port 8766`` (``--help`` for the options).
"""

from fake_records_api.server import FakeRecordsApi, FaultConfig, RejectRule, busiest_second

__all__ = ["FakeRecordsApi", "FaultConfig", "RejectRule", "busiest_second"]
