# carbon_magic: the two commands of the quick start are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check

.PHONY: demo test bench install clean pushgateway chromium reliability

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
test: $(PY) pushgateway chromium
	$(PIP) install -q -e ".[test]"
	$(PY) -m pytest

## the Prometheus push gateway that the output tests start on a loopback port (Debian package, as root)
pushgateway:
	@command -v prometheus-pushgateway >/dev/null 2>&1 || { \
	  apt-get update -qq >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus-pushgateway >/dev/null; }

## Chromium for the browser tests (Debian package, as root; Playwright's own download does not work here)
chromium:
	@test -x /usr/bin/chromium || { \
	  apt-get update -qq >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## make reliability: run every reliability case (tests/reliability/, @pytest.mark.reliability),
## then regenerate RELIABILITY.md from that run
reliability: $(PY) pushgateway
	$(PIP) install -q -e ".[test]"
	$(PY) -m pytest -q -m reliability tests
	$(PY) scripts/reliability_table.py

## make bench: the benchmarks in benchmarks/ (figures, not pass/fail)
bench: install
	cd benchmarks && ../$(PY) run_all.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache
