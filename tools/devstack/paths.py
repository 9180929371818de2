"""Where the local stack keeps its state, and the ports it binds (all on 127.0.0.1)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOCAL = Path(os.environ.get("LP_LOCAL_DIR", REPO / ".local"))
LOGS = LOCAL / "logs"
STACK_ENV = LOCAL / "stack.env"
BUILD = REPO / "build"
TERRAFORM = REPO / "terraform"
LOCAL_ROOT = TERRAFORM / "environments" / "local"
TF_STATE = LOCAL / "terraform" / "local.tfstate"

HOST = "127.0.0.1"
MINISTACK_PORT = int(os.environ.get("LP_MINISTACK_PORT", "4566"))
MYSQL_PORT = int(os.environ.get("LP_MYSQL_PORT", "3307"))
SFTP_PORT = int(os.environ.get("LP_SFTP_PORT", "2222"))

MINISTACK_VENV = LOCAL / "venv-ministack"
RUNTIME_VENV = LOCAL / "venv-runtime"


def python312() -> str:
    """The Python 3.12 interpreter (Lambda runtime parity): $PYTHON312, python3.12 on PATH, or pyenv's."""
    candidates = [
        os.environ.get("PYTHON312"),
        shutil.which("python3.12"),
        "/root/.pyenv/versions/3.12.1/bin/python",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return candidate
    sys.exit("Python 3.12 not found: install it or set PYTHON312=/path/to/python3.12")
