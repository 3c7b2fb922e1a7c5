# The course's commands. The README's two are `make lab` and `make test`;
# both create the virtual environment in .venv on first use.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
CONSTRAINTS := requirements/constraints.txt
STAMP := $(VENV)/.installed
INSTRUCTOR_STAMP := $(VENV)/.installed-instructor
KERNEL_NAME := next-token-course
# JupyterLab refuses to run as root without this flag (containers, CI).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
LAB_ARGS ?=
PYTEST_ARGS ?=
SUBMISSIONS ?= submissions
OUT ?= grading-output

.PHONY: help install lab test lint format student solutions bench grade handout handout-branch \
  lock clean FORCE

help:
	@echo "make lab      set up .venv (first time) and open JupyterLab on the course"
	@echo "make test     set up .venv (first time) and run every test"
	@echo "make student  regenerate notebooks/ from solutions/"
	@echo "make bench    benchmarks against scipy / Hugging Face-style / nbgrader"
	@echo "make grade SUBMISSIONS=dir OUT=dir   grade a class"
	@echo "make handout OUT=dir   the learners' hand-out (no solutions) in dir and dir.zip"
	@echo "make handout-branch    the same, committed as git branch handout (nbgitpuller)"
	@echo "make format   apply ruff's formatting and lint fixes"

install: $(STAMP)

# The folder the venv was set up for. The course kernel's kernel.json, the
# editable install of `utils`, the shebangs of the bin/ scripts and the
# activate scripts all hold that absolute path; when the repository is moved
# or copied, the next `make` notices the new folder, rewrites the scripts
# (tools/relocate_venv.py) and reinstalls the package and the kernel.
LOCATION := $(VENV)/.location
ifneq ($(wildcard $(STAMP)),)
ifneq ($(shell cat $(LOCATION) 2>/dev/null),$(CURDIR))
$(STAMP): FORCE
endif
endif

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if [ -f $(LOCATION) ] && [ "$$(cat $(LOCATION))" != "$(CURDIR)" ]; then \
	  $(BIN)/python -m tools.relocate_venv "$$(cat $(LOCATION))" "$(CURDIR)"; fi
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
	  -c $(CONSTRAINTS) -e ".[test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL_NAME) \
	  --display-name "Python 3 (next-token course)" >/dev/null
	@echo "$(CURDIR)" > $(LOCATION).new && mv $(LOCATION).new $(LOCATION)
	@touch $@

FORCE:

lab: $(STAMP)
	$(BIN)/python -m jupyterlab --ServerApp.root_dir="$(CURDIR)" \
	  --LabApp.default_url=/lab/tree/notebooks/00_start_here.ipynb \
	  $(ROOT_FLAG) $(LAB_ARGS)

lint: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .

format: $(STAMP)
	$(BIN)/python -m ruff check --fix .
	$(BIN)/python -m ruff format .

# Strict nbval on solutions/ (stored outputs are the reference; the kernel is
# the one named in each notebook, this venv's); tests/ runs the student
# notebooks itself. --dist loadscope keeps each notebook on one worker.
# One BLAS thread per process: with two pytest workers on two cores, threaded
# BLAS calls fight for the cores and run several times slower.
# `make test` and `make bench` also need nbgrader (the `instructor` extra): the
# nbgrader interop tests and the grader's comparison run the real thing.
$(INSTRUCTOR_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
	  -c $(CONSTRAINTS) -e ".[test,instructor]"
	@touch $@

test: lint $(INSTRUCTOR_STAMP)
	@mkdir -p build
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --dist loadscope --junitxml=build/test-results.xml \
	  --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout 120 \
	  tests solutions $(PYTEST_ARGS)

student: $(STAMP)
	$(BIN)/python -m tools.make_student $(STUDENT_ARGS)

# Re-execute solutions/ in place to store their outputs (authors only).
solutions: $(STAMP)
	$(BIN)/python -m tools.refresh_solutions $(SOLUTIONS_ARGS)

bench: $(INSTRUCTOR_STAMP)
	$(BIN)/python -m bench

grade: $(STAMP)
	$(BIN)/python -m utils.grading "$(SUBMISSIONS)" --out "$(OUT)" $(GRADE_ARGS)

# The learners' hand-out: student notebooks, utils and the set-up, no solutions.
# OUT given on the command line is used; otherwise (OUT's default is the
# grader's) build/handout.
HANDOUT := $(if $(filter command line,$(origin OUT)),$(OUT),build/handout)
HANDOUT_BRANCH ?= handout

handout: $(STAMP)
	$(BIN)/python -m tools.handout "$(HANDOUT)" --zip

handout-branch: $(STAMP)
	$(BIN)/python -m tools.handout "$(HANDOUT)" --zip --branch "$(HANDOUT_BRANCH)"

# Re-resolve the newest versions allowed by pyproject.toml into the lock.
lock:
	rm -rf build/lock-venv && $(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/python -m pip install --quiet -e ".[test,instructor]"
	{ sed -n '1,3p' $(CONSTRAINTS); build/lock-venv/bin/python -m pip freeze \
	  --exclude-editable | grep -v -iE '^(pip|setuptools|wheel)=='; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)
	@echo "Updated $(CONSTRAINTS); now update environment.yml to match."

clean:
	rm -rf $(VENV) build .pytest_cache
