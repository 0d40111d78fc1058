# carbon_magic: the two commands of the quick start are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check

.PHONY: demo test bench install clean

$(PY):
	$(PYTHON) -m venv $(VENV)

install: $(PY)
	$(PIP) install -q -e .

## make demo: run notebooks/demo.ipynb headless and offline, print the per-cell table,
## write the executed notebook, its HTML and the CSV files to demo-output/
demo: $(PY)
	$(PIP) install -q -e ".[demo]"
	$(PY) scripts/demo.py

## make test: everything the tests need, then every test
test: $(PY)
	$(PIP) install -q -e ".[test]"
	$(PY) -m pytest

## make bench: the benchmarks in benchmarks/ (figures, not pass/fail)
bench: install
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache
