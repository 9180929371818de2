"""The fake API's data set: seeded alerts that are byte-identical for the same seed in any process.

Every alert is drawn from its own ``random.Random`` seeded with a string (``seed/status/index``):
string seeds go through SHA-512, so neither ``PYTHONHASHSEED`` nor the order in which pages are asked
for changes a byte. Alerts are built on first use and cached as their serialized JSON.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta

STATUSES = range(1, 21)

HOSTILE_IDS = (
    "../../etc/passwd",
    "a/b",
    "x\ny",
    "tab\there",
    "ünïcødé-警报-☃",
    ".hidden",
    "ALR-" + "L" * 296,  # 300 characters: longer than most file systems allow in a name
    "..",
    "back\\slash",
    "nul\x00byte",
    " spaces around ",
    "CON",  # a reserved device name on Windows
    "quote'\"`$(id)",
)
"""Ids that a consumer must not trust as file names; they replace a few ids with ``hostile_ids``."""

_BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)
_SEVERITIES = ("critical", "high", "medium", "low", "info")
_SOURCES = ("prometheus", "cloudwatch", "datadog", "sentry", "pagerduty")
_REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2")
_SERVICES = ("payments", "checkout", "search", "ledger", "identity", "notifications", "catalog")
_METRICS = ("cpu_utilization", "p99_latency_ms", "error_rate", "queue_depth", "disk_used_pct", "5xx_count")
_EVENT_KINDS = ("threshold_crossed", "sample", "acknowledged", "escalated", "annotated", "flapping")
_TEXT = (
    "request latency above threshold for consecutive samples on primary replica while traffic shifted "
    "from canary pool error budget burn rate exceeded within window operator paged runbook linked "
    "autoscaling group scaled out connection pool saturated retries observed upstream dependency "
    "degraded cache hit ratio dropped after deploy rollback considered disk pressure on node"
)
_WORDS = _TEXT.split()

# Widest event _event() can produce, so filling with events never overshoots the target size.
_MAX_EVENT_BYTES = 300


def alert_id(status: int, index: int) -> str:
    """The regular id of alert ``index`` (0-based) of ``status``."""
    return f"ALR-{status:02d}-{index:06d}"


def _dumps(value: object) -> str:
    # ensure_ascii=False: the API sends UTF-8, so odd ids arrive as real characters, not \u escapes.
    return json.dumps(value, ensure_ascii=False)


def _words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choices(_WORDS, k=count))


def _filler(rng: random.Random, size: int) -> str:
    text = ""
    while len(text) < size:
        text += _words(rng, 32) + " "
    return text[:size]


def _event(rng: random.Random, seq: int, start: datetime, host: str) -> dict[str, object]:
    return {
        "seq": seq,
        "at": (start + timedelta(seconds=seq * 15 + rng.randrange(15))).isoformat(),
        "kind": rng.choice(_EVENT_KINDS),
        "host": host,
        "value": round(rng.uniform(0, 1000), 3),
        "message": _words(rng, rng.randint(6, 12)),
    }


def build_alert(seed: int, status: int, index: int, alert_id: str, size: int) -> bytes:
    """Serialize one alert of exactly ``size`` bytes (or its minimum, if that is larger).

    An alert carries at least one event; big ones are filled with events (the way a long-running
    incident accumulates them), and a free-text ``notes`` field makes up the last bytes.
    """
    rng = random.Random(f"{seed}/{status}/{index}")  # noqa: S311 (repeatable on purpose, not secret)
    created = _BASE_TIME + timedelta(seconds=rng.randrange(365 * 24 * 3600))
    service = rng.choice(_SERVICES)
    host = f"{service}-{rng.randrange(1000):03d}.internal"
    metric = rng.choice(_METRICS)
    threshold = round(rng.uniform(10, 500), 2)
    events: list[dict[str, object]] = []
    alert: dict[str, object] = {
        "alert_id": alert_id,
        "status": status,
        "created_at": created.isoformat(),
        "severity": rng.choice(_SEVERITIES),
        "source": rng.choice(_SOURCES),
        "title": f"{metric} above {threshold} on {host}",
        "details": {
            "host": host,
            "region": rng.choice(_REGIONS),
            "service": service,
            "metric": metric,
            "threshold": threshold,
            "observed": round(threshold * rng.uniform(1.01, 3.0), 3),
            "labels": {"team": service, "env": rng.choice(("prod", "staging")), "tier": rng.randint(1, 3)},
        },
        "tags": sorted(rng.sample([f"service:{service}", "oncall", "customer-facing", metric, "slo"], k=3)),
        "events": events,
        "notes": "",
    }
    current = len(_dumps(alert).encode())
    while not events or current + _MAX_EVENT_BYTES < size:
        event = _event(rng, len(events), created, host)
        current += len(_dumps(event)) + (2 if events else 0)  # ", " between items
        events.append(event)
    body = _dumps(alert).encode()
    if len(body) < size:
        alert["notes"] = _filler(rng, size - len(body))
        body = _dumps(alert).encode()
    return body


class Dataset:
    """All alerts of one server: counts per status, sizes, and which ids are hostile."""

    def __init__(
        self,
        alerts_per_status: int | Mapping[int, int],
        *,
        seed: int = 0,
        large_every: int = 10,
        large_bytes: int = 200_000,
        small_bytes: int = 2_000,
        hostile_ids: bool = False,
    ) -> None:
        if isinstance(alerts_per_status, Mapping):
            unknown = sorted(set(alerts_per_status) - set(STATUSES))
            if unknown:
                raise ValueError(f"statuses must be 1..20, got {unknown}")
            counts = {status: int(alerts_per_status.get(status, 0)) for status in STATUSES}
        else:
            counts = dict.fromkeys(STATUSES, int(alerts_per_status))
        if any(count < 0 for count in counts.values()):
            raise ValueError("alert counts must be >= 0")
        self.counts = counts
        self.seed = seed
        self.large_every = large_every
        self.large_bytes = large_bytes
        self.small_bytes = small_bytes
        self._hostile = self._place_hostile_ids() if hostile_ids else {}
        # Filled lazily by several handler threads; a race only builds the same bytes twice.
        self._cache: dict[tuple[int, int], bytes] = {}

    def _place_hostile_ids(self) -> dict[tuple[int, int], str]:
        positions = [(status, index) for status in STATUSES for index in range(self.counts[status])]
        step = max(1, len(positions) // len(HOSTILE_IDS))
        return dict(zip(positions[::step], HOSTILE_IDS, strict=False))

    def is_large(self, index: int) -> bool:
        """Whether alert ``index`` of a status is one of the padded (~large_bytes) ones."""
        return self.large_every > 0 and (index + 1) % self.large_every == 0

    def alert_bytes(self, status: int, index: int) -> bytes:
        """The serialized alert, exactly as every page that contains it sends it."""
        key = (status, index)
        body = self._cache.get(key)
        if body is None:
            size = self.large_bytes if self.is_large(index) else self.small_bytes
            the_id = self._hostile.get(key) or alert_id(status, index)
            body = self._cache[key] = build_alert(self.seed, status, index, the_id, size)
        return body

    def page(self, status: int, offset: int, size: int) -> list[bytes]:
        """Serialized alerts ``offset .. offset+size`` of ``status``."""
        stop = min(offset + size, self.counts[status])
        return [self.alert_bytes(status, index) for index in range(offset, stop)]

    def __iter__(self) -> Iterator[bytes]:
        for status in STATUSES:
            for index in range(self.counts[status]):
                yield self.alert_bytes(status, index)

    def __len__(self) -> int:
        return sum(self.counts.values())
