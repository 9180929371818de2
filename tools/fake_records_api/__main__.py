"""``python -m fake_records_api``: serve the fake records API until SIGTERM or SIGINT.

The first line on stdout is the base URL. Without ``--token``/``--token-file`` a random token is made
and written to stderr.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from fake_records_api.server import FakeRecordsApi, RejectRule


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m fake_records_api", description=__doc__)
    parser.add_argument("--port", type=int, default=8766, help="0 picks a free port (default 8766)")
    token = parser.add_mutually_exclusive_group()
    token.add_argument("--token", help="the bearer token clients must send")
    token.add_argument("--token-file", type=Path, help="read the bearer token from this file")
    parser.add_argument(
        "--rate-limit", type=int, default=0, help="requests/s to /v1/records, 0 for none (POST /_config)"
    )
    faults = parser.add_argument_group("faults (also settable at runtime: POST /_faults)")
    faults.add_argument("--rate-429", type=float, default=0.0)
    faults.add_argument("--retry-after", type=float, default=1.0)
    faults.add_argument("--rate-500", type=float, default=0.0)
    faults.add_argument("--rate-502", type=float, default=0.0)
    faults.add_argument("--rate-503", type=float, default=0.0)
    faults.add_argument("--reset-rate", type=float, default=0.0)
    faults.add_argument("--lost-answer-rate", type=float, default=0.0)
    faults.add_argument("--slow-rate", type=float, default=0.0)
    faults.add_argument("--slow-seconds", type=float, default=0.0)
    faults.add_argument("--max-faults-per-key", type=int, default=2)
    faults.add_argument("--fault-seed", type=int, default=0)
    faults.add_argument(
        "--reject-rule",
        action="append",
        default=[],
        type=_rule,
        metavar="JSON",
        help='e.g. \'{"field": "amount", "pattern": "^-", "status": 422, "code": "negative_amount"}\'',
    )
    parser.add_argument("--log-requests", action="store_true", help="log every request to stderr")
    return parser.parse_args(argv)


def _rule(text: str) -> RejectRule:
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        return RejectRule(**data)
    except (ValueError, TypeError) as error:
        raise argparse.ArgumentTypeError(f"bad reject rule {text!r}: {error}") from None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    token = args.token_file.read_text().strip() if args.token_file else args.token
    api = FakeRecordsApi(
        token=token, port=args.port, rate_limit=args.rate_limit, log_requests=args.log_requests
    )
    try:
        api.set_faults(
            rate_429=args.rate_429,
            retry_after=args.retry_after,
            rate_500=args.rate_500,
            rate_502=args.rate_502,
            rate_503=args.rate_503,
            reset_rate=args.reset_rate,
            lost_answer_rate=args.lost_answer_rate,
            slow_rate=args.slow_rate,
            slow_seconds=args.slow_seconds,
            max_faults_per_key=args.max_faults_per_key,
            seed=args.fault_seed,
            reject_rules=tuple(args.reject_rule),
        )
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        print(api.url, flush=True)
        if token is None:
            print(f"token: {api.token}", file=sys.stderr, flush=True)
        stop.wait()
    finally:
        api.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
