"""What measuring a Dask cluster costs: a LocalCluster of 4 worker processes (1 thread each).

1. Time added per tracked window boundary: ``start()`` and ``stop()`` of a cell's tracker
   with the cluster measured, against the same tracker with ``measure_cluster=False``, in the
   same run (the hosts' readings travel in the background; the cell pays for starting them).
   Target <= 5 ms per boundary. The time until the record is final (the hosts answered) is
   shown beside it.
2. Idle CPU of the worker plugin per worker: CPU seconds of the plugin's threads (the host's
   sampler at the default interval, the other workers' take-over checks, the location
   lookups), read from /proc on each worker over an idle period, / wall seconds / workers.
   Target < 0.1 % of one core. The workers' whole processes, idle, are shown beside it.

The workers are named as another host (``CARBON_MAGIC_HOST_ID``) than this process, so the
cluster part is measured as for a remote cluster. ``--write`` puts the figures in
benchmarks/RESULTS.md (block ``cluster-cost``). Usage: ``cluster_cost.py [IDLE_S] [--write]``.
"""

from __future__ import annotations

import datetime
import os
import statistics
import sys
import tempfile
import threading
import time

from common import OFFLINE_ENV, REPO, row
from versus.report import put_block

WORKERS = 4
TARGET_BOUNDARY_MS = 5.0
TARGET_IDLE_PCT = 0.1


def plugin_threads_cpu_s() -> tuple[float, int]:
    """On a worker: CPU seconds of its carbon_magic threads (by name), from /proc, and how many."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    count = 0
    for thread in threading.enumerate():
        if not thread.name.startswith("carbon_magic") or thread.native_id is None:
            continue
        try:
            with open(f"/proc/self/task/{thread.native_id}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
        count += 1
    return total, count


def process_cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def boundary_ms(cells: int) -> dict[str, float]:
    from carbon_magic.core.config import resolve_config
    from carbon_magic.core.tracker import Tracker
    from carbon_magic.runtime import current_runtime

    runtime = current_runtime()
    results = {}
    for label, measure in (("without", False), ("with", True)):
        config = resolve_config({"country_iso_code": "FRA", "measure_cluster": measure})
        tracker = Tracker(config, samplers=runtime.samplers, location=runtime.location, remote=runtime.cluster)
        starts, stops, finals = [], [], []
        for index in range(cells + 3):
            done = threading.Event()
            began = time.perf_counter()
            tracker.start()
            started = time.perf_counter()
            tracker.stop(wait=False, on_final=lambda _record, finished=done: finished.set())
            stopped = time.perf_counter()
            done.wait(10)
            if index >= 3:  # the first cells register the plugin and start the hosts' samplers
                starts.append(started - began)
                stops.append(stopped - started)
                finals.append(time.perf_counter() - stopped)
        results[f"{label}_ms"] = (statistics.median(starts) + statistics.median(stops)) / 2 * 1e3
        results[f"{label}_final_ms"] = statistics.median(finals) * 1e3
    return results


def main(idle_s: float = 60.0, cells: int = 50) -> dict[str, float]:
    from distributed import Client, LocalCluster

    os.environ.update(OFFLINE_ENV)  # the kernel's and the workers' (inherited)
    os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="carbon_magic-bench-")
    os.environ["CARBON_MAGIC_HOST_ID"] = "bench-cluster"  # the workers' host (inherited)
    cluster = LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=True, dashboard_address=None,
                           host="127.0.0.1")
    os.environ["CARBON_MAGIC_HOST_ID"] = "bench-kernel"
    client = Client(cluster, set_as_default=True)
    try:
        print(f"Cluster measurement cost (LocalCluster of {WORKERS} worker processes, 1 thread each)")
        idle_before = sum(client.run(process_cpu_s).values())
        time.sleep(idle_s)
        workers_idle_pct = (sum(client.run(process_cpu_s).values()) - idle_before) / idle_s / WORKERS * 100
        boundary = boundary_ms(cells)  # registers the plugin: every worker runs its agent from here
        added_ms = boundary["with_ms"] - boundary["without_ms"]
        row("time added per tracked boundary", f"{added_ms:.3f} ms", f"<= {TARGET_BOUNDARY_MS} ms",
            added_ms <= TARGET_BOUNDARY_MS)
        print(f"  (boundary without the cluster {boundary['without_ms']:.3f} ms, with {boundary['with_ms']:.3f} ms; "
              f"record final {boundary['with_final_ms']:.1f} ms after the cell, in the background)")
        time.sleep(2.0)  # the cells' requests are over
        before = client.run(plugin_threads_cpu_s)
        time.sleep(idle_s)
        after = client.run(plugin_threads_cpu_s)
        plugin_pct = sum(after[w][0] - before[w][0] for w in after) / idle_s / WORKERS * 100
        threads = sum(count for _cpu_s, count in after.values())
        row("plugin idle CPU per worker (default interval)", f"{plugin_pct:.4f} %", f"< {TARGET_IDLE_PCT} %",
            plugin_pct < TARGET_IDLE_PCT)
        print(f"  ({threads} carbon_magic threads on the {WORKERS} workers; /proc counts CPU in "
              f"{1 / os.sysconf('SC_CLK_TCK') * 1e3:.0f} ms ticks: resolution "
              f"{1 / os.sysconf('SC_CLK_TCK') / idle_s / WORKERS * 100:.4f} % over {idle_s:g} s)")
        print(f"  (a Dask worker process idle, without the plugin: {workers_idle_pct:.3f} % of one core)")
        return {"boundary_added_ms": added_ms, "plugin_idle_pct": plugin_pct, "worker_idle_pct": workers_idle_pct,
                **boundary}
    finally:
        client.close()
        cluster.close()


def write(figures: dict[str, float], idle_s: float) -> None:
    """The figures as RESULTS.md's ``cluster-cost`` block."""
    load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    text = (
        f"## Measuring a Dask cluster (issue 21)\n\n"
        f"Measured by `benchmarks/cluster_cost.py` on {datetime.date.today().isoformat()} ({os.cpu_count()} cores, "
        f"load average {load} at the end): a LocalCluster of {WORKERS} worker processes (1 thread each) named as "
        f"another host than the kernel, {idle_s:g} s idle periods.\n\n"
        "| measure | figure | target |\n|---|---|---|\n"
        f"| time added per tracked window boundary | {figures['boundary_added_ms']:.2f} ms "
        f"({figures['without_ms']:.3f} ms without the cluster, {figures['with_ms']:.3f} ms with; the record final "
        f"{figures['with_final_ms']:.0f} ms after the cell, in the background) | <= {TARGET_BOUNDARY_MS:g} ms |\n"
        f"| idle CPU of the plugin per worker, default interval | {figures['plugin_idle_pct']:.4f} % of one core "
        f"(an idle Dask worker process itself: {figures['worker_idle_pct']:.2f} %) | < {TARGET_IDLE_PCT:g} % |"
    )
    path = REPO / "benchmarks" / "RESULTS.md"
    path.write_text(put_block(path.read_text(), "cluster-cost", text))
    print(f"  written: {path.relative_to(REPO)} (block cluster-cost)")


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if a != "--write"]
    idle = float(arguments[0]) if arguments else 60.0
    measured = main(idle)
    if "--write" in sys.argv[1:]:
        write(measured, idle)
