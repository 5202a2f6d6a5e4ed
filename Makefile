# Two commands: `make run` (the whole app, locally) and `make test` (the whole suite).
# Both set up what they need first and are safe to run again.
# For a server: `make serve`, `make reload` and `make check-deploy` (see docs/deploy.md).
# `make faults`: the production stack on loopback, hurt on purpose; a table of what was lost.
# `make bench`: each path's cost beside its floor (bench/RESULTS.md); `make bench-quick` is CI's.
# `make docs`: the documentation site (docs/, mkdocs.yml) on http://127.0.0.1:$(DOCS_PORT)/.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUNTIME_STAMP := $(VENV)/.installed-runtime

.PHONY: run test lint docs faults bench bench-quick install install-runtime serve reload check-deploy clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# A server needs only the runtime set (no test tools).
$(RUNTIME_STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(RUNTIME_STAMP)

install-runtime: $(RUNTIME_STAMP)

# Fresh local secrets, written once; .env is never committed.
.env: | $(STAMP)
	$(PY) scripts/write_local_env.py .env

# With REDIS_URL set, that Redis is used; without it, a local one is started (see Procfile).
# scripts/run_local.py starts them in order (Redis, the demo data, the rest) and stops them on Ctrl-C.
PROCESSES := web simulator worker-urgent worker-background beat $(if $(REDIS_URL),,redis)

# Ctrl-C: run_local.py stops every process and ends with status 0, and make prints nothing; make itself,
# which the Ctrl-C reaches too, then ends as an interrupted program should, killed by the signal (130
# in a shell), so a script or loop that runs `make run` stops there rather than going on.
run: install .env
	$(PY) manage.py migrate --no-input
	$(PY) scripts/run_local.py $(PROCESSES)

# Production, configured by the environment (or the file RENTDESK_ENV_FILE names). The same
# commands as deploy/systemd/rentdesk-web.service: migrate before the new code serves, then gunicorn.
serve reload check-deploy: export DJANGO_SETTINGS_MODULE ?= config.settings.production

serve: $(RUNTIME_STAMP)
	$(PY) manage.py migrate --no-input
	$(PY) manage.py collectstatic --no-input
	exec $(VENV)/bin/gunicorn --config config/gunicorn.py

# On a running server, the release on disk in service with no moment of not answering (docs/deploy.md,
# "Upgrading"): new runtime requirements, migrations (the old code serves meanwhile: a release's
# migrations must work under the previous release's code), static files, then gunicorn replaces its
# workers (WEB_PIDFILE). The same commands as rentdesk-web.service's ExecReload, after the install.
reload: $(RUNTIME_STAMP)
	$(PY) manage.py migrate --no-input
	$(PY) manage.py collectstatic --no-input
	$(PY) scripts/reload_web.py

check-deploy: $(RUNTIME_STAMP)
	$(PY) manage.py check --deploy --fail-level WARNING

test: install
	$(PY) scripts/run_tests.py

# Each path's cost beside its floor, on SQLite and (BENCH_DATABASE_URL) PostgreSQL; see bench/RESULTS.md.
# BENCH_ARGS: e.g. "--only polling" or "--skip contention".
bench: install
	$(PY) bench/run.py $(BENCH_ARGS)

# CI's variant: smaller sizes, the same targets.
bench-quick: install
	$(PY) bench/run.py --quick $(BENCH_ARGS)

# The fault suite (faults/): FAULTS_ARGS=--short is CI's version, FAULTS_DATABASE_URL a PostgreSQL
# server to run on (else a throwaway one from the machine's binaries, else SQLite).
faults: install
	$(PY) -m faults $(FAULTS_ARGS)

# The documentation site, rebuilt as a page changes; `make test` builds it strictly (scripts/run_tests.py).
DOCS_PORT ?= 8002
docs: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve --dev-addr 127.0.0.1:$(DOCS_PORT)

# The layers are held by import-linter's contracts in pyproject.toml (docs/architecture.md, "The layers").
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
