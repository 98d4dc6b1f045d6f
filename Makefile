# Two commands on a fresh machine: `make run` and `make test` (see README.md).
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SWEEP ?= sweeps/sfbd_clean_fraction.yaml

.PHONY: run test lint bench browser clean-venv

# This machine kind's pip config names local indexes that warn on every package: hidden.
PIPQUIET := { grep -v 'is ignored: it is neither a file nor a directory' || true; }

# torch/torchvision are pinned here, not in pyproject.toml: on this machine kind pip takes
# exactly these from local disk (pyproject only asks for a lower bound). Re-installs only when
# pyproject.toml changes.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1 2>&1 | $(PIPQUIET)
	$(BIN)/pip install -q -e '.[dev]' 2>&1 | $(PIPQUIET)
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/ambientsweep run $(SWEEP)

test: $(STAMP) browser
	$(BIN)/ruff check ambientsweep tests bench
	$(BIN)/python -m pytest -q

# Headless Chromium + ChromeDriver from Debian for the dashboard test (skipped when missing,
# except under CI=true where a missing browser fails the test).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; \
	  else echo "chromium/chromedriver missing and no root: the dashboard test will skip"; exit 0; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    chromium chromium-driver >/dev/null || echo "could not install chromium"; }

lint: $(STAMP)
	$(BIN)/ruff check ambientsweep tests bench

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean-venv:
	rm -rf $(VENV)
