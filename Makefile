# Publikum: `make demo` starts the whole system, `make test` runs the tests.
# Both create .venv and install the locked dependencies when needed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test lint format venv serve messages bench clean

$(STAMP): requirements.lock pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/publikum migrate --no-input -v 0
	$(BIN)/publikum demo
	$(BIN)/publikum serve --host $(HOST) --port $(PORT) --smtp-sink

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench conftest.py
	$(BIN)/ruff format --check src tests bench conftest.py
	$(BIN)/mypy
	$(BIN)/publikum makemigrations --check --dry-run -v 1

format: $(STAMP)
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

# Regenerate translations; the compiled .mo files are committed so that a fresh machine
# needs no gettext tools.
messages: $(STAMP)
	cd src/publikum && ../../$(BIN)/django-admin makemessages -l de --no-obsolete \
		--ignore "*/tests/*" --ignore "*/migrations/*" --settings=publikum.settings
	cd src/publikum && ../../$(BIN)/django-admin compilemessages --settings=publikum.settings

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
