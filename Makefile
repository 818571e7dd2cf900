# freepbx-callback: `make test` and `make demo` do all set-up on a fresh Debian 12/13 machine (as root).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
APT_PACKAGES := mariadb-server mariadb-client libmariadb-dev pkg-config gcc debootstrap python3-venv \
                python3-dev php-cli php-mysql php-mbstring php-xml phpunit chromium chromium-driver gettext \
                libjs-bootstrap4 galera-4 rsync
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml setup.py requirements.txt requirements-dev.txt | md5sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: test demo bench lint deps apt venv asterisk-root package install clean

deps: apt venv

apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  if [ "$$(id -u)" != 0 ]; then echo "error: run as root to install:" $$missing >&2; exit 2; fi; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

venv: $(STAMP)

$(STAMP): pyproject.toml setup.py requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip >/dev/null
	@$(PY) -m pip install -q -e '.[test]'
	@rm -f $(VENV)/.installed-*; touch $@

asterisk-root: deps
	$(PY) -m tests.testbed.asterisk_root build

# The whole suite in two phases, independent beds side by side (see tests/testbed/suites.py);
# `$(PY) -m pytest ...` runs any part of it alone.
test: deps
	$(PY) -m tests.testbed.suites $(PYTEST_ARGS)

demo: deps
	$(PY) -m tests.testbed.demo

bench: deps
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check freepbx_callback tests bench

package: deps
	$(PY) packaging/package.py

# On a FreePBX host, as root, after `make package`.
install:
	sh packaging/install.sh dist

clean:
	rm -rf $(VENV) build dist *.egg-info test-artifacts
