# The front door. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Stamps are keyed on the dependency files' content: change one and the install runs again.
PY_STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-16)
BENCH_STAMP := $(VENV)/.bench-$(shell cat pyproject.toml | sha256sum | cut -c1-16)
NODE_STAMP := node_modules/.installed-$(shell cat package.json package-lock.json | sha256sum | cut -c1-16)
PYTEST_ARGS ?=
# The Jupyter kernel that runs the notebooks (this venv's Python), registered inside the venv.
KERNEL := workbench
KERNEL_SPEC := $(VENV)/share/jupyter/kernels/$(KERNEL)/kernel.json
LAB_PORT ?= 8888

.PHONY: help install test lint format report lab bench mutants clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(PY_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

$(KERNEL_SPEC): $(PY_STAMP)
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (workbench)"

$(BENCH_STAMP): $(PY_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@rm -f $(VENV)/.bench-* && touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@rm -f node_modules/.installed-* && touch $@

install: $(PY_STAMP) $(NODE_STAMP) $(KERNEL_SPEC) ## create .venv, install Python packages, Azurite (pinned) and the Jupyter kernel

lint: $(PY_STAMP) ## ruff (lint + format check) and mypy on pipeline/ and sim/
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(PY_STAMP) ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install lint ## lint, then the whole test suite against a project-managed Azurite
	$(BIN)/pytest $(PYTEST_ARGS)

report: install ## run the four notebooks headless: reports/rollout-report.html (+ .md, metrics.json)
	$(BIN)/workbench report --out reports

lab: install ## JupyterLab on notebooks/ (127.0.0.1, project kernel); prints the URL with its token
	@echo "JupyterLab on notebooks/ with the $(KERNEL) kernel: open the http://127.0.0.1 URL below (Ctrl-C stops it)"
	@$(BIN)/jupyter lab --no-browser --ip=127.0.0.1 --port=$(LAB_PORT) \
		--ServerApp.root_dir=notebooks --MappingKernelManager.default_kernel_name=$(KERNEL) \
		$$(test "$$(id -u)" = 0 && echo --allow-root)

bench: install $(BENCH_STAMP) ## run benchmarks/ (each prints its figure on its last line; all figures again at the end)
	@set -eo pipefail; out=$$(mktemp -d); trap 'rm -rf "$$out"' EXIT; \
	for f in benchmarks/bench_*.py; do \
		echo "== $$f"; $(BIN)/python -u $$f | tee "$$out/$$(basename $$f .py)"; \
	done; \
	echo "== figures (each benchmark's last line; docs/performance.md explains them)"; \
	for f in benchmarks/bench_*.py; do echo "$$(basename $$f .py): $$(tail -n 1 "$$out/$$(basename $$f .py)")"; done

# One module at a time (a mutant runs only the fast unit tests that reach its function); the
# results stay in mutants/ for `mutmut show NAME` and `mutmut browse`. Not part of `make test`.
MUTATE = $(shell $(BIN)/python -c "import tomllib; print(' '.join(tomllib.load(open('pyproject.toml', 'rb'))['tool']['mutmut']['only_mutate']))" 2>/dev/null)
MUTANT_JOBS ?= 2

mutants: install ## mutation testing of the pure modules (slow: ~20 min on 2 cores); scores as in docs/testing.md
	@set -e; mkdir -p mutants; for module in $(MUTATE); do \
		name=$$(echo $${module%.py} | tr / .); log=mutants/run-$$name.log; echo "== $$module"; \
		if ! $(BIN)/mutmut run --max-children $(MUTANT_JOBS) "$$name.*" > $$log 2>&1; then \
			tr '\r' '\n' < $$log | tail -30; exit 1; fi; \
		tr '\r' '\n' < $$log | grep -E "[0-9]+/[0-9]+ " | tail -1; \
	done
	$(BIN)/python tests/mutation_scores.py

clean: ## remove the virtualenv, node_modules and generated state
	rm -rf $(VENV) node_modules .workbench .pytest_cache .mypy_cache .ruff_cache mutants
