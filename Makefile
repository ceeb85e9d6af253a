# Two commands: `make demo` runs the demo, `make test` runs the whole test suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: demo test install lint bench clean translations messages browser pgtools pdffont wrk

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[pg,test]'
	touch $(STAMP)

NPM_STAMP := node_modules/.installed

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NPM_STAMP)

install: $(STAMP) $(NPM_STAMP) translations

## Debian's chromium (and CJK fonts for readable screenshots) for the browser tests.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; }

## A TrueType CJK font that the annual report's PDF embeds (reportlab embeds TrueType outlines only;
## Noto CJK is CFF): Debian's fonts-wqy-microhei, unless GOVSHARE_PDF_FONT names one or a WenQuanYi
## font is there already (docs/oversight.md). If it cannot be installed the app still runs (the PDF
## then uses a font the reader supplies); under CI tests/test_report_pdf.py fails without it.
WQY := /usr/share/fonts/truetype/wqy
pdffont:
	@[ -n "$$GOVSHARE_PDF_FONT" ] || [ -f $(WQY)/wqy-microhei.ttc ] || [ -f $(WQY)/wqy-zenhei.ttc ] || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq fonts-wqy-microhei >/dev/null \
		|| echo "warning: fonts-wqy-microhei could not be installed: the PDF report will not embed its font (docs/oversight.md)"; }

## PostgreSQL's client tools (pg_dump, pg_restore) for `govshare backup` / `restore` on PostgreSQL.
pgtools:
	@command -v pg_dump >/dev/null 2>&1 && command -v pg_restore >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql-client >/dev/null; }

## Debian's wrk, the HTTP load generator of bench/http_load.py (C, a few percent of a core).
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk >/dev/null; }

## Compile the message catalogs (web/translations/*/LC_MESSAGES/messages.mo).
translations: $(STAMP)
	$(BIN)/pybabel -q compile -d web/translations

## Re-extract messages after changing user-visible strings, then translate the new entries.
messages: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg -k Message -k N_ -k _ -k gettext -k lazy_gettext -k _p:2 --no-location --sort-output -w 100 -o web/translations/messages.pot .
	$(BIN)/pybabel -q update -w 100 -i web/translations/messages.pot -d web/translations --no-fuzzy-matching

## Install everything, migrate, seed the demo data (idempotent) and serve on http://127.0.0.1:5000
## with the timer worker running. Data lives in instance/govshare.db. Demo mode (GOVSHARE_DEMO=1):
## demo accounts, a built-in secret key, cookies over plain HTTP (docs/security.md).
demo: export GOVSHARE_DEMO := 1
demo: install pdffont
	$(BIN)/govshare db upgrade
	$(BIN)/govshare seed
	$(BIN)/python -m web

## ruff (incl. complexity), formatting, mypy over engine/, the architecture rules, the processes.
lint: install
	$(BIN)/ruff check engine web notifications migrations tests bench
	$(BIN)/ruff format --check engine web notifications migrations tests bench
	$(BIN)/mypy
	$(BIN)/govshare processes lint
	$(BIN)/pytest -q -p no:cacheprovider tests/test_architecture.py

## Install the test dependencies and run the whole suite on SQLite, then on PostgreSQL
## ($(PG_URL)) when it is reachable; under CI=true PostgreSQL is required.
test: lint browser pgtools pdffont
	$(BIN)/pytest -q
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(PG_URL)', connect_timeout=3).close()" 2>/dev/null; then \
		echo "== PostgreSQL run ($(PG_URL)) =="; \
		DATABASE_URL=$(PG_URL) $(BIN)/pytest -q; \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL at $(PG_URL) is not reachable: CI requires it"; exit 1; \
	else \
		echo "PostgreSQL at $(PG_URL) is not reachable: skipped the PostgreSQL run"; \
	fi

## Ratios measured side by side in one run (docs/performance.md); DATABASE_URL=postgresql://… runs
## them on PostgreSQL (each on a database of its own, dropped at the end).
bench: install wrk
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/http_load.py
	$(BIN)/python bench/pages.py
	$(BIN)/python bench/catalog.py
	$(BIN)/python bench/deadline_moves.py

clean:
	rm -rf $(VENV) node_modules instance .pytest_cache tests/screenshots
