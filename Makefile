# Two commands for learners:  `make lab` (open the course, learner edition)  and  `make test` (prove it works).
# Both create .venv with python3 if it is missing and install the course into it; the set-up is
# redone only when pyproject.toml changes. `make lab` installs what a learner needs; `make test`
# adds the test tools (pytest, nbval, Playwright).
#
# Choices, each a variable on the command line (README, "Installing for a workshop"):
#   PYTHON=python3.12     the Python that builds .venv (3.10 or newer; .venv is rebuilt if it differs)
#   TORCH=cpu             PyTorch's CPU-only wheels (about 0.2 GB instead of several GB on Linux)
#   WHEELHOUSE=folder     install from a folder of wheels (`make wheelhouse`), with no index at all

PYTHON     ?= python3
TORCH      ?= default
WHEELHOUSE ?=
VENV       := .venv
BIN        := $(VENV)/bin
NOTEBOOKS  := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
CPU_TORCH_INDEX := https://download.pytorch.org/whl/cpu

ifeq ($(filter $(TORCH),default cpu),)
$(error TORCH must be 'default' or 'cpu', got '$(TORCH)')
endif

# pip prints a line per package (and a progress bar while downloading), so a long first install
# never looks like a hang.
PIP := $(BIN)/python -m pip install --disable-pip-version-check --progress-bar on
ifneq ($(WHEELHOUSE),)
PIP += --no-index --find-links $(WHEELHOUSE)
endif
# With TORCH=cpu torch and torchvision come first, from PyTorch's CPU index (from the wheelhouse when
# one is given: build it with the same TORCH=cpu); the course's install then finds them in place.
ifeq ($(TORCH),cpu)
ifeq ($(WHEELHOUSE),)
TORCH_STEP := $(PIP) --index-url $(CPU_TORCH_INDEX) torch torchvision
else
TORCH_STEP := $(PIP) torch torchvision
endif
else
TORCH_STEP := @true
endif

# The stamps carry the Python version, so asking for another Python (PYTHON=...) redoes the set-up.
PYTHON_VERSION := $(shell $(PYTHON) -c "import sys; print('%d.%d' % sys.version_info[:2])" 2>/dev/null)
LEARNER_STAMP  := $(VENV)/.course-installed-py$(PYTHON_VERSION)
TEST_STAMP     := $(VENV)/.tests-installed-py$(PYTHON_VERSION)

.PHONY: setup setup-tests lab instructor learner solutions test unit check execute wheelhouse clean bench bench-notebooks

setup: $(LEARNER_STAMP)

setup-tests: $(TEST_STAMP)

# Stops at once on a Python older than 3.10; rebuilds .venv when it was made with another Python
# than $(PYTHON); then installs torch (TORCH=cpu only) and the course.
$(LEARNER_STAMP): pyproject.toml
	@$(PYTHON) -c "import sys; sys.exit(sys.version_info < (3, 10))" 2>/dev/null || { \
		echo "error: the course needs Python 3.10 or newer; '$(PYTHON)' is $$($(PYTHON) --version 2>&1 || echo 'not found'). Install one and run e.g.  make lab PYTHON=python3.12" >&2; exit 1; }
	@if [ -x $(BIN)/python ]; then \
		found=$$($(BIN)/python -c "import sys; print('%d.%d' % sys.version_info[:2])" 2>/dev/null || echo broken); \
		if [ "$$found" != "$(PYTHON_VERSION)" ]; then \
			echo "$(VENV) was made with Python $$found, but $(PYTHON) is Python $(PYTHON_VERSION): rebuilding $(VENV)"; \
			rm -rf $(VENV); \
		fi; \
	fi
	@test -x $(BIN)/python || { echo "creating $(VENV) with $(PYTHON) (Python $(PYTHON_VERSION))"; $(PYTHON) -m venv $(VENV); }
	$(TORCH_STEP)
	$(PIP) -e .
	@touch $@

$(TEST_STAMP): $(LEARNER_STAMP)
	$(PIP) -e ".[test]"
	@touch $@

# Jupyter refuses to run as root (containers, some cloud machines) unless told it may.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

# The learner edition (scripts/learner_edition.py): learner/ holds every notebook without solutions and outputs.
# It is ignored by git, so learners' edits never touch the tracked notebooks. `make lab` writes the notebooks
# missing there (never overwriting one) and opens it; `make instructor` opens notebooks/, the instructor's edition.
LEARNER := learner

lab: setup
	$(BIN)/python scripts/learner_edition.py --out $(LEARNER)
	$(BIN)/jupyter lab --ServerApp.root_dir=$(LEARNER) $(ALLOW_ROOT)

instructor: setup
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks $(ALLOW_ROOT)

# Write learner/ (keeps notebooks already there; FORCE=1 rewrites them, losing a learner's work).
learner: setup
	$(BIN)/python scripts/learner_edition.py --out $(LEARNER) $(if $(filter 1 yes true,$(FORCE)),--force)

# After the workshop: put the solution cells back into the notebooks in learner/, keeping the learners' work.
solutions: setup
	$(BIN)/python scripts/learner_edition.py --out $(LEARNER) --solutions

test: setup-tests
	$(BIN)/python -m pytest

unit: setup-tests
	$(BIN)/python -m pytest tests

# The pre-flight for a learner's laptop, the week before a workshop: under a minute, ends in READY or
# the one thing to fix. Needs only the learner install; edited notebooks do not matter.
check: setup
	$(BIN)/python scripts/preflight.py

# Re-run every notebook in place, each in a fresh kernel, to refresh the committed outputs.
execute: setup-tests
	@for notebook in $(NOTEBOOKS); do \
		echo "executing $$notebook"; \
		$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
			--ExecutePreprocessor.timeout=900 --ExecutePreprocessor.kernel_name=python3 "$$notebook" || exit 1; \
	done

# Every wheel the learner install needs, for a room without internet (README, "Installing for a
# workshop"): make wheelhouse [TORCH=cpu] [PLATFORMS="win_amd64 macosx_11_0_arm64"] [PYTHONS="3.11 3.12"]
WHEELHOUSE_DIR ?= wheelhouse
wheelhouse:
	$(PYTHON) scripts/build_wheelhouse.py --out $(WHEELHOUSE_DIR) --torch $(TORCH) \
		$(if $(PLATFORMS),--platforms $(PLATFORMS)) $(if $(PYTHONS),--pythons $(PYTHONS))

# Speed: one epoch of the course's MLP, CNN and LSTM through three pipelines (BENCHMARKS.md);
# pass options with BENCH_ARGS, e.g. make bench BENCH_ARGS="--quick".
bench: setup
	$(BIN)/python benchmarks/bench_training.py $(BENCH_ARGS)

# Seconds and peak memory per notebook, each executed in a fresh kernel without touching the committed files.
bench-notebooks: setup-tests
	$(BIN)/python benchmarks/bench_notebooks.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
