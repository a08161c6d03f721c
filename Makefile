# Two commands matter: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
REDIS_TEST_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test lint install install-dev translations compile-translations db seed bench bench-national bench-surveys bench-links bench-api clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Runtime only for `make run`; tests and lint add requirements-dev.txt.
$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

# Style, format and the layer contracts (pyproject.toml). `.ci/run` runs it before the tests.
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PYTHONPATH=. $(BIN)/lint-imports

compile-translations: install
	$(BIN)/pybabel compile --use-fuzzy -d translations -f >/dev/null

translations: install
	$(FLASK) i18n extract
	$(FLASK) i18n update
	$(FLASK) i18n compile

db: install
	$(FLASK) db upgrade

seed: db
	$(FLASK) seed-demo

run: compile-translations seed
	$(BIN)/honcho start -f Procfile.dev

# Prism (Twilio API contract mock, pinned in tests/contract/package-lock.json) for
# tests/messaging/test_contract_prism.py (Messages API) and tests/whatsapp/
# test_contract_prism.py (Content API): each starts its own Prism on a free port
# (tests/prism.py); they skip, loudly, when npm is missing.
.PHONY: prism
prism:
	@if [ ! -x tests/contract/node_modules/.bin/prism ]; then \
		if command -v npm >/dev/null 2>&1; then \
			cd tests/contract && npm ci --no-audit --no-fund; \
		else echo "== npm not found: Prism contract tests will be skipped =="; fi; \
	fi

# Browser journeys (tests/e2e): Debian's Chromium (Playwright's own browser download does
# not work here) and axe-core (pinned in tests/e2e/package-lock.json). Never fails the build:
# without them the e2e tests are skipped, loudly, with the reason.
.PHONY: e2e-deps
e2e-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "== installing Chromium (Debian package) for the browser tests =="; \
			{ apt-get update -qq >/dev/null 2>&1 && \
			  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; } \
			|| echo "== Chromium could not be installed: browser tests will be skipped =="; \
		else echo "== /usr/bin/chromium missing (install it as root): browser tests will be skipped =="; fi; \
	fi
	@if [ ! -f tests/e2e/node_modules/axe-core/axe.min.js ]; then \
		if command -v npm >/dev/null 2>&1; then \
			(cd tests/e2e && npm ci --no-audit --no-fund --silent) \
			|| echo "== npm ci failed in tests/e2e: browser tests will be skipped =="; \
		else echo "== npm not found (axe-core): browser tests will be skipped =="; fi; \
	fi

# SQLite always; PostgreSQL (and Redis) too whenever they answer on this machine. The two
# passes run side by side (tests/run_passes.py), each printed whole when it ends.
test: install-dev prism e2e-deps
	$(BIN)/python tests/run_passes.py "$(PG_TEST_URL)" "$(REDIS_TEST_URL)" $(PYTEST_ARGS)

# The suite with the process clock shifted by libfaketime (+0d, +731d, +400 days 9 hours):
# lists every test that fails shifted but passes unshifted. Not part of `make test`.
.PHONY: test-any-date
test-any-date: install-dev
	@command -v faketime >/dev/null 2>&1 || { apt-get install -y -qq faketime >/dev/null 2>&1 \
		|| { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq faketime >/dev/null 2>&1; }; } \
		|| { echo "== faketime could not be installed (apt-get install faketime, as root) =="; exit 2; }
	$(BIN)/python tests/any_date.py $(ANY_DATE_ARGS)

# Benchmarks (bench/): one table on SQLite and PostgreSQL, ~20 minutes on 2 cores. The web load
# uses wrk from Debian when it can be installed, else bench/web_load.py's own generator.
# Logs: bench/output/. Figures and the machine they came from: bench/RESULTS.md.
BENCH_ARGS ?=
bench: install-dev compile-translations
	@command -v wrk >/dev/null 2>&1 || apt-get install -y wrk >/dev/null 2>&1 \
		|| { apt-get update >/dev/null 2>&1 && apt-get install -y wrk >/dev/null 2>&1; } \
		|| echo "== wrk not installable: the web load uses the Python load generator =="
	$(BIN)/python bench/run_all.py --markdown bench/output/results.md $(BENCH_ARGS)

# Issue 15's national scale (PostgreSQL at $BENCH_DATABASE_URL): 1M contacts, 10M outbox rows,
# 50M events, generated server-side, then page latencies and report totals. Hours on a small
# machine: run it on a bigger one, or scale it down, e.g. BENCH_ARGS="--scale 0.02".
bench-national: install-dev compile-translations
	$(BIN)/python bench/national.py $(BENCH_ARGS)

# Issue 17's SMS surveys (PostgreSQL at $BENCH_DATABASE_URL, a throw-away database): 10,000
# answers through the signed Twilio webhook under gunicorn (median/p95 next to a plain reply),
# then the results page at 100,000 answers next to a raw GROUP BY. About 10 minutes.
bench-surveys: install-dev compile-translations
	$(BIN)/python bench/surveys.py $(BENCH_ARGS)

# The short-link redirect GET /l/<code> under gunicorn at 200 requests/s (open loop) on
# 100,000 links: client and server p95 next to a minimal Flask route doing a raw SQL lookup
# (and one doing the lookup and a raw UPDATE). About 3 minutes.
bench-links: install-dev compile-translations
	$(BIN)/python bench/links.py $(BENCH_ARGS)

# Issue 20's API (PostgreSQL at $BENCH_DATABASE_URL, two throw-away databases): bulk upsert of
# 100,000 contacts through /api/v1/contacts/bulk next to the CSV import of the same rows, then
# the list endpoints' median/p95 at that size next to the raw SQL of the same page.
bench-api: install-dev
	$(BIN)/python bench/api.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
