# `make run` and `make test` bootstrap everything they need on a fresh Debian/Ubuntu machine:
# the Debian packages (postgresql, haproxy, chromium, nodejs/npm) when missing, a .venv, and the Python dependencies;
# `make test` also the npm packages of tests/js (supabase-js, driven against the sandbox by the client tests).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
RX := $(VENV)/bin/rxsuite
LOCK := requirements.lock
JS := tests/js
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEBIAN_PACKAGES := postgresql haproxy chromium python3-venv

.PHONY: run test deps venv js lock typecheck lint bench sandbox-up sandbox-down clean

# The main job: sandbox up, smoke journeys, a short load run with journeys during it, one drill, SLO evaluation,
# the report; the sandbox is taken down at the end whatever happens. Exit code from the SLO verdict.
run: deps venv
	$(RX) run

test: deps venv js
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

bench: deps venv
	@for b in bench/*.py; do echo "== $$b"; $(VENV)/bin/python $$b || exit 1; done

sandbox-up: deps venv
	$(RX) sandbox up

sandbox-down: venv
	$(RX) sandbox down

deps:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing="$$missing haproxy"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	command -v prometheus-alertmanager >/dev/null 2>&1 || missing="$$missing prometheus-alertmanager"; \
	command -v prometheus-postgres-exporter >/dev/null 2>&1 || missing="$$missing prometheus-postgres-exporter"; \
	$(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

venv: $(VENV)/.installed

# Exactly the versions in the lock file (every extra), then the project itself without resolving again.
$(VENV)/.installed: pyproject.toml $(LOCK)
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ needed"; exit 1; }
	[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r $(LOCK)
	$(VENV)/bin/pip install -q --no-deps -e .
	touch $@

js: $(JS)/node_modules/.installed

# Exactly the versions in tests/js/package-lock.json (reinstalled when either npm file changes).
$(JS)/node_modules/.installed: $(JS)/package.json $(JS)/package-lock.json
	npm ci --prefix $(JS) --no-audit --no-fund --loglevel=error
	touch $@

# Re-pin every dependency of every extra after a change to pyproject.toml; commit the lock file with it.
lock: venv
	$(VENV)/bin/uv pip compile pyproject.toml --all-extras --python-version 3.11 \
		--python-platform x86_64-unknown-linux-gnu --annotation-style line --custom-compile-command 'make lock' -o $(LOCK)

# The whole tree, strict for rxcore/ and slo/ (pyproject.toml [tool.mypy]); `make test` runs it too.
typecheck: venv
	$(VENV)/bin/mypy

# What the bootstrap and the tools built; never data: the sandbox's state (.rxsuite/sandbox) stays until
# `rxsuite sandbox reset`, and run folders (runs/) until you delete them.
clean:
	-[ -x $(RX) ] && $(RX) sandbox down
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache $(JS)/node_modules
