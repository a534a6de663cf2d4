# The two entry points of the README: `make demo` (main job) and `make test` (the test suite).
# Both install what they need, so they work on a fresh Debian machine run as root.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit system-packages clean crds

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

system-packages:
	@if ! command -v iptables >/dev/null || ! command -v ip >/dev/null || ! command -v bridge >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 iptables nftables >/dev/null; \
	fi

demo: $(STAMP)
	$(VENV)/bin/kosmosctl plan -f examples/gateway-two-clusters.yaml -o table

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy

test: system-packages $(STAMP) lint typecheck
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis

# The CRD manifests under deploy/crds are generated from the API models; tests fail when they drift.
crds: $(STAMP)
	$(PY) -m clusterlink.api.crds --write deploy/crds
