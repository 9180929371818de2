"""``python -m fake_splunk_hec``: serve the fake Splunk HEC over HTTPS until SIGTERM or SIGINT.

The first line on stdout is the base URL; the CA file clients verify against goes to stderr (``ca:
<path>``), and so does a random token when neither ``--token`` nor ``--token-file`` is given.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
from pathlib import Path

from fake_splunk_hec.server import FakeSplunkHec


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m fake_splunk_hec", description=__doc__)
    parser.add_argument("--port", type=int, default=8088, help="0 picks a free port (default 8088)")
    parser.add_argument(
        "--cert-dir", type=Path, help="where the CA and server certificate are kept (default: a new temp dir)"
    )
    token = parser.add_mutually_exclusive_group()
    token.add_argument("--token", help="the HEC token clients must send (Authorization: Splunk <token>)")
    token.add_argument("--token-file", type=Path, help="read the HEC token from this file")
    faults = parser.add_argument_group("faults (also settable at runtime: POST /_faults)")
    faults.add_argument("--rate-503", type=float, default=0.0)
    faults.add_argument("--slow-rate", type=float, default=0.0)
    faults.add_argument("--slow-seconds", type=float, default=0.0)
    faults.add_argument("--max-faults-per-batch", type=int, default=2)
    faults.add_argument("--fault-seed", type=int, default=0)
    parser.add_argument("--log-requests", action="store_true", help="log every request to stderr")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    token = args.token_file.read_text().strip() if args.token_file else args.token
    cert_dir = args.cert_dir or Path(tempfile.mkdtemp(prefix="fake-splunk-hec-"))
    hec = FakeSplunkHec(cert_dir, token=token, port=args.port, log_requests=args.log_requests)
    try:
        hec.set_faults(
            rate_503=args.rate_503,
            slow_rate=args.slow_rate,
            slow_seconds=args.slow_seconds,
            max_faults_per_batch=args.max_faults_per_batch,
            seed=args.fault_seed,
        )
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        print(hec.url, flush=True)
        print(f"ca: {hec.ca_file}", file=sys.stderr, flush=True)
        if token is None:
            print(f"token: {hec.token}", file=sys.stderr, flush=True)
        stop.wait()
    finally:
        hec.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
