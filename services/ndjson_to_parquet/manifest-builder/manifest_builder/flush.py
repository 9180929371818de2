"""The scheduled pass: orphan flush and crash recovery over recent days.

Triggered by EventBridge Scheduler (input ``{"action": "flush"}``, optionally with
``"date_prefixes": ["YYYY-MM-DD", ...]`` to name the days) or by a scheduled EventBridge rule
(``source`` ``aws.events``/``aws.scheduler``). Without named days it covers today (UTC) and the
``lookback_days`` before it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ndjson_to_parquet.contract import ContractError, is_date_prefix
from ndjson_to_parquet.manifests import ManifestCore, lookback_dates
from pipelines_shared.log import get_logger
from pipelines_shared.retry import TransientError

logger = get_logger(__name__)

SCHEDULE_SOURCES = frozenset({"aws.events", "aws.scheduler"})


class FlushFailed(TransientError):
    """Some days could not be flushed; the others were. The next scheduled pass tries again."""


def is_scheduled(event: Any) -> bool:
    if not isinstance(event, dict) or "Records" in event:
        return False
    return (
        event.get("action") == "flush"
        or event.get("source") in SCHEDULE_SOURCES
        or event.get("detail-type") == "Scheduled Event"
    )


def days_to_flush(event: dict[str, Any], now: datetime, lookback_days: int) -> list[str]:
    named = event.get("date_prefixes")
    if named is None:
        return lookback_dates(now, lookback_days)
    if not isinstance(named, list) or not all(is_date_prefix(day) for day in named):
        raise ContractError(f"date_prefixes must be a list of YYYY-MM-DD dates, got {named!r}")
    return list(dict.fromkeys(named))


def flush(core: ManifestCore, days: list[str], should_stop: Callable[[], bool]) -> dict[str, Any]:
    """Flush each day; one day's failure does not stop the others, but fails the invocation."""
    reports: list[dict[str, Any]] = []
    failed: list[str] = []
    for day in days:
        if should_stop():
            logger.warning("flush stopped before the deadline", remaining_days=days[days.index(day) :])
            break
        try:
            reports.append(core.flush(day, should_stop=should_stop).as_dict())
        except Exception as exc:
            logger.exception("flush of a day failed", date_prefix=day, error_type=type(exc).__name__)
            failed.append(day)
    if failed:
        raise FlushFailed(f"flush failed for {', '.join(failed)}")
    return {"flushed": reports}
