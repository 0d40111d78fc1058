"""One measurement of one tool, in this (fresh) process; the runner collects the JSON it writes.

    python probe.py MEASUREMENT TOOL PARAMS_JSON OUT_JSON

MEASUREMENT is one of ``cells``, ``idle``, ``memory``, ``accuracy``, ``arithmetic``;
TOOL is ``carbon_magic`` or ``codecarbon`` (see tools.py). The runner starts this script
with the tool's own interpreter (this repository's .venv, or CodeCarbon's venv), in an empty
working folder with its own HOME, so that nothing but the tool differs between the two.
Needs only the standard library, IPython and the tool.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import statistics
import sys
import threading
import time
from typing import Any

from tools import CELL_BODY, TOOLS


class Discard(io.TextIOBase):
    """A stdout that keeps nothing: what the cells print costs the write call, not memory."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def new_shell(tool: Any) -> Any:
    """A real IPython InteractiveShell, history database off (both tools alike)."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    tool.configure_shell(config)
    return InteractiveShell.instance(config=config)


def run_timed(shell: Any, code: str) -> float:
    t0 = time.perf_counter()
    result = shell.run_cell(code, store_history=True)
    elapsed = time.perf_counter() - t0
    if not result.success:
        raise RuntimeError(f"cell failed: {code!r}: {result.error_in_exec or result.error_before_exec}")
    return elapsed


def load(tool: Any) -> tuple[Any, dict[str, float]]:
    """A shell (not timed: both tools need it) with the tool imported and loaded (timed)."""
    shell = new_shell(tool)
    with contextlib.redirect_stdout(Discard()):
        t0 = time.perf_counter()
        tool.import_module()
        t1 = time.perf_counter()
        tool.set_up(shell)
        t2 = time.perf_counter()
    return shell, {"import_ms": (t1 - t0) * 1e3, "load_ms": (t2 - t0) * 1e3}


def cells(tool: Any, warm_cells: int, baseline_cells: int = 30, warmup_pairs: int = 20) -> dict[str, Any]:
    """Load time, the first tracked cell, then tracked cells interleaved with untracked ones.

    The first tracked cell comes right after loading (the worst case for work a tool does
    in the background after loading); it is compared with the median untracked cell before it.
    Warm cells are interleaved with untracked ones so both see the same conditions; work a
    tool defers to another thread (carbon_magic's CSV writes) lands in the following cells
    and is counted.
    """
    shell, result = load(tool)
    with contextlib.redirect_stdout(Discard()):
        before = [run_timed(shell, CELL_BODY) for _ in range(baseline_cells)]
        first = run_timed(shell, tool.first_cell)
        for _ in range(warmup_pairs):
            run_timed(shell, CELL_BODY)
            run_timed(shell, tool.warm_cell)
        untracked, tracked = [], []
        for _ in range(warm_cells):
            untracked.append(run_timed(shell, CELL_BODY))
            tracked.append(run_timed(shell, tool.warm_cell))
        tool.drain()
    base = statistics.median(before)
    result.update(
        first_cell_ms=first * 1e3,
        first_added_ms=(first - base) * 1e3,
        untracked_us=statistics.median(untracked) * 1e6,
        warm_cell_us=statistics.median(tracked) * 1e6,
        warm_added_us=(statistics.median(tracked) - statistics.median(untracked)) * 1e6,
        warm_cells=warm_cells,
    )
    result["script"] = script_runs(tool, 50)
    return result


def script_runs(tool: Any, count: int) -> dict[str, float]:
    """Median milliseconds of a new tracker's construction, start() and stop() with the
    tool's default outputs (CSV on), as a script would use it, after the first."""
    parts: dict[str, list[float]] = {"construct_ms": [], "start_ms": [], "stop_ms": []}
    for _ in range(count):
        t0 = time.perf_counter()
        tracker = tool.tracker()
        t1 = time.perf_counter()
        tracker.start()
        t2 = time.perf_counter()
        tracker.stop()
        t3 = time.perf_counter()
        for name, seconds in zip(parts, (t1 - t0, t2 - t1, t3 - t2)):
            parts[name].append(seconds * 1e3)
    return {name: statistics.median(values) for name, values in parts.items()}


def idle(tool: Any, interval_s: float | None, seconds: float, settle_s: float = 2.0) -> dict[str, Any]:
    """CPU seconds / wall seconds of this process while it sleeps, a started tracker or not.

    ``interval_s`` None: the tool imported, no tracker (the baseline). Process CPU time
    (all threads, nanosecond clock) over wall time.
    """
    tool.import_module()
    tracker = None
    if interval_s is not None:
        tracker = tool.tracker(measure_power_secs=interval_s)
        tracker.start()
    time.sleep(settle_s)
    cpu0, wall0 = time.process_time(), time.monotonic()
    time.sleep(seconds)
    cpu1, wall1 = time.process_time(), time.monotonic()
    if tracker is not None:
        tracker.stop()
    return {"cpu_s": cpu1 - cpu0, "wall_s": wall1 - wall0, "threads": threading.active_count()}


def memory(tool: Any, count: int, warmup: int = 200) -> dict[str, Any]:
    """RSS growth over ``count`` tracked cells (after ``warmup``), then over as many untracked
    cells in the same shell (IPython's own growth, for reference)."""
    shell, _ = load(tool)
    with contextlib.redirect_stdout(Discard()):
        run_timed(shell, tool.first_cell)
        for _ in range(warmup):
            run_timed(shell, tool.warm_cell)
        tool.drain()
        gc.collect()
        rss_before = rss_mb()
        t0 = time.perf_counter()
        for _ in range(count):
            shell.run_cell(tool.warm_cell, store_history=True)
        tool.drain()
        seconds = time.perf_counter() - t0
        gc.collect()
        rss_tracked = rss_mb()
        for _ in range(count):
            shell.run_cell(CELL_BODY, store_history=True)
        gc.collect()
        rss_untracked = rss_mb()
    return {
        "cells": count, "rss_before_mb": rss_before, "growth_mb": rss_tracked - rss_before,
        "untracked_growth_mb": rss_untracked - rss_tracked, "seconds": seconds,
    }


def accuracy(tool: Any, tree: str, plan: list[list[float]]) -> dict[str, Any]:
    """Windows of known length on a fake RAPL tree: CPU joules measured and the instants
    around ``start()`` and ``stop()``; the runner knows the true power profile."""
    options = {**tool.use_rapl_tree(tree), "save_to_file": False}
    warm = tool.tracker(**options)  # first-start costs (hardware discovery) out of the way
    warm.start()
    time.sleep(0.05)
    warm.stop()
    method = tool.cpu_method(warm)
    windows = []
    for window_s, repeats in plan:
        for _ in range(int(repeats)):
            tracker = tool.tracker(**options)
            t_before = time.monotonic()
            tracker.start()
            t_start = time.monotonic()
            time.sleep(window_s)
            t_stop = time.monotonic()
            tracker.stop()
            t_after = time.monotonic()
            windows.append({
                "window_s": window_s, "t_before": t_before, "t_start": t_start, "t_stop": t_stop,
                "t_after": t_after, "energy_j": tool.cpu_energy_j(tracker),
            })
    return {"cpu_method": method, "windows": windows}


def arithmetic(tool: Any, cases: list[dict[str, Any]], energy_kwh: float, pue: float, wue: float) -> dict[str, Any]:
    return {"cases": [tool.arithmetic(case["params"], energy_kwh, pue, wue) | {"label": case["label"]} for case in cases]}


MEASUREMENTS = {"cells": cells, "idle": idle, "memory": memory, "accuracy": accuracy, "arithmetic": arithmetic}


def main(argv: list[str]) -> None:
    measurement, tool_name, params_json, out_path = argv
    tool = TOOLS[tool_name]()
    result = MEASUREMENTS[measurement](tool, **json.loads(params_json))
    result["tool_version"] = tool.version()
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main(sys.argv[1:])
