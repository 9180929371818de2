"""``python -m fake_alerts_api``: serve the fake alerts API until SIGTERM or SIGINT.

The first line on stdout is the base URL. Without ``--token``/``--token-file`` a random token is made
and written to stderr.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from fake_alerts_api.server import FakeAlertsApi


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m fake_alerts_api", description=__doc__)
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port (default 8765)")
    parser.add_argument("--alerts-per-status", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    token = parser.add_mutually_exclusive_group()
    token.add_argument("--token", help="the bearer token clients must send")
    token.add_argument("--token-file", type=Path, help="read the bearer token from this file")
    parser.add_argument("--large-every", type=int, default=10, help="every n-th alert is large (0: none)")
    parser.add_argument("--large-bytes", type=int, default=200_000)
    parser.add_argument("--small-bytes", type=int, default=2_000)
    parser.add_argument("--hostile-ids", action="store_true", help="give a few alerts unsafe ids")
    faults = parser.add_argument_group("faults (also settable at runtime: POST /_faults)")
    faults.add_argument("--rate-429", type=float, default=0.0)
    faults.add_argument("--retry-after", type=float, default=1.0)
    faults.add_argument("--rate-500", type=float, default=0.0)
    faults.add_argument("--slow-rate", type=float, default=0.0)
    faults.add_argument("--slow-seconds", type=float, default=0.0)
    faults.add_argument("--malformed-rate", type=float, default=0.0)
    faults.add_argument("--max-faults-per-page", type=int, default=2)
    faults.add_argument("--fault-seed", type=int, default=0)
    parser.add_argument("--log-requests", action="store_true", help="log every request to stderr")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    token = args.token_file.read_text().strip() if args.token_file else args.token
    api = FakeAlertsApi(
        args.alerts_per_status,
        seed=args.seed,
        token=token,
        port=args.port,
        large_every=args.large_every,
        large_bytes=args.large_bytes,
        small_bytes=args.small_bytes,
        hostile_ids=args.hostile_ids,
        log_requests=args.log_requests,
    )
    try:
        api.set_faults(
            rate_429=args.rate_429,
            retry_after=args.retry_after,
            rate_500=args.rate_500,
            slow_rate=args.slow_rate,
            slow_seconds=args.slow_seconds,
            malformed_rate=args.malformed_rate,
            max_faults_per_page=args.max_faults_per_page,
            seed=args.fault_seed,
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
