# The two commands: `make demo` and `make test`. Everything else is a step of theirs.
PYTHON ?= python3.11
UV_VERSION := 0.13.9
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1

.PHONY: setup lock lint demo down test browser eval bench es-start es-stop clean

## setup: .venv with newsetl, its dependencies and the spaCy model, exactly as uv.lock pins them (idempotent)
setup: $(STAMP)

# --inexact: uv itself (and pip) stay in the venv although the lock does not list them.
$(STAMP): pyproject.toml uv.lock | $(BIN)/uv
	$(BIN)/uv sync --locked --extra dev --inexact
	@touch $(STAMP)

# uv from PyPI, into the venv: no system-wide install needed.
$(BIN)/uv:
	@command -v $(PYTHON) >/dev/null || { echo "setup: $(PYTHON) not found (newsetl needs Python 3.11-3.13)" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet "uv==$(UV_VERSION)"

## lock: re-resolve uv.lock after changing dependencies in pyproject.toml (commit both), then `make setup`
lock: | $(BIN)/uv
	$(BIN)/uv lock

## lint: ruff, configured in pyproject.toml
lint: setup
	$(BIN)/ruff check .

## demo: `newsetl up` (Elasticsearch unless one answers, Prefect server + UI, deployments runner),
## the sample articles ingested (a run in the UI), a search, and where to click; `newsetl down` stops it
demo: setup
	$(BIN)/newsetl up
	$(BIN)/newsetl run samples/articles
	$(BIN)/newsetl search "central bank"
	@echo
	$(BIN)/newsetl status
	@echo "Stop everything with: $(BIN)/newsetl down"

## test: the whole suite; the tests start their own Elasticsearch node and Prefect server
test: setup browser lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## browser: Debian's Chromium for the UI test (Playwright drives it; no browser download)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser test"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium; fi; }

## eval: the quality evaluations (extraction, deduplication, enrichment)
eval: setup
	$(BIN)/python -m evals.extraction
	$(BIN)/python -m evals.dedupe
	$(BIN)/python -m evals.enrichment

## bench: the performance benchmark against the local node
bench: setup
	$(BIN)/newsetl bench

## down: stop what `newsetl up` (and so `make demo`) started
down:
	-$(BIN)/newsetl down

es-start: setup
	$(BIN)/newsetl es start

es-stop: setup
	$(BIN)/newsetl es stop

clean:
	-$(BIN)/newsetl down
	-$(BIN)/newsetl es stop
	rm -rf $(VENV) .newsetl localnode/target test-artifacts
