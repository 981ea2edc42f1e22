# Daff data mesh — the two set-up commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
VENV := .venv
UV := $(TOOLS)/bin/uv
SCALE ?= 0.05
BENCH_SCALE ?= 1
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Compile bytecode at install: where PYTHONDONTWRITEBYTECODE is set, every process (each dbt
# invocation, each Dagster step) would otherwise recompile everything it imports (~2 s each).
export UV_COMPILE_BYTECODE := 1
# Telemetry of every tool is off inside the project (the platform also sets these itself).
export SODA_CORE_TELEMETRY_ENABLED := false
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1

.PHONY: bench-catalog install browser tools demo test test-bench test-fast lint governance security audit format dev bench clean

install: $(VENV)/.installed

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-extras
	touch $@

# The portal's and the Dagster UI's browser tests drive a real headless Chromium (Debian's
# package; Playwright uses /usr/bin/chromium and never downloads a browser).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "installing Debian chromium for the browser tests (apt-get)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null \
	  || { echo "could not install chromium: run 'apt-get install chromium chromium-driver' as root"; exit 1; }; \
	fi

# strace: the security test traces the demo's network system calls (no outbound connection).
tools:
	@if [ ! -x /usr/bin/strace ]; then \
	  echo "installing Debian strace for the no-outbound-connection test (apt-get)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq strace >/dev/null \
	  || { echo "could not install strace: run 'apt-get install strace' as root"; exit 1; }; \
	fi

demo: install  ## generate data and materialize every product of every domain
	$(VENV)/bin/mesh demo --scale $(SCALE)

test: install browser tools lint governance security  ## the whole suite: code lint, mesh lint, security gate, unit, integration, snapshot
	$(VENV)/bin/pytest -m "not bench"

test-bench: install  ## the benchmark harness at a tiny scale (a smoke test, ~5 min; CI runs it)
	$(VENV)/bin/pytest -m bench

test-fast: install  ## unit tests only
	$(VENV)/bin/pytest -m "not slow"

lint: install  ## ruff, and the platform's layering contracts (import-linter, pyproject.toml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

security: install  ## bandit over our code: every finding fixed or justified in security/bandit-exceptions.yaml
	$(VENV)/bin/python -m security.bandit_gate

audit: install  ## pip-audit of the locked dependencies (needs a vulnerability database online; not part of `make test`)
	$(VENV)/bin/python -m security.audit

governance: install  ## the mesh's global policies (governance/) over every product: CI fails on errors
	$(VENV)/bin/mesh lint

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

dev: install  ## Dagster UI on http://127.0.0.1:3000, one code location per domain
	$(VENV)/bin/mesh dev

# ENGINE=spark: the mesh on DuckDB beside the mesh on Spark (bench/engines.py); SCALE may list
# several scales (SCALE=1,10) and CORES the core counts to pin to (CORES=1,2).
bench: install  ## benchmark vs plain dbt and raw DuckDB: make bench SCALE=1; DuckDB vs Spark: make bench ENGINE=spark SCALE=1,10 CORES=1,2
ifeq ($(ENGINE),spark)
	$(VENV)/bin/python -m bench.engines --scales $(if $(filter command line environment,$(origin SCALE)),$(SCALE),$(BENCH_SCALE)) $(if $(CORES),--cores $(CORES))
else
	$(VENV)/bin/python -m bench --scale $(if $(filter command line environment,$(origin SCALE)),$(SCALE),$(BENCH_SCALE))
endif

clean:  ## wipe everything the mesh wrote (data, dbt artifacts)
	rm -rf data dbt_project/*/target dbt_project/*/logs dbt_project/*/dbt_packages

bench-catalog: install  ## catalog search latency and portal page times with 1,000 generated products (bench/results/catalog_search.md)
	$(VENV)/bin/python -m bench.catalog_search --products 1000
