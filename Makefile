# Bihuan — the two quick-start commands are `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
PGHOST ?= 127.0.0.1
PGPORT ?= 5432
PGUSER ?= postgres
# Database used by the PostgreSQL half of the tests (pytest-django creates test_<name>).
PGTESTDB ?= bihuan
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install demo test test-sqlite test-postgres lint serve worker seed messages clean

$(BIN)/python:
	@command -v $(PY) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PY) not found)"; exit 1; }
	$(PY) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/bihuan migrate --noinput -v0
	$(BIN)/bihuan collectstatic --noinput -v0
	$(BIN)/bihuan seed --scale demo --if-empty --no-report
	$(BIN)/bihuan demo --port $(PORT)

serve: $(VENV)/.installed
	$(BIN)/bihuan serve --port $(PORT)

test: $(VENV)/.installed test-sqlite test-postgres

test-sqlite: $(VENV)/.installed
	@echo "== tests on SQLite =="
	env -u DATABASE_URL BIHUAN_VAR_DIR=$(CURDIR)/var/test $(BIN)/python -m pytest $(PYTEST_ARGS)

test-postgres: $(VENV)/.installed
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('host=$(PGHOST) port=$(PGPORT) user=$(PGUSER) dbname=postgres', connect_timeout=3).close()" 2>/dev/null; then \
	  echo "== tests on PostgreSQL ($(PGHOST):$(PGPORT)) =="; \
	  DATABASE_URL=postgres://$(PGUSER)@$(PGHOST):$(PGPORT)/$(PGTESTDB) BIHUAN_VAR_DIR=$(CURDIR)/var/test \
	    $(BIN)/python -m pytest $(PYTEST_ARGS); \
	elif [ "$$BIHUAN_REQUIRE_POSTGRES" = "1" ]; then \
	  echo "PostgreSQL at $(PGHOST):$(PGPORT) is not reachable, and BIHUAN_REQUIRE_POSTGRES=1"; exit 1; \
	else \
	  echo "== PostgreSQL not reachable at $(PGHOST):$(PGPORT): skipping the PostgreSQL run =="; \
	fi

lint: $(VENV)/.installed
	$(BIN)/ruff check .

messages: $(VENV)/.installed
	cd bihuan && ../$(BIN)/bihuan makemessages -l zh_Hans -l en --no-obsolete && ../$(BIN)/bihuan compilemessages

clean:
	rm -rf $(VENV) var
