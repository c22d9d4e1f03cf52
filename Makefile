# Every target bootstraps itself: uv is installed with pip if missing, then the locked environment is synced.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
RUN := $(UV) run --frozen

.PHONY: bootstrap demo test lint typecheck template-check schema schema-check eval bench unit integration

bootstrap:
	@command -v uv >/dev/null 2>&1 || [ -x "$(HOME)/.local/bin/uv" ] || python3 -m pip install --user --quiet uv || python3 -m pip install --quiet uv
	@$(UV) sync --frozen --quiet

demo: bootstrap
	$(RUN) voice-analytics demo

lint: bootstrap
	$(RUN) ruff format --check .
	$(RUN) ruff check .

typecheck: bootstrap
	$(RUN) mypy

template-check: bootstrap
	$(RUN) cfn-lint template.yaml
	AWS_DEFAULT_REGION=us-east-1 $(RUN) sam validate --lint --template-file template.yaml

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
