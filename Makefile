# Two commands on a fresh machine: `make run` and `make test` (see README.md).
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SWEEP ?= sweeps/sfbd_clean_fraction.yaml

.PHONY: run test lint bench bench-gpu browser clean-venv reproduce reproduction-exports \
        readme-pictures

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

# The GPU benchmark (BENCHMARKS.md §5): no venv needed, the GPU machines cannot install one.
# `make bench-gpu ARGS=--prepare` fills .gpu-carry (here), `ARGS=--dry-run` checks it on a CPU.
bench-gpu:
	PYTHON=$$(test -x $(BIN)/python && echo $(BIN)/python || echo $(PYTHON)) bash bench/gpu.sh $(ARGS)

# REPRODUCTION.md: the reproduction sweeps (3 seeds each, about 3 h on 2 CPU cores in all),
# then its figures and tables into docs/reproduction/. A rerun resumes and skips what is
# done. `make reproduction-exports WORKDIR=...` redraws from an existing work dir; a line whose
# sweeps that work dir does not hold is skipped with a message (its file is left as it is).
REPRO := repro_dataset_size repro_tn_cutoff repro_ambient repro_sfbd repro_sfbd_baselines repro_sfbd_n50 \
         repro_tn_n100 repro_sfbd_variants repro_tn_redraw repro_dataset_size_long \
         repro_tn_n200_long repro_ambient_control repro_ambient_redraw repro_sfbd_transfer \
         repro_ambient_precond repro_tn_controls
WORKDIR ?= ambientsweep-runs
DOCS := docs/reproduction
AS := $(BIN)/ambientsweep
ASW = -w $(WORKDIR)
SFBD_METRICS := -m fd_digits_cnn -m fd_pixels -m mem_ratio_pixels -m mem_ratio_pixels_clean -m conf90 \
                -m psnr_denoised
SFBD_HISTORY := --history fd_digits_cnn --history psnr_denoised
# `$(call HAVE,sweep ...)` before an export command: skip the command (exit 0 of its own shell
# line) when the work dir lacks one of the sweeps it reads.
HAVE = for s in $(1); do test -d $(WORKDIR)/sweeps/$$s || { echo "skipped: $$s not in $(WORKDIR)"; \
       exit 0; }; done;
AMBIENT := repro_ambient_control repro_ambient repro_ambient_precond
REDRAW := repro_ambient_control repro_ambient_redraw
N50 := repro_tn_controls repro_ambient_control repro_ambient repro_ambient_redraw repro_sfbd_n50

reproduce: $(STAMP)
	for s in $(REPRO); do $(AS) run sweeps/$$s.yaml $(ASW) || exit 1; done
	$(MAKE) reproduction-exports

reproduction-exports: $(STAMP)
	mkdir -p $(DOCS)
	$(call HAVE,repro_dataset_size repro_dataset_size_long) \
	  $(AS) report repro_dataset_size repro_dataset_size_long $(ASW) --out $(DOCS)/dataset_size.md
	$(call HAVE,repro_dataset_size repro_dataset_size_long) \
	  $(AS) pareto repro_dataset_size repro_dataset_size_long $(ASW) -f png,csv \
	  --color-by data.train_size --out $(DOCS)/dataset_size
	$(call HAVE,repro_tn_cutoff) $(AS) report repro_tn_cutoff $(ASW) --out $(DOCS)/tn_cutoff.md
	$(call HAVE,repro_tn_cutoff) $(AS) pareto repro_tn_cutoff $(ASW) -f png,csv \
	  --color-by method.sigma_tn --out $(DOCS)/tn_cutoff
	$(call HAVE,repro_tn_n100) $(AS) report repro_tn_n100 $(ASW) --out $(DOCS)/tn_n100.md
	$(call HAVE,repro_tn_n200_long) $(AS) report repro_tn_n200_long $(ASW) \
	  --out $(DOCS)/tn_n200_long.md
	$(call HAVE,repro_dataset_size repro_tn_cutoff) \
	  $(AS) commitment repro_dataset_size repro_tn_cutoff $(ASW) --out $(DOCS)/commitment.md
	$(call HAVE,repro_tn_n200_long) \
	  $(AS) commitment repro_tn_n200_long $(ASW) --out $(DOCS)/commitment_n200.md
	$(call HAVE,repro_tn_cutoff repro_tn_redraw) \
	  $(AS) report repro_tn_cutoff repro_tn_redraw $(ASW) --out $(DOCS)/tn_redraw.md
	$(call HAVE,repro_tn_controls) $(AS) report repro_tn_controls $(ASW) \
	  --out $(DOCS)/tn_controls.md
	$(call HAVE,$(AMBIENT)) $(AS) report $(AMBIENT) $(ASW) --out $(DOCS)/ambient.md
	$(call HAVE,$(REDRAW)) $(AS) report $(REDRAW) $(ASW) --out $(DOCS)/ambient_redraw.md
	$(call HAVE,$(AMBIENT)) $(AS) pareto $(AMBIENT) $(ASW) -f png,csv --color-by method.p \
	  --out $(DOCS)/ambient
	$(call HAVE,repro_sfbd repro_sfbd_baselines) \
	  $(AS) report repro_sfbd repro_sfbd_baselines $(ASW) $(SFBD_METRICS) --out $(DOCS)/sfbd.md
	$(call HAVE,repro_sfbd) $(AS) report repro_sfbd $(ASW) $(SFBD_METRICS) $(SFBD_HISTORY) \
	  --out $(DOCS)/sfbd_rounds.md
	$(call HAVE,repro_sfbd repro_sfbd_baselines) \
	  $(AS) pareto repro_sfbd repro_sfbd_baselines $(ASW) -f png,csv --out $(DOCS)/sfbd
	$(call HAVE,repro_sfbd repro_sfbd_variants) \
	  $(AS) report repro_sfbd repro_sfbd_variants $(ASW) $(SFBD_METRICS) $(SFBD_HISTORY) \
	  --out $(DOCS)/sfbd_variants.md
	$(call HAVE,repro_sfbd_transfer) \
	  $(AS) report repro_sfbd_transfer $(ASW) $(SFBD_METRICS) $(SFBD_HISTORY) \
	  --out $(DOCS)/sfbd_transfer.md
	$(call HAVE,$(N50)) $(AS) report $(N50) $(ASW) --out $(DOCS)/compare_methods.md
	$(call HAVE,$(N50)) $(AS) pareto $(N50) $(ASW) -f png,csv --out $(DOCS)/compare_methods

# README's pictures: the MLflow UI and dashboard screenshots the browser tests take (headless
# Chromium; tests/e2e/test_ui_browser.py runs a tiny sweep and opens the URL `ambientsweep ui`
# prints), and, after `make run`, the default sweep's Pareto figure.
readme-pictures: $(STAMP) browser
	mkdir -p docs/pictures
	CI=true $(BIN)/python -m pytest -q tests/e2e/test_ui_browser.py tests/analysis/test_dashboard.py
	cp artifacts/mlflow_ui.png artifacts/dashboard.png docs/pictures/
	test ! -f $(WORKDIR)/sweeps/sfbd_clean_fraction/exports/pareto.png || \
	  cp $(WORKDIR)/sweeps/sfbd_clean_fraction/exports/pareto.png docs/pictures/pareto.png

clean-venv:
	rm -rf $(VENV)
