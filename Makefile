# Two commands for a newcomer: `make demo` (run a restore against the local emulator) and `make test`.
# Everything they need is installed here, into .venv and node_modules, so a fresh clone works.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEPS := $(VENV)/.deps-installed
AZURITE := node_modules/.bin/azurite
INFRA_VENV ?= .venv-infra
INFRA_DEPS := $(INFRA_VENV)/.deps-installed
CHROMIUM := /usr/bin/chromium
POSTGRES := /usr/bin/pg_restore

.PHONY: setup test lint typecheck pytest coverage demo start bench infra-check clean

setup: $(DEPS) $(AZURITE) $(INFRA_DEPS)

$(DEPS): requirements.txt requirements-dev.txt requirements-worker.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --ignore-requires-python \
		-r requirements-worker.txt
	touch $@

$(AZURITE): package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

# checkov (tests/infra/test_checkov.py) lives in its own venv: its pinned dependencies must not mix with .venv.
$(INFRA_DEPS): tests/infra/requirements-checkov.txt
	$(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install -q --disable-pip-version-check -r tests/infra/requirements-checkov.txt
	touch $@

# Debian's Chromium renders the drills dashboard in a test; installed when we may (root), else say how.
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	else echo "the dashboard test needs Debian's chromium: sudo apt-get install chromium"; fi

# Debian's PostgreSQL: the real server every load test, the demo and the load benchmark start (devhost/postgres.py).
$(POSTGRES):
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq postgresql postgresql-contrib >/dev/null; \
	else echo "loads need Debian's PostgreSQL: sudo apt-get install postgresql postgresql-contrib"; fi

# The test command (README, .ci/run): lint, type-check, then every test, with core coverage.
test: setup $(CHROMIUM) $(POSTGRES) lint typecheck pytest

lint: $(DEPS)
	$(BIN)/ruff check .

typecheck: $(DEPS)
	$(BIN)/mypy

# The end-to-end suites run twice, as the real host runs activities: concurrently on the worker's thread pool, and
# at least once (30% of activity outcomes lost and the activity run again, seeded); then every other test, with
# coverage of the core and the loader (96% without the e2e suites). Each e2e test takes seconds of real PostgreSQL
# and loader processes: a third, plain run, or coverage tracing over them, would push CI towards its 20 minutes,
# and the re-delivery run leaves out the tests marked one_mode (input handling, the OpenAPI contract, the CLI
# surface, a minute-long history bound), which re-delivered activities do not change.
pytest: setup
	DEVHOST_CONCURRENT_ACTIVITIES=1 $(BIN)/python -m pytest -q -p no:cacheprovider --durations=12 tests/e2e
	DEVHOST_REDELIVERY=after:0.3:7 $(BIN)/python -m pytest -q -p no:cacheprovider --durations=12 -m "not one_mode" tests/e2e
	$(BIN)/python -m pytest --cov --cov-report=term --cov-fail-under=90 --ignore=tests/e2e

coverage: setup
	$(BIN)/python -m pytest --cov --cov-report=term-missing --cov-report=html
	@echo "HTML report: htmlcov/index.html"

demo: $(DEPS) $(AZURITE) $(POSTGRES)
	$(BIN)/python -m pgflex_restore demo

# The app served locally like `func start`: http://localhost:7071/api/... (PORT=... to change), until Ctrl-C.
start: $(DEPS) $(AZURITE)
	$(BIN)/python -m pgflex_restore start $(if $(PORT),--port $(PORT))

infra-check: setup
	$(BIN)/python -m pytest tests/infra -q

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) $(INFRA_VENV) node_modules .pytest_cache .mypy_cache .ruff_cache htmlcov .coverage
