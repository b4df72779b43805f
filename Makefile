# `make run` and `make test` bootstrap everything they need on a fresh Debian/Ubuntu machine:
# the Debian packages (postgresql, haproxy, chromium) when missing, a .venv, and the Python dependencies.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
RX := $(VENV)/bin/rxsuite
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEBIAN_PACKAGES := postgresql haproxy chromium python3-venv

.PHONY: run test deps venv lint bench sandbox-up sandbox-down clean

# The main job: sandbox up, smoke journeys, a short load run with journeys during it, one drill, SLO evaluation,
# the report; the sandbox is taken down at the end whatever happens. Exit code from the SLO verdict.
run: deps venv
	$(RX) run

test: deps venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

lint: venv
	$(VENV)/bin/ruff check .

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
	$(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ needed"; exit 1; }
	[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

clean:
	-[ -x $(RX) ] && $(RX) sandbox down
	rm -rf $(VENV) .rxsuite .pytest_cache .ruff_cache
