# The two front-door commands (see README): `make dashboard` and `make test`; `make course` renders the lessons to
# self-contained HTML under build/course/ (tools/build_course.py).
# Each creates .venv on first use, installs the CPU build of torch first (so no CUDA build is pulled) and then
# the package with its test extra; later runs reuse the environment unless pyproject.toml changed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8866
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup dashboard test course bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

setup: $(VENV)/.installed

dashboard: setup
	$(VENV)/bin/ntk-explorer dashboard --port $(PORT)

test: setup
	$(PY) -m pytest

course: setup
	$(PY) tools/build_course.py --notebooks notebooks --out build/course

bench: setup
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
