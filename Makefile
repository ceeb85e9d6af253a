# Two commands: `make demo` runs the demo, `make test` runs the whole test suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: demo test install lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[pg,test]'
	touch $(STAMP)

install: $(STAMP)

## Install everything, migrate, seed the demo data (idempotent) and serve on http://127.0.0.1:5000
## with the timer worker running. Data lives in instance/govshare.db.
demo: $(STAMP)
	$(BIN)/govshare db upgrade
	$(BIN)/govshare seed
	$(BIN)/python -m web

lint: $(STAMP)
	$(BIN)/ruff check engine web notifications migrations tests bench
	$(BIN)/govshare processes lint

## Install the test dependencies and run the whole suite on SQLite, then on PostgreSQL
## ($(PG_URL)) when it is reachable; under CI=true PostgreSQL is required.
test: lint
	$(BIN)/pytest -q
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(PG_URL)', connect_timeout=3).close()" 2>/dev/null; then \
		echo "== PostgreSQL run ($(PG_URL)) =="; \
		DATABASE_URL=$(PG_URL) $(BIN)/pytest -q; \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL at $(PG_URL) is not reachable: CI requires it"; exit 1; \
	else \
		echo "PostgreSQL at $(PG_URL) is not reachable: skipped the PostgreSQL run"; \
	fi

bench: $(STAMP)
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) instance .pytest_cache
