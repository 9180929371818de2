#!/usr/bin/env bash
# `make setup`: everything a fresh Debian/Ubuntu machine needs for `make test`, idempotently.
#   - Debian packages mariadb-server, openssh-server, a JRE, gcc and graphviz when missing
#     (installed without starting the system's own services: ours run from .local/)
#   - .venv                   dev/test tools (Python 3.12, requirements/dev.txt)
#   - .local/venv-ministack   the AWS emulator (requirements/ministack.txt)
#   - .local/venv-runtime     the Lambda runtime's view: Python 3.12 + its boto3 only
#   - .local/venv-airflow     the Airflow Task SDK, to build the DAGs in airflow/dags
#   - .local/venv-glue        Python 3.9 + pyarrow: AWS Glue's Python-shell runtime, for glue/ tests
#   - .local/venv-spark       Python 3.11 + PySpark 3.5 (Glue 5.0), for the Spark variant's tests
#   - .local/venv-checkov     checkov, the Terraform scanner of `make lint` (pins its own dependencies)
# Each virtualenv is rebuilt only when its lock file changed.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }

# --- Debian packages -------------------------------------------------------------------------
missing=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server mariadb-client)
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)  # local PySpark
command -v gcc >/dev/null 2>&1 || missing+=(gcc libc6-dev)            # the converter's C scanner
command -v dot >/dev/null 2>&1 || missing+=(graphviz)                  # the pictures (make docs)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then sudo=(); elif sudo -n true 2>/dev/null; then sudo=(sudo -n); else
    echo "setup: please install: ${missing[*]} (needs root)" >&2; exit 1
  fi
  say "installing ${missing[*]}"
  # Keep the packages' own services from starting: the stack runs its own instances.
  added_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${sudo[@]}" chmod 755 /usr/sbin/policy-rc.d
    added_policy=1
  fi
  trap '[ "$added_policy" = 1 ] && "${sudo[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "Debian packages: mariadb-server, openssh-server, a Java runtime, gcc and graphviz present"
fi

# --- Python 3.12 -----------------------------------------------------------------------------
py312="${PYTHON312:-}"
[ -n "$py312" ] || py312=$(command -v python3.12 2>/dev/null || true)
[ -n "$py312" ] && "$py312" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null || py312=""
[ -n "$py312" ] || { [ -x /root/.pyenv/versions/3.12.1/bin/python ] && py312=/root/.pyenv/versions/3.12.1/bin/python; }
[ -n "$py312" ] || { echo "setup: Python 3.12 is required (Lambda runtime parity); set PYTHON312=/path/to/python3.12" >&2; exit 1; }

# Glue parity interpreters: Python shell jobs run 3.9, Glue 5.0 Spark jobs 3.11.
find_python() {  # find_python <major.minor> <env override>
  local want=$1 candidate
  for candidate in ${2:-} "$(command -v "python$want" 2>/dev/null || true)" /root/.pyenv/versions/"$want".*/bin/python; do
    [ -n "$candidate" ] && [ -x "$candidate" ] || continue
    if "$candidate" -c "import sys; assert '%d.%d' % sys.version_info[:2] == '$want'" 2>/dev/null; then
      echo "$candidate"; return
    fi
  done
  echo "setup: Python $want is required (Glue runtime parity); set PYTHON${want//./}=/path/to/python$want" >&2
  exit 1
}
py39=$(find_python 3.9 "${PYTHON39:-}")
py311=$(find_python 3.11 "${PYTHON311:-}")

# .local/ holds the local stack's secrets (keys, passwords, Terraform state): the invoking user's alone.
mkdir -p .local && chmod 700 .local

venv() {  # venv <dir> <lock file> [python]
  local dir=$1 lock=$2 python=${3:-$py312} stamp=$1/.lock.sha256 want
  want=$(sha256sum "$lock" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$dir/bin/python" ]; then
    say "$dir up to date"; return
  fi
  say "building $dir from $lock"
  rm -rf "$dir"
  "$python" -m venv "$dir"
  mkdir -p .local/logs
  local log=".local/logs/pip-$(basename "$dir").log"
  if ! "$dir/bin/python" -m pip install --disable-pip-version-check -r "$lock" >"$log" 2>&1; then
    tail -n 30 "$log" >&2; echo "setup: pip install into $dir failed (full log: $log)" >&2; exit 1
  fi
  "$dir/bin/python" -m pip check >/dev/null
  echo "$want" > "$stamp"
}

venv .venv requirements/dev.txt
venv .local/venv-ministack requirements/ministack.txt
venv .local/venv-runtime requirements/runtime.txt
venv .local/venv-airflow requirements/airflow.txt
venv .local/venv-glue requirements/glue.txt "$py39"
venv .local/venv-spark requirements/spark.txt "$py311"
venv .local/venv-checkov requirements/checkov.txt

mkdir -p .local/logs
# --- lp, the operator CLI --------------------------------------------------------------------
# The repo installed editable into .venv (pyproject.toml: [project.scripts]): .venv/bin/lp runs this
# checkout's tools/lp. Reinstalled when pyproject.toml changed or .venv was rebuilt.
lp_want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ -x .venv/bin/lp ] && [ "$(cat .venv/.lp.sha256 2>/dev/null)" = "$lp_want" ]; then
  say ".venv/bin/lp up to date"
else
  say "installing lp into .venv (editable)"
  .venv/bin/python -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e . \
    >.local/logs/pip-lp.log 2>&1 || { tail -n 30 .local/logs/pip-lp.log >&2; exit 1; }
  echo "$lp_want" > .venv/.lp.sha256
fi

# --- Terraform -------------------------------------------------------------------------------
if ! command -v terraform >/dev/null 2>&1; then
  echo "setup: terraform >= 1.6 is required on PATH (https://developer.hashicorp.com/terraform/install)" >&2; exit 1
fi
if [ ! -d /opt/tf-plugins/registry.terraform.io/hashicorp/aws ]; then
  echo "setup: note: no provider mirror at /opt/tf-plugins; set TF_CLI_CONFIG_FILE to your own CLI config" >&2
fi
# `make test` and `make demo` run this script first when this stamp is older than what it installs from.
touch .local/setup.done
say "setup complete ($(terraform version | head -1), $("$py312" --version))"
