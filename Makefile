# Two commands do all the set-up on a fresh machine with Python 3.11+ and make:
#   make demo   -> virtualenv, install, run the service with demo data (SQLite)
#   make test   -> virtualenv, install with dev tools, lint, run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000

.PHONY: demo test lint bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "stocksync needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

demo: $(VENV)/.installed
	STOCKSYNC_PORT=$(PORT) $(BIN)/stocksync serve --demo

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests benchmarks

test: $(VENV)/.installed lint
	$(BIN)/pytest -q -n 2 --dist loadgroup -p no:cacheprovider --durations=15

bench: $(VENV)/.installed
	$(BIN)/python -m benchmarks.hot_sku

clean:
	rm -rf $(VENV) stocksync.db stocksync.db-wal stocksync.db-shm stocksync.db.demo-key
