"""A local fake of the external alerts API (pipeline 000), with seeded data and injectable faults.

In tests: ``with FakeAlertsApi(alerts_per_status=50) as api: ... api.url, api.token``.
From a shell: ``cd tools && python -m fake_alerts_api --port 8765`` (``--help`` for the options).
"""

from fake_alerts_api.dataset import HOSTILE_IDS, STATUSES, alert_id
from fake_alerts_api.server import FakeAlertsApi, FaultConfig

__all__ = ["HOSTILE_IDS", "STATUSES", "FakeAlertsApi", "FaultConfig", "alert_id"]
