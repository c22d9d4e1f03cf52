# Every target bootstraps itself: uv is installed with pip if missing, then the locked environment is synced.
SHELL := /bin/bash
# uv from PATH, else the one bootstrap installs with pip (run as a module, wherever pip put its script).
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
RUN := $(UV) run --frozen
# aws-sam-cli and checkov pin their own boto3 and cfn-lint, so they live in their own locked environment (tools/).
TOOLS := $(UV) run --frozen --project tools

.PHONY: bootstrap tools demo test lint typecheck template-check schema schema-check eval bench unit integration mutation

bootstrap:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv \
	  || python3 -m pip install --quiet --user --break-system-packages uv
	@# Bytecode compiled at install: this machine sets PYTHONDONTWRITEBYTECODE, so nothing would ever be cached.
	@$(UV) sync --frozen --quiet --compile-bytecode

tools: bootstrap
	@$(UV) sync --frozen --quiet --compile-bytecode --project tools

demo: bootstrap
	$(RUN) voice-analytics demo

lint: bootstrap
	$(RUN) ruff format --check .
	$(RUN) ruff check .

typecheck: bootstrap
	$(RUN) mypy

template-check: tools
	$(RUN) cfn-lint template.yaml
	AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 $(TOOLS) sam validate --lint --template-file template.yaml
	$(TOOLS) checkov --file template.yaml --framework cloudformation --compact --quiet --skip-download

schema: bootstrap
	$(RUN) python -m functions.common.schema > schemas/session-record.v1.json

eval: bootstrap
	$(RUN) python -m tests.evals.run_eval

# pytest's exit code is kept in build/test/pytest-exit-code so that .ci/run can tell "no tests" (5) apart.
test: lint typecheck template-check
	@mkdir -p build/test
	@$(RUN) pytest -q -p no:cacheprovider; rc=$$?; echo $$rc > build/test/pytest-exit-code; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing, a run with no tests is a defect" >&2; fi; exit $$rc

bench: bootstrap
	$(RUN) python -m benchmarks.run

# Mutation testing (mutmut) of the modules listed in tests/mutation/run.py, each against the fast tests that cover
# it: prints the score per module and every surviving mutant (docs/testing.md). Not part of `make test` (minutes).
mutation: bootstrap
	$(RUN) python -m tests.mutation.run

# --- SAM builds (`sam build` runs `make build-<LogicalId>` with ARTIFACTS_DIR set; see template.yaml) ----------
# Each artifact holds the `functions` package (common + the one function, so imports stay absolute) and the
# dependencies from functions/requirements.txt, or from the function's own functions/<name>/requirements.txt when
# it has one (compact: DuckDB, and none of the far ends' clients), as arm64 / CPython 3.12 wheels. `uv pip` is used
# because the uv-managed venv has no pip; the flags are pip's `--platform manylinux2014_aarch64 --only-binary=:all:
# --python-version 3.12 --target`.
# sam runs these targets from inside `uv run --project tools`, which puts tools/.venv first on PATH and sets UV to
# the uv binary it runs as: use that one, so the build also works where uv is not on PATH (the `python3 -m uv`
# fallback would find the tools venv's python3, which has no uv module).
LAMBDA_UV := $(or $(shell printenv UV),$(UV))
LAMBDA_PIP = $(LAMBDA_UV) pip install --quiet --python-platform $(or $(LAMBDA_PLATFORM_$(1)),aarch64-manylinux2014) \
	--only-binary :all: --python-version 3.12 \
	--requirement $(or $(wildcard functions/$(1)/requirements.txt),functions/requirements.txt)
# DuckDB publishes arm64 wheels for glibc 2.26 and later only (manylinux_2_26/2_28); the python3.12 runtime is Amazon
# Linux 2023 (glibc 2.34), which runs them.
LAMBDA_PLATFORM_compact := aarch64-manylinux_2_28

define build-lambda
	@[ -n "$(ARTIFACTS_DIR)" ] || { echo "ARTIFACTS_DIR is not set: run 'uv run --project tools sam build'" >&2; exit 2; }
	mkdir -p "$(ARTIFACTS_DIR)/functions"
	cp functions/__init__.py "$(ARTIFACTS_DIR)/functions/"
	cp -R functions/common "$(ARTIFACTS_DIR)/functions/"
	cp -R functions/$(1) "$(ARTIFACTS_DIR)/functions/"
	$(LAMBDA_PIP) --target "$(ARTIFACTS_DIR)"
	rm -f "$(ARTIFACTS_DIR)/functions/$(1)/requirements.txt"
	find "$(ARTIFACTS_DIR)/functions" -name __pycache__ -type d -prune -exec rm -rf {} +
	@# Bytecode for CPython 3.12 (the runtime's), compiled here because nothing else does: uv pip does not by default,
	@# and /var/task is read-only, so a function without it compiles every module it imports (Powertools, botocore,
	@# pydantic...) from source on every cold start: about 2 s instead of 0.5 s for hot_lead_alert's import.
	@# unchecked-hash: the default check (the source's mtime) can fail after zipping, which keeps mtimes to 2 s, and
	@# checking the source's hash costs each import a read of it; nothing changes a source after this line (every
	@# build starts from fresh copies, and the package is too big for the console's editor). LAMBDA_PYTHON names
	@# another CPython 3.12 if uv cannot find one.
	$(LAMBDA_UV) run --no-project --python $(or $(LAMBDA_PYTHON),3.12) -- python -m compileall -q -f -j 0 \
	  --invalidation-mode unchecked-hash "$(ARTIFACTS_DIR)"
endef

.PHONY: build-ScoreLeadFunction build-SalesforceSyncFunction build-AmplitudeEventsFunction build-HotLeadAlertFunction \
	build-CompactFunction

build-ScoreLeadFunction:
	$(call build-lambda,score_lead)

build-SalesforceSyncFunction:
	$(call build-lambda,salesforce_sync)

build-AmplitudeEventsFunction:
	$(call build-lambda,amplitude_events)

build-HotLeadAlertFunction:
	$(call build-lambda,hot_lead_alert)

build-CompactFunction:
	$(call build-lambda,compact)
