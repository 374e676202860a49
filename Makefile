# `make test` works on a fresh clone: it builds .venv when missing and installs the package
# with its dev extras before running the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# lolpop's commands talk to loopback only: MLflow's usage telemetry stays off in everything run here.
export MLFLOW_DISABLE_TELEMETRY := true

.PHONY: test test-fast quickstart docs bench install clean chromium

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Headless Chromium (Debian's) renders the lineage page and the audit report in tests: installed here when missing
# and we may (root with apt-get); elsewhere those tests skip with the reason (and fail under CI=true).
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
		echo "chromium is not installed: the browser tests will skip"; }

test: $(STAMP) chromium
	$(PY) -m pytest tests --durations=25

# The quick lane: SQLite-only tests, no `mlflow server`, no PostgreSQL, nothing slow (lanes: tests/conftest.py).
test-fast: $(STAMP)
	$(PY) -m pytest tests -m "not server and not postgres and not slow" --durations=15

quickstart: $(STAMP)
	$(VENV)/bin/lolpop quickstart --dir quickstart

# The documentation site, offline (no web fonts, no CDN) and strict (a broken link or API reference fails),
# into site/: open site/index.html. The dev extra holds the docs packages too.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

# Side-by-side benchmark (ours immediate + batched vs lolpop 0.2.0 vs raw MlflowClient); writes BENCHMARKS.md and
# benchmarks/lookup_latency.png, scratch in build/bench (lolpop 0.2.0 gets its own venv there).
bench: $(STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) build site *.egg-info
