# lambda-pipelines — `make setup` then `make test` is all a contributor needs. `make help` lists the rest.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV      := .venv
PY        := $(VENV)/bin/python
DEVSTACK  := cd tools && ../$(PY) -m devstack
TF_ROOTS  := $(wildcard terraform/environments/*)
TF_MODULES := $(wildcard terraform/modules/*) $(wildcard terraform/modules/*/examples/*)
CHECKOV   := .local/venv-checkov/bin/checkov
# Providers from the filesystem mirror where there is one (no network); elsewhere from the registry.
ifneq ($(wildcard /opt/tf-plugins/registry.terraform.io),)
export TF_CLI_CONFIG_FILE := $(CURDIR)/terraform/terraformrc
endif
export TF_IN_AUTOMATION := 1
export CHECKPOINT_DISABLE := 1
PYTEST_ARGS ?=
# The Python that ships (Lambda zips, Glue): the shared library, each pipeline's core, each service's
# package (services are the folders with a requirements.txt, as tools/build_zips.py finds them), glue/.
SERVICE_DIRS := $(dir $(wildcard services/*/*/requirements.txt))
SERVICES_PY := $(filter-out %/tests,$(patsubst %/__init__.py,%,\
  $(wildcard services/*/*/__init__.py $(addsuffix */__init__.py,$(SERVICE_DIRS)))))
SHIPPED_PY := shared/pipelines_shared $(SERVICES_PY) glue/ndjson_to_parquet_converter glue/jobs
# Glue's interpreters (make setup): mypy resolves pyarrow, boto3 and pyspark as the Glue runtimes have them.
GLUE_SHELL_PY := .local/venv-glue/bin/python
GLUE_SPARK_PY := .local/venv-spark/bin/python

.PHONY: help setup demo docs test test-unit test-glue native lint ruff mypy bandit secret-scan checkov fmt build tf-validate up down status env deploy sftp-keys bench lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: ## install everything `make test` and `make demo` need (idempotent)
	@bash tools/setup.sh

