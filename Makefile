# edgeinfer developer commands. Each target creates .venv if it is missing.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)

.PHONY: demo test test-full bench lint schemas profiles clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[all]"
	$(BIN)/python -c "from edgeinfer.broadcast.solvers.decomposition import compile_kernels; compile_kernels()"
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

demo: venv
	$(BIN)/edgeinfer reproduce all --quick --out results/demo

test: venv
	$(BIN)/python -m pytest -n 2 --dist loadfile

test-full: venv
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "slow or not slow"

bench: venv
	$(BIN)/python benchmarks/run.py

lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/vulture

schemas: venv
	$(BIN)/python -m edgeinfer.core.schemas docs/schemas

profiles: venv
	$(BIN)/python -m edgeinfer.dnn.build_profiles

clean:
	rm -rf $(VENV) results .pytest_cache .hypothesis
