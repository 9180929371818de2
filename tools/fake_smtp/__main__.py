"""``python -m fake_smtp``: serve SMTP (STARTTLS, then AUTH) until SIGTERM or SIGINT.

The first line on stdout is ``host:port``; the CA to trust is ``<dir>/tls/ca.pem`` and the messages land
in ``<dir>/mail/new/``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from fake_smtp.server import HOST, FakeSmtpServer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m fake_smtp", description=__doc__)
    parser.add_argument("--host", default=HOST, help=f"address to listen on (default {HOST})")
    parser.add_argument("--port", type=int, default=2525, help="0 picks a free port (default 2525)")
    parser.add_argument("--dir", type=Path, required=True, help="state: tls/ (certificates) and mail/")
    parser.add_argument("--username", required=True, help="the one login AUTH accepts")
    parser.add_argument("--password-file", type=Path, required=True, help="file holding its password")
    parser.add_argument(
        "--no-starttls", action="store_true", help="offer no STARTTLS (to test clients that must refuse)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # aiosmtpd logs each session to "mail.log"; the local stack keeps that in its log file.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # aiosmtpd warns about its own use of a deprecated attribute on every AUTH.
    quiet = "login_data is deprecated"
    logging.getLogger("mail.log").addFilter(lambda entry: quiet not in entry.getMessage())
    password = args.password_file.read_text().strip()
    server = FakeSmtpServer(
        args.dir,
        username=args.username,
        password=password,
        host=args.host,
        port=args.port,
        starttls=not args.no_starttls,
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with server:
        print(f"{server.host}:{server.port}", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
