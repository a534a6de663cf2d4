"""Throughput and cross-process watch latency of the sqlite store.

    python benchmarks/store.py [--objects 500] [--poll-interval 0.05]

Prints one JSON line: single-process ``creates_per_s`` and ``updates_per_s`` (NodeConfig-
sized objects), ``contended_writes_per_s`` (4 processes creating then patching their own
objects at once), and ``watch_latency_ms`` p50/p99 from a write in one process to its event in
another at the given poll interval. The store lives in a temporary directory removed after.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from clusterlink.store import open_store

NAMESPACE = "bench"


def config_map(name: str, payload: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "data": {"payload": payload, "written": "0"},
    }


def update_own_objects(url: str, prefix: str, count: int, payload: str, gates: Any) -> None:
    """Once ``gates`` (ready semaphore, go event) opens, create then patch ``count`` objects."""
    ready, go = gates
    store = open_store(url)
    ready.release()
    go.wait()
    for index in range(count):
        store.create(config_map(f"{prefix}-{index}", payload))
    for index in range(count):
        store.patch("ConfigMap", f"{prefix}-{index}", {"data": {"written": "1"}}, NAMESPACE)
    store.close()


def write_stamped(url: str, count: int, gap: float) -> None:
    store = open_store(url)
    for index in range(count):
        store.patch(
            "ConfigMap",
            "stamped",
            {"data": {"written": repr(time.time()), "n": str(index)}},
            NAMESPACE,
        )
        time.sleep(gap)
    store.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(directory: Path, objects: int, poll_interval: float) -> dict[str, Any]:
    url = f"sqlite://{directory / 'bench.db'}?poll_interval={poll_interval}"
    payload = "x" * 4096
    store = open_store(url)

    started = time.perf_counter()
    for index in range(objects):
        store.create(config_map(f"o-{index}", payload))
    creates = objects / (time.perf_counter() - started)

    current = [store.get("ConfigMap", f"o-{index}", NAMESPACE) for index in range(objects)]
    started = time.perf_counter()
    for obj in current:
        store.update({**obj, "data": {**obj["data"], "written": "1"}})
    updates = objects / (time.perf_counter() - started)

    spawn = multiprocessing.get_context("spawn")
    ready, go = spawn.Semaphore(0), spawn.Event()
    writers = [
        spawn.Process(
            target=update_own_objects, args=(url, f"w{n}", objects // 4, payload, (ready, go))
        )
        for n in range(4)
    ]
    for writer in writers:
        writer.start()
    for _ in writers:
        ready.acquire()
    started = time.perf_counter()
    go.set()
    for writer in writers:
        writer.join()
    contended = 2 * 4 * (objects // 4) / (time.perf_counter() - started)

    store.create(config_map("stamped", ""))
    samples = 200
    latencies: list[float] = []
    start = store.list("ConfigMap").resource_version
    with store.watch("ConfigMap", resource_version=start, timeout_seconds=60) as watch:
        writer = spawn.Process(target=write_stamped, args=(url, samples, 0.005))
        writer.start()
        for event in watch:
            if event.object["metadata"]["name"] != "stamped":
                continue
            latencies.append((time.time() - float(event.object["data"]["written"])) * 1000)
            if len(latencies) == samples:
                break
        writer.join()
    store.close()
    return {
        "benchmark": "store-sqlite",
        "objects": objects,
        "object_bytes": len(json.dumps(config_map("o-0", payload))),
        "creates_per_s": round(creates),
        "updates_per_s": round(updates),
        "contended_writes_per_s": round(contended),
        "poll_interval_s": poll_interval,
        "watch_latency_ms": {
            "p50": round(statistics.median(latencies), 2),
            "p99": round(percentile(latencies, 0.99), 2),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=500)
    parser.add_argument("--poll-interval", type=float, default=0.05)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="store-bench-") as directory:
        print(json.dumps(measure(Path(directory), arguments.objects, arguments.poll_interval)))


if __name__ == "__main__":
    main()
