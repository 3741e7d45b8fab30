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

# Jupyter data files of the package (server extension switch, Voilà template): an editable install skips them, so
# they are copied into the environment by `python -m ntk_explorer_server install-data`.
DATA_FILES := etc/jupyter/jupyter_server_config.d/ntk_explorer_server.json $(wildcard share/jupyter/voila/templates/ntk/*)

$(VENV)/.installed: pyproject.toml $(DATA_FILES)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[test]"
	$(PY) -m ntk_explorer_server install-data
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
