# The two commands: `make demo` and `make test`. Everything else is a step of theirs.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast eval bench es-start es-stop clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "setup: $(PYTHON) not found (newsetl needs Python 3.11)" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: setup
	$(BIN)/newsetl es start
	$(BIN)/newsetl run samples/articles
	$(BIN)/newsetl search "central bank"

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

eval: setup
	$(BIN)/python -m evals.extraction
	$(BIN)/python -m evals.dedupe
	$(BIN)/python -m evals.enrichment

bench: setup
	$(BIN)/newsetl bench

es-start: setup
	$(BIN)/newsetl es start

es-stop: setup
	$(BIN)/newsetl es stop

clean:
	rm -rf $(VENV) .newsetl localnode/target
