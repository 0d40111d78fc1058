# carbon_magic: the two commands of the quick start are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check

.PHONY: demo test bench bench-vs-codecarbon install clean pushgateway chromium jstest lint reliability lowest-panel

$(PY):
	$(PYTHON) -m venv $(VENV)

install: $(PY) node_modules/.package-lock.json
	$(PIP) install -q -e .

## make demo: run notebooks/demo.ipynb headless and offline, print the per-cell table,
## write the executed notebook, its HTML and the CSV files to demo-output/
demo: $(PY) node_modules/.package-lock.json
	$(PIP) install -q -e ".[demo]"
	$(PY) scripts/demo.py

## make test: everything the tests need, then every test (the sidebar's Jest tests, then pytest),
## then the linters (last, so that a style finding never hides a test result).
## `pip install -e` builds the sidebar's bundle (labextension/ -> carbon_magic/labextension/)
## through hatch-jupyter-builder when labextension/ changed since the last build, and installs it.
test: $(PY) pushgateway chromium node_modules/.package-lock.json
	$(PIP) install -q -e ".[test,lint]"
	@test -d .cache/ipykernel6/ipykernel || $(PIP) install -q --no-deps --target .cache/ipykernel6 "ipykernel>=6.20,<7"
	@$(MAKE) --no-print-directory lowest-panel
	$(MAKE) --no-print-directory jstest
	$(PY) -m pytest
	$(MAKE) --no-print-directory lint

## make lint: ruff and mypy on the Python (settings in pyproject.toml), prettier and eslint on the
## sidebar's TypeScript (settings in package.json); `npm run lint` rewrites what prettier would
lint: $(PY) node_modules/.package-lock.json
	@test -x $(VENV)/bin/mypy || $(PIP) install -q -e ".[lint]"
	@status=0; \
	  $(VENV)/bin/ruff check . || status=1; \
	  $(VENV)/bin/mypy || status=1; \
	  npm run --silent lint:check || status=1; \
	  exit $$status

## the live panel's widget libraries at the lowest versions pyproject.toml accepts, alone in
## .cache/lowest-panel (tests/test_panel_lowest_versions.py puts them first on a kernel's path)
LOWEST_PANEL := $(shell $(PYTHON) scripts/lowest_pins.py plotly ipywidgets anywidget)
lowest-panel: $(PY)
	@test "$$(cat .cache/lowest-panel/pins 2>/dev/null)" = "$(LOWEST_PANEL)" || { \
	  rm -rf .cache/lowest-panel && \
	  $(PIP) install -q --no-deps --target .cache/lowest-panel $(LOWEST_PANEL) && \
	  echo "$(LOWEST_PANEL)" > .cache/lowest-panel/pins; }

## the sidebar's npm packages, pinned by package-lock.json (installed again only when it changes)
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

## the sidebar's unit tests (JupyterLab's Jest setup), after type-checking sources and tests
jstest: node_modules/.package-lock.json
	npx tsc -p tsconfig.test.json
	npx jest --silent

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

## make bench-vs-codecarbon: only the side-by-side run against CodeCarbon (writes benchmarks/RESULTS.md)
bench-vs-codecarbon: install
	cd benchmarks && ../$(PY) vs_codecarbon.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache .bench node_modules lib tsconfig.tsbuildinfo carbon_magic/labextension
