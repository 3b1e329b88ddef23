# Two commands for learners:  `make lab` (open the course)  and  `make test` (prove it works).
# Both create .venv with python3 if it is missing and install the course into it;
# the set-up is redone only when pyproject.toml changes.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.course-installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))

.PHONY: setup lab test unit execute clean bench bench-notebooks

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
	@touch $@

# Jupyter refuses to run as root (containers, some cloud machines) unless told it may.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: setup
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks $(ALLOW_ROOT)

test: setup
	$(BIN)/python -m pytest

unit: setup
	$(BIN)/python -m pytest tests

# Re-run every notebook in place, each in a fresh kernel, to refresh the committed outputs.
execute: setup
	@for notebook in $(NOTEBOOKS); do \
		echo "executing $$notebook"; \
		$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
			--ExecutePreprocessor.timeout=900 --ExecutePreprocessor.kernel_name=python3 "$$notebook" || exit 1; \
	done

# Speed: one epoch of the course's MLP, CNN and LSTM through three pipelines (BENCHMARKS.md);
# pass options with BENCH_ARGS, e.g. make bench BENCH_ARGS="--quick".
bench: setup
	$(BIN)/python benchmarks/bench_training.py $(BENCH_ARGS)

# Seconds per notebook, each executed in a fresh kernel without touching the committed files.
bench-notebooks: setup
	$(BIN)/python benchmarks/bench_notebooks.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
