# etcdops: `make demo` and `make test` work on a fresh Debian machine, as root.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ETCDOPS := $(VENV)/bin/etcdops
APT_PACKAGES := openssh-server openssh-client iproute2 ca-certificates sudo curl postgresql-15
# the HTML report's browser test (tests/browser/): headless screenshots; +414 MB, ~16 s to install here
APT_PACKAGES += chromium
ETCD_DIR := .tools/etcd
ETCD34_DIR := .tools/etcd-3.4
ETCD3530_DIR := .tools/etcd-3.5.30

.PHONY: setup apt bytecode etcd-3.5.30 demo test unit integration bench lint lab-down clean

setup: apt $(VENV)/.installed $(ETCD_DIR)/etcdutl $(ETCD34_DIR)/etcd $(ETCD3530_DIR)/etcd bytecode

apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "apt: installing$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi; \
	$(PYTHON) -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
		echo "apt: installing python3-venv"; apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null; }

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

# etcdops is installed editable: pip compiles no bytecode for it, and where PYTHONDONTWRITEBYTECODE
# is set (CI images often do) every command would compile etcdops' sources again (~0.1 s measured).
# A release install compiles at install time; this does the same (only files changed since).
bytecode: $(VENV)/.installed
	$(PY) -m compileall -q etcdops

$(ETCD_DIR)/etcdutl:
	bash scripts/fetch-etcd.sh $(ETCD_DIR)

# etcd 3.4 (Debian bookworm) for the side-by-side tests of the 3.4 code paths
$(ETCD34_DIR)/etcd:
	bash scripts/fetch-etcd.sh $(ETCD34_DIR) bookworm

# etcd 3.5.30 (Debian sid, else forky) beside 3.5.16, for a real patch upgrade 3.5.16 -> 3.5.30 on
# the lab (its tests need it: part of setup). ~10 s (8 s of CPU reading the suite's package list)
# and 65 MB, once. sid and forky move on: when neither ships 3.5.30 any more, this fails naming
# what they ship, and the version here (and in the tests) moves with them.
etcd-3.5.30: $(ETCD3530_DIR)/etcd

$(ETCD3530_DIR)/etcd:
	bash scripts/fetch-etcd.sh $(ETCD3530_DIR) sid 3.5.30 || bash scripts/fetch-etcd.sh $(ETCD3530_DIR) forky 3.5.30

demo: setup
	bash scripts/demo.sh

test: setup
	$(PY) -m pytest -q

unit: setup
	$(PY) -m pytest -q tests/unit tests/cli

integration: setup
	$(PY) -m pytest -q tests/integration

bench: setup
	$(PY) bench/run.py

lint: setup
	$(VENV)/bin/ruff check etcdops tests bench
	$(VENV)/bin/mypy etcdops

lab-down:
	$(ETCDOPS) lab down

clean: lab-down
	rm -rf $(VENV) .tools .etcdops
