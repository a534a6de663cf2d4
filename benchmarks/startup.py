"""Start-up: how long commands take before they do anything, and labs until they are ready.

    python benchmarks/startup.py [--runs 5] [--lab]

Why: most of a quick command's run is the interpreter importing what the command needs,
and a lab starts a dozen component processes that each pay the same. ``kosmosctl`` and
``clusterlink`` import only the subcommand that runs, and only ``kube://`` stores load the
Kubernetes client; this measures what that leaves.

Each command runs ``--runs`` times in a fresh interpreter, as a user's shell or a pod runs
it; the median and the fastest run are printed. With ``--lab`` (root), ``kosmosctl lab up``
of a 2 x 2 and a 3 x 3 lab (IPv4 and IPv6, P2P) is timed until it reports ready; the labs
are named ``su<hex>`` (namespaces ``cl-su<hex>-*``), keep their state in a temporary
directory and are always removed with ``kosmosctl lab down``. Prints one JSON line per
measurement. Whether Python may write bytecode caches (``PYTHONDONTWRITEBYTECODE``) changes
every figure, so it is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

from clusterlink.lab.processes import component_command
from clusterlink.lab.state import STATE_DIR_ENV

KOSMOSCTL = (sys.executable, "-c", "from clusterlink.cli.kosmosctl import main; main()")
COMMANDS: dict[str, tuple[str, ...]] = {
    "kosmosctl --version": (*KOSMOSCTL, "--version"),
    "kosmosctl get --help": (*KOSMOSCTL, "get", "--help"),
    "kosmosctl dr --help": (*KOSMOSCTL, "dr", "--help"),
    "clusterlink floater --help": component_command("floater", "--help"),
    "clusterlink agent run --help": component_command("agent", "run", "--help"),
}
LAB_SIZES = ((2, 2), (3, 3))


def timed(command: Sequence[str], env: dict[str, str] | None = None) -> float:
    """Wall seconds of one run; a failing command stops the benchmark."""
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env, timeout=600)
    return time.perf_counter() - started


def measure_commands(runs: int) -> None:
    for name, command in COMMANDS.items():
        seconds = [timed(command) for _ in range(runs)]
        figures = {"median_s": statistics.median(seconds), "fastest_s": min(seconds)}
        print(json.dumps({"command": name, "runs": runs, **rounded(figures)}), flush=True)


def measure_labs() -> None:
    with tempfile.TemporaryDirectory(prefix="startup-bench-") as state_dir:
        env = {**os.environ, STATE_DIR_ENV: state_dir}
        for clusters, nodes in LAB_SIZES:
            name = f"su{secrets.token_hex(3)}"
            size = ("--clusters", str(clusters), "--nodes", str(nodes))
            try:
                seconds = timed((*KOSMOSCTL, "lab", "up", "--name", name, *size), env)
            finally:
                subprocess.run(
                    (*KOSMOSCTL, "lab", "down", "--name", name),
                    check=True,
                    capture_output=True,
                    env=env,
                )
            result = {"lab_up": f"{clusters}x{nodes}", "seconds": round(seconds, 2)}
            print(json.dumps(result), flush=True)


def rounded(figures: dict[str, float]) -> dict[str, float]:
    return {key: round(value, 3) for key, value in figures.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="Runs of each command.")
    parser.add_argument("--lab", action="store_true", help="Also time lab up (needs root).")
    arguments = parser.parse_args()
    if arguments.lab and os.geteuid() != 0:
        parser.error("--lab needs root: labs are built from network namespaces")
    bytecode = not os.environ.get("PYTHONDONTWRITEBYTECODE")
    print(json.dumps({"python": sys.version.split()[0], "bytecode_cache": bytecode}))
    measure_commands(arguments.runs)
    if arguments.lab:
        measure_labs()
    return 0


if __name__ == "__main__":
    sys.exit(main())
