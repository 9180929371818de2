"""The pipeline's circuit breaker: stop starting Glue jobs after repeated failures.

State lives in the metrics table ``ndjson-parquet-sqs-metrics-{env}`` (PK ``pk`` S, SK ``sk`` S,
TTL ``ttl``), all under ``pk = "BREAKER"``:

* outcome items ``sk = "<iso time>#<manifest_id>"`` with ``outcome`` (``completed``/``failed``);
* a guard item ``sk = "OUTCOME#<manifest_id>#<outcome>"`` written in the same transaction, so a
  retried status update (Step Functions retries the Lambda task) never counts an outcome twice;
* the reset item ``sk = "RESET"`` with ``reset_at`` (iso): outcomes before it are ignored.

The breaker is open when, among the outcomes of the last ``window_seconds`` after the last reset,
failures >= ``failure_threshold``. Outcome and reset times are written with microseconds, so the
sort key orders them by time; ``OUTCOME#`` and ``RESET`` sort after every time and stay out of the
window query.

Operators::

    python -m ndjson_to_parquet.breaker status --table ndjson-parquet-sqs-metrics-dev
    python -m ndjson_to_parquet.breaker reset --table ndjson-parquet-sqs-metrics-dev

(or the ``aws dynamodb put-item`` line in ``shared/README.md``). After a reset the next scheduled
flush starts the manifests that waited while the breaker was open.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from ndjson_to_parquet.contract import OUTCOME_FAILED, OUTCOMES, is_manifest_id
from pipelines_shared import aws
from pipelines_shared.clock import Clock, utc_now
from pipelines_shared.log import configure_logging, get_logger

logger = get_logger(__name__)

PK = "pk"
SK = "sk"
TTL = "ttl"
BREAKER_PK = "BREAKER"
RESET_SK = "RESET"
GUARD_PREFIX = "OUTCOME#"
DEFAULT_TTL_SECONDS = 30 * 24 * 3600
_AFTER_EVERY_TIME = "9"  # ISO times start with a year "2..."; "OUTCOME#"/"RESET" sort after "9"


def iso(moment: datetime) -> str:
    """A fixed-width UTC ISO time (always with microseconds), so strings sort as times do."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class BreakerStatus:
    open: bool
    failures: int
    successes: int
    failure_threshold: int
    window_seconds: int
    reset_at: str | None
    counted_since: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class OutcomeLog:
    """Manifest outcomes in, once each, and the reset mark: what batch-status-updater writes."""

    def __init__(
        self,
        table_name: str,
        *,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        client: Any = None,
        clock: Clock = utc_now,
    ) -> None:
        self.table_name = table_name
        self.ttl_seconds = ttl_seconds
        self._client = client
        self._clock = clock

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = aws.client("dynamodb")
        return self._client

    def _expires(self, now: datetime) -> dict[str, str]:
        return {"N": str(int(now.timestamp()) + self.ttl_seconds)}

    def record(self, manifest_id: str, outcome: str) -> bool:
        """Record a manifest's outcome once; True if recorded now, False if it already was."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {sorted(OUTCOMES)}, got {outcome!r}")
        if not is_manifest_id(manifest_id):
            raise ValueError(f"{manifest_id!r} is not a manifest id")
        now = self._clock()
        common = {"manifest_id": {"S": manifest_id}, "outcome": {"S": outcome}, TTL: self._expires(now)}
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": {
                                PK: {"S": BREAKER_PK},
                                SK: {"S": f"{GUARD_PREFIX}{manifest_id}#{outcome}"},
                                **common,
                            },
                            "ConditionExpression": "attribute_not_exists(#pk)",
                            "ExpressionAttributeNames": {"#pk": PK},
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": {
                                PK: {"S": BREAKER_PK},
                                SK: {"S": f"{iso(now)}#{manifest_id}"},
                                "recorded_at": {"S": iso(now)},
                                **common,
                            },
                        }
                    },
                ]
            )
        except ClientError as exc:
            if _guard_existed(exc):
                logger.info("breaker outcome already recorded", manifest_id=manifest_id, outcome=outcome)
                return False
            raise
        logger.info("breaker outcome recorded", manifest_id=manifest_id, outcome=outcome)
        return True

    def reset_at(self) -> datetime | None:
        response = self.client.get_item(
            TableName=self.table_name,
            Key={PK: {"S": BREAKER_PK}, SK: {"S": RESET_SK}},
            ConsistentRead=True,
        )
        raw = response.get("Item", {}).get("reset_at", {}).get("S")
        return datetime.fromisoformat(raw) if raw else None

    def reset(self) -> str:
        """Ignore every outcome recorded until now; return the reset time written."""
        at = iso(self._clock())
        self.client.put_item(
            TableName=self.table_name,
            Item={PK: {"S": BREAKER_PK}, SK: {"S": RESET_SK}, "reset_at": {"S": at}},
        )
        logger.warning("circuit breaker reset", table=self.table_name, reset_at=at)
        return at


class CircuitBreaker(OutcomeLog):
    """Outcomes per manifest in, "open?" out; see the module docstring for the items it keeps.

    ``failure_threshold`` and ``window_seconds`` have no defaults: Terraform sets the deployed values
    (BREAKER_FAILURE_THRESHOLD, BREAKER_WINDOW_SECONDS) and the code never carries a second copy.
    """

    def __init__(
        self,
        table_name: str,
        *,
        failure_threshold: int,
        window_seconds: int,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        client: Any = None,
        clock: Clock = utc_now,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be >= 1")
        if window_seconds < 1:
            raise ValueError("window_seconds must be >= 1")
        super().__init__(table_name, ttl_seconds=ttl_seconds, client=client, clock=clock)
        self.failure_threshold = failure_threshold
        self.window_seconds = window_seconds

    def status(self) -> BreakerStatus:
        """Count the outcomes in the window after the last reset (strongly consistent reads)."""
        now = self._clock()
        reset_at = self.reset_at()
        since = now - timedelta(seconds=self.window_seconds)
        if reset_at is not None and reset_at > since:
            since = reset_at
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "#pk = :pk AND #sk BETWEEN :since AND :until",
            "ExpressionAttributeNames": {"#pk": PK, "#sk": SK},
            "ExpressionAttributeValues": {
                ":pk": {"S": BREAKER_PK},
                ":since": {"S": iso(since)},
                ":until": {"S": _AFTER_EVERY_TIME},
            },
            "ConsistentRead": True,
        }
        failures = successes = 0
        while True:
            response = self.client.query(**request)
            for item in response.get("Items", []):
                if item.get("outcome", {}).get("S") == OUTCOME_FAILED:
                    failures += 1
                else:
                    successes += 1
            if not response.get("LastEvaluatedKey"):
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return BreakerStatus(
            open=failures >= self.failure_threshold,
            failures=failures,
            successes=successes,
            failure_threshold=self.failure_threshold,
            window_seconds=self.window_seconds,
            reset_at=iso(reset_at) if reset_at else None,
            counted_since=iso(since),
        )

    def is_open(self) -> bool:
        return self.status().open


def _guard_existed(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    if error.get("Code") == "ConditionalCheckFailedException":
        return True
    if error.get("Code") != "TransactionCanceledException":
        return False
    reasons = exc.response.get("CancellationReasons") or []
    if reasons:
        return reasons[0].get("Code") == "ConditionalCheckFailed"
    # Some emulators leave CancellationReasons out; the message still names the failed condition.
    return "ConditionalCheckFailed" in error.get("Message", "")


def create_table(table_name: str, *, client: Any = None) -> None:
    """Create a metrics table of the real shape (tests; Terraform owns the real one)."""
    client = client or aws.client("dynamodb")
    client.create_table(
        TableName=table_name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": PK, "AttributeType": "S"},
            {"AttributeName": SK, "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": PK, "KeyType": "HASH"}, {"AttributeName": SK, "KeyType": "RANGE"}],
    )
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    client.update_time_to_live(
        TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL}
    )


def _int_env(name: str) -> int | None:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else None


def main(argv: Sequence[str] | None = None) -> int:
    """``status`` prints the breaker's state as JSON; ``reset`` closes it (outcomes so far ignored)."""
    parser = argparse.ArgumentParser(
        prog="python -m ndjson_to_parquet.breaker",
        description="Inspect or reset the NDJSON pipeline's circuit breaker.",
    )
    parser.add_argument("command", choices=["status", "reset"])
    parser.add_argument("--table", required=True, help="metrics table, e.g. ndjson-parquet-sqs-metrics-dev")
    # The deployed values live on the manifest-builder function (Terraform sets them there): pass
    # them, or export its BREAKER_* variables.
    parser.add_argument(
        "--threshold",
        type=int,
        default=_int_env("BREAKER_FAILURE_THRESHOLD"),
        help="failures that open the breaker (default: $BREAKER_FAILURE_THRESHOLD)",
    )
    parser.add_argument(
        "--window",
        type=int,
        default=_int_env("BREAKER_WINDOW_SECONDS"),
        help="seconds of outcomes counted (default: $BREAKER_WINDOW_SECONDS)",
    )
    args = parser.parse_args(argv)
    if args.threshold is None or args.window is None:
        parser.error(
            "--threshold and --window are required (the manifest-builder's BREAKER_FAILURE_THRESHOLD and"
            " BREAKER_WINDOW_SECONDS)"
        )
    configure_logging(stream=sys.stderr)  # stdout carries the JSON status only
    breaker = CircuitBreaker(args.table, failure_threshold=args.threshold, window_seconds=args.window)
    if args.command == "reset":
        breaker.reset()
    print(json.dumps(breaker.status().to_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
