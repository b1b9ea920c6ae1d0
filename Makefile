# alsmeds: reproducibility bundle. `make help` lists the targets.
#
# Everything runs in one virtual environment, built from the lock file requirements.txt
# (the same pins environment.yml hands to pip on Binder). Override VENV to build it
# elsewhere (make venv VENV=../scratch/.venv) and PYTHON to choose the interpreter that
# creates it (default: python3.11, or python3 if that is 3.11).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
PYTHON ?=
PY := $(VENV)/bin/python
STAMP := $(VENV)/.stamp
PIP := $(PY) -m pip --disable-pip-version-check --no-input

.PHONY: help venv reproduce refresh test site lab data clean bench FORCE

# Where `make reproduce` writes its fresh outputs (compared with the committed results/).
REPRODUCE_DIR := build/reproduce

help:
	@echo "make reproduce  verify the synthetic data regenerate, run every notebook into build/reproduce/,"
	@echo "                and compare the fresh results with the committed results/; then build their site"
	@echo "                into $(REPRODUCE_DIR)/site/"
	@echo "make refresh    (maintainers) rerun the notebooks in place: rewrites notebooks/, results/, figures/"
	@echo "make test       ruff + pytest over every core (unit tests and nbval --nbval-lax over notebooks/)"
	@echo "make site       static HTML site of the committed notebooks in build/site/ (open build/site/index.html)"
	@echo "make lab        JupyterLab on notebooks/ in the project environment"
	@echo "make data       regenerate data/synthetic"
	@echo "make bench      run every benchmarks/*.py"
	@echo "make clean      remove build/"
	@echo "make venv       create or update $(VENV) from requirements.txt (run by the targets above)"

# ---------------------------------------------------------------------------- environment
# The stamp is rebuilt when requirements.txt or pyproject.toml is newer than it, or when
# the venv's interpreter is missing (FORCE).
ifneq ($(shell test -x "$(PY)" && echo ok),ok)
$(STAMP): FORCE
endif

$(STAMP): requirements.txt pyproject.toml
	@if [ ! -x "$(PY)" ]; then \
	  py="$(PYTHON)"; \
	  if [ -z "$$py" ]; then \
	    for cand in python3.11 python3; do \
	      if "$$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' >/dev/null 2>&1; then py=$$cand; break; fi; \
	    done; \
	  fi; \
	  if [ -z "$$py" ]; then \
	    echo "make venv: Python 3.11 is required: neither python3.11 nor python3 is 3.11 (set PYTHON=...)" >&2; \
	    exit 1; \
	  fi; \
	  echo "make venv: creating $(VENV) with $$("$$py" --version 2>&1) ($$(command -v "$$py"))"; \
	  "$$py" -m venv "$(VENV)" || { \
	    echo "make venv: '$$py -m venv' failed; on Debian/Ubuntu install python3-venv (or python3.11-venv)" >&2; \
	    exit 1; }; \
	fi
	@echo "make venv: installing requirements.txt and the alsmeds package into $(VENV)"
	@$(PIP) install --quiet -r requirements.txt
	@$(PIP) install --quiet --no-deps -e .
	@touch "$@"

venv: $(STAMP)
	@:

FORCE:

# ---------------------------------------------------------------------------- workflows
reproduce: venv
	$(PY) -m alsmeds simulate --check
	$(PY) -m alsmeds run --output-dir $(REPRODUCE_DIR)/notebooks \
	  --results-dir $(REPRODUCE_DIR)/results --figures-dir $(REPRODUCE_DIR)/figures
	$(PY) -m alsmeds compare $(REPRODUCE_DIR)/results results
	@# The site of this run: the notebooks, figures and results just produced in $(REPRODUCE_DIR)
	@# (not the committed ones, which `make site` shows), so what you browse is what was reproduced.
	$(PY) -m alsmeds site --out $(REPRODUCE_DIR)/site --notebooks-dir $(REPRODUCE_DIR)/notebooks \
	  --figures-dir $(REPRODUCE_DIR)/figures --results-dir $(REPRODUCE_DIR)/results

refresh: venv
	$(PY) -m alsmeds run --inplace
	$(PY) -m alsmeds.pipeline.readme

# pytest-xdist spreads the test files over the machine's cores (TEST_WORKERS=1 for one process);
# --dist loadfile keeps each file, and so each notebook's cells, on one worker in order.
TEST_WORKERS ?= auto
test: venv
	$(VENV)/bin/ruff check $(wildcard src tests benchmarks)
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile

# Static site of the committed, executed notebooks (nothing is re-run): build/site/, with its
# generated sources in build/site-src/. Needs Debian's libjs-mathjax (or ALSMEDS_MATHJAX_DIR).
site: venv
	$(PY) -m alsmeds site --out build/site

# JupyterLab with the project's settings (jupyter/overrides.json: no news or update pop-up),
# copied into the venv's settings folder; --allow-root when run as root (containers).
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings
lab: venv
	@mkdir -p $(LAB_SETTINGS) && cp jupyter/overrides.json $(LAB_SETTINGS)/overrides.json
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

data: venv
	$(PY) -m alsmeds simulate

bench: venv
	@shopt -s nullglob; files=(benchmarks/*.py); \
	if [ $${#files[@]} -eq 0 ]; then echo "make bench: no benchmarks/*.py"; fi; \
	for f in "$${files[@]}"; do echo "== $$f"; $(PY) "$$f"; done

clean:
	rm -rf build/