# `make test` and `make demo` work on a fresh clone: they run setup first when it never ran or what it
# installs from changed since.
SETUP_DONE := .local/setup.done
$(SETUP_DONE): tools/setup.sh pyproject.toml $(wildcard requirements/*.txt)
	@bash tools/setup.sh

demo: $(SETUP_DONE) build ## start the stack if needed, deploy, run every pipeline on sample data, print a summary
	$(VENV)/bin/lp demo

# Unit tests on every CPU, a test file per worker (a file's module fixtures build once); then the
# integration and e2e tests in one session, as they share the stack and one deployment. Exit status 5
# (nothing selected, e.g. PYTEST_ARGS names only unit tests) is not a failure.
UNIT_WORKERS ?= auto
# The static gates, Terraform's validation and the build do not depend on each other: side by side they
# take the time of the longest (checkov, or validating every root) instead of the sum. -O keeps each
# target's output together; a failure still fails `make test`.
CHECK_JOBS ?= 3
test: $(SETUP_DONE) ## lint, validate Terraform, build, then unit + integration + e2e tests (starts the stack if needed)
	@$(MAKE) --no-print-directory -j$(CHECK_JOBS) --output-sync=target lint tf-validate build
	$(PY) -m pytest -m "not integration and not e2e" -n $(UNIT_WORKERS) --dist loadfile $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(PY) -m pytest -m "integration or e2e" $(PYTEST_ARGS) || [ $$? -eq 5 ]
	@$(MAKE) --no-print-directory test-glue

test-glue: native ## glue/ under Glue's interpreters: Python 3.9 (python shell) and 3.11 + PySpark (glueetl)
	.local/venv-glue/bin/python -m pytest -c glue/pytest.ini glue/tests
	.local/venv-spark/bin/python -m pytest -c glue/pytest.ini glue/spark_tests

test-unit: ## unit tests only: no services (about 3 minutes on 2 CPUs)
	$(PY) -m pytest -m "not integration and not e2e" -n $(UNIT_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: ruff mypy bandit secret-scan checkov ## every static gate (pre-commit runs the same: .venv/bin/pre-commit install)

ruff: ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

mypy: ## mypy strict on shared/ and services/ (not tests); glue/ under Glue's Python 3.9 (shell) and 3.11 (Spark)
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --python-version 3.9 --python-executable $(GLUE_SHELL_PY) \
	  glue/ndjson_to_parquet_converter glue/jobs/ndjson_to_parquet_job.py
	$(VENV)/bin/mypy --python-version 3.11 --python-executable $(GLUE_SPARK_PY) \
	  glue/ndjson_to_parquet_converter glue/jobs/ndjson_to_parquet_spark.py

bandit: ## bandit on the Python that ships (not tests); each accepted finding has a reasoned # nosec
	$(VENV)/bin/bandit -q -c pyproject.toml -r $(SHIPPED_PY)

secret-scan: ## detect-secrets: fail on a secret not in the audited .secrets.baseline
	$(PY) tools/secret_scan.py

checkov: ## checkov on terraform/: zero failed checks (skips are written beside the resource, with a reason)
	$(CHECKOV) --config-file terraform/.checkov.yaml

fmt: ## format Python and Terraform
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .
	terraform fmt -recursive terraform

native: ## compile the NDJSON converter's C scanner (glue/ndjson_to_parquet_converter/_scanner.so)
	@bash glue/build_native.sh

build: native docs ## one reproducible zip per service, and the Glue job artifacts, into build/
	$(PY) tools/build_zips.py
	$(PY) tools/build_glue.py

docs: ## render each pipeline's picture (docs/img/<pipeline>.svg) from its model in tools/diagrams.py
	$(PY) tools/diagrams.py

tf-validate: ## terraform fmt -check, validate on every module, example and root, and `terraform test` where there are tests
	terraform fmt -check -recursive -diff terraform
	@for dir in $(TF_MODULES) $(TF_ROOTS); do \
	  echo "==> terraform validate $$dir"; \
	  terraform -chdir=$$dir init -backend=false -input=false -no-color >/dev/null; \
	  terraform -chdir=$$dir validate -no-color; \
	  if compgen -G "$$dir/tests/*.tftest.hcl" >/dev/null; then \
	    echo "==> terraform test $$dir"; \
	    terraform -chdir=$$dir test -no-color; \
	  fi; \
	done

up: build ## start ministack, MariaDB and sshd, then deploy the local Terraform root
	@$(DEVSTACK) up

down: ## stop everything `make up` started
	@$(DEVSTACK) down

status: ## what of the local stack runs
	@$(DEVSTACK) status

env: ## print export lines for the local stack (eval "$$(make -s env)")
	@$(DEVSTACK) env

deploy: build ## re-apply the local Terraform root (stack already up)
	@$(DEVSTACK) deploy

sftp-keys: ## create the SFTP host/client keys and known_hosts under .local/sshd (docker-compose uses them)
	@$(DEVSTACK) sftp-keys

bench: ## run the benchmarks in bench/ (comparisons with other tools, one run; saved for `lp cost`)
	@mkdir -p .local/bench; shopt -s nullglob; benches=(bench/bench_*.py); \
	if [ $${#benches[@]} -eq 0 ]; then echo "no benchmarks yet: they arrive with the pipelines (see bench/README.md)"; fi; \
	for b in "$${benches[@]}"; do echo "==> $$b"; $(PY) $$b; done | tee .local/bench/last-run.txt

PY312_BIN ?= $(shell command -v python3.12 || echo /root/.pyenv/versions/3.12.1/bin/python)
PY39_BIN  ?= $(shell command -v python3.9 || echo /root/.pyenv/versions/3.9.18/bin/python)
PY311_BIN ?= $(shell command -v python3.11 || echo /root/.pyenv/versions/3.11.7/bin/python)
# lock name=<in file stem> with=<interpreter>: pin every package the .in pulls in, for that Python.
define lock_one
	rm -rf .local/lock && $(2) -m venv .local/lock
	.local/lock/bin/pip install -q -r requirements/$(1).in && (echo "# Generated by \`make lock\` from $(1).in: do not edit by hand."; .local/lock/bin/pip freeze --all | grep -v '^pip==') > requirements/$(1).txt
endef

lock: ## re-pin requirements/*.txt from requirements/*.in
	$(call lock_one,dev,$(PY312_BIN))
	$(call lock_one,ministack,$(PY312_BIN))
	$(call lock_one,airflow,$(PY312_BIN))
	$(call lock_one,glue,$(PY39_BIN))
	$(call lock_one,spark,$(PY311_BIN))
	$(call lock_one,checkov,$(PY312_BIN))
	rm -rf .local/lock

clean: ## stop the stack and remove build output and local state
	@$(DEVSTACK) clean
	rm -rf build
