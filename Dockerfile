# syntax=docker/dockerfile:1
# Images of the ClusterLink components, named as upstream: <repo>/clusterlink-<component>:<tag>.
#
# One build, two runtime targets sharing every layer but the last:
#   control  - network-manager, controller-manager, elector, floater: no network tools
#              (the floater probes from Python sockets), non-root by default
#   agent    - the node agent: iproute2 and iptables, root (a privileged DaemonSet)
#
#   docker build --target control -t ghcr.io/kosmos-io/clusterlink-network-manager:v0.1.0 .
#   docker tag ghcr.io/kosmos-io/clusterlink-network-manager:v0.1.0 \
#              ghcr.io/kosmos-io/clusterlink-controller-manager:v0.1.0   # and -elector, -floater
#   docker build --target agent -t ghcr.io/kosmos-io/clusterlink-agent:v0.1.0 .
#
# Every container runs `clusterlink <component> ...` (the manifests of clusterlink.deploy set
# the full command), so the entry point is the `clusterlink` program itself.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: wheels of the project and of every dependency -----------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --wheel-dir /wheels .

# --- runtime: the installed wheels only, no compiler, no pip cache --------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels clusterlink \
    && { pip uninstall --yes pip setuptools wheel || true; }
ENTRYPOINT ["clusterlink"]
CMD ["--help"]

# --- agent: programs the host's links, routes, FDB/ARP entries and iptables chains ----------
FROM runtime AS agent
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iproute2 iptables \
    && rm -rf /var/lib/apt/lists/*
USER 0:0

# --- control: talks to API servers only; uid 65532 matches the manifests' securityContext ---
FROM runtime AS control
RUN groupadd --system --gid 65532 clusterlink \
    && useradd --system --uid 65532 --gid 65532 --no-create-home --shell /usr/sbin/nologin clusterlink
USER 65532:65532
