"""The secret scan of `make lint` and the pre-commit hook: detect-secrets against the reviewed baseline.

    python tools/secret_scan.py            # every tracked or new (not ignored) file of the repository
    python tools/secret_scan.py FILE ...   # only these (pre-commit passes the staged files)

Fails on a potential secret that ``.secrets.baseline`` does not list, and on a baseline entry that is
not audited as a false positive (``"is_secret": false``). Entries match on file, secret hash and type,
as in detect-secrets' own hook, so an edit that only moves a listed line does not fail the scan, and
nothing is written (the hook would rewrite the baseline and fail). The plugins, filters and excluded
paths are the baseline's own. After a reviewed change: ``detect-secrets scan --baseline .secrets.baseline``
(refreshes line numbers, adds new findings), then ``detect-secrets audit .secrets.baseline``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from detect_secrets.core import baseline
from detect_secrets.core.secrets_collection import SecretsCollection

REPO = Path(__file__).resolve().parents[1]
BASELINE = ".secrets.baseline"


def repo_files() -> list[str]:
    """Tracked files plus new ones git does not ignore, so a secret is caught before `git add`."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # is_file(): files deleted in the work tree, and symlinked folders such as a worktree's .venv, drop out.
    return [name for name in listed.split("\0") if name and (REPO / name).is_file()]


def main(argv: list[str]) -> int:
    os.chdir(REPO)  # the baseline names files relative to the repository root
    reviewed = baseline.load(baseline.load_from_file(BASELINE), BASELINE)  # also applies its settings
    files = argv or repo_files()
    found = SecretsCollection()
    found.scan_files(*files)
    new = list(found - reviewed)
    unaudited = [(name, secret) for name, secret in reviewed if secret.is_secret is not False]
    for name, secret in new:
        print(f"{name}:{secret.line_number}: potential secret ({secret.type}) not in {BASELINE}")
    for name, secret in unaudited:
        print(f"{BASELINE}: {name}:{secret.line_number} ({secret.type}) is not audited as a false positive")
    if new or unaudited:
        print(
            "secret scan FAILED: move a real secret to Secrets Manager / SSM (and rotate it); for a false "
            f"positive run `detect-secrets scan --baseline {BASELINE}` then `detect-secrets audit {BASELINE}`"
        )
        return 1
    print(f"secret scan: {len(files)} files, {len(list(reviewed))} audited false positives, no new secret")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
