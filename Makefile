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

# Tools the data plane and the lab call, and the Debian packages that ship them.
SYSTEM_TOOLS := ip:iproute2 bridge:iproute2 iptables:iptables ip6tables:iptables nft:nftables \
	ping:iputils-ping nsenter:util-linux sysctl:procps iperf3:iperf3

system-packages:
	@missing=""; for pair in $(SYSTEM_TOOLS); do \
		command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair##*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# The lab: a 2-cluster mixed-mode dual-stack federation in network namespaces, every
# component a real process; prints what exists and the doctor's cross-cluster matrix, and
# leaves it running with the commands to explore it and to remove it (run again: replaced).
demo: system-packages $(STAMP)
	$(VENV)/bin/kosmosctl lab demo
	@echo "(the commands above are in $(VENV)/bin: run '. $(VENV)/bin/activate' first)"

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
