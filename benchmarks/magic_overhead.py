"""Per-cell cost of ``%%carbon`` on a trivial cell vs the same cell untracked, same run.

Runs in a real IPython InteractiveShell with the extension loaded, cells interleaved so
that every form sees the same conditions. Cells come back to back, so the output worker's
CSV writes (on another thread, sharing the GIL) land in the time of the following cells:
they are counted. For context, two more forms: a cell magic that only executes its body
(IPython's own cost of any ``%%magic``) and ``%%carbon`` with no CSV output, and the core's
Tracker start+stop pair measured alone.
Targets: ``%%carbon --quiet`` adds <= 0.25 ms (issue 17), with the printed summary <= 0.5 ms;
the CPU time added is held to the same targets (it is less sensitive to a loaded machine).

Also, less sensitive to a loaded machine: the CPU time of the kernel's thread per cell
(``thread_time``), measured around the same interleaved cells, median added to the untracked
cell's, plus the CPU that every other thread of the process used over the run (the output
lanes, the sampler) divided among the tracked cells, all of it charged to each. (Blocks of
cells of one form, used before, compared tracked cells with untracked ones run 25 in a row,
which run a quarter faster than between other cells on a warm cache: that charged the warm-up
gap, not tracking.)
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import tempfile
import time

from common import row

CELL = "x = 1"
TARGET_US = {"%%carbon": 500.0, "%%carbon --quiet": 250.0}


def shell_with_extension():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False  # no sqlite writes: we time cells, not history
    shell = InteractiveShell.instance(config=config)
    with contextlib.redirect_stdout(io.StringIO()):
        shell.run_line_magic("load_ext", "carbon_magic")
    return shell


def run_timed(shell, code: str) -> tuple[float, float]:
    """Wall-clock seconds and this thread's CPU seconds of one cell."""
    cpu0 = time.thread_time()
    t0 = time.perf_counter()
    shell.run_cell(code, store_history=True)
    return time.perf_counter() - t0, time.thread_time() - cpu0


def main(cells: int = 3000) -> dict:
    os.chdir(tempfile.mkdtemp(prefix="carbon_bench_"))
    os.environ["CODECARBON_COUNTRY_ISO_CODE"] = "FRA"
    shell = shell_with_extension()
    def bare_cell_magic(line, cell):
        exec(compile(cell, "<bare>", "exec"), shell.user_ns)

    shell.register_magic_function(bare_cell_magic, "cell", "bare")
    forms = {
        "untracked": CELL,
        "%%carbon": f"%%carbon\n{CELL}",
        "%%carbon --quiet": f"%%carbon --quiet\n{CELL}",
        "%%bare": f"%%bare\n{CELL}",
        "%%carbon --quiet --save-to-file false": f"%%carbon --quiet --save-to-file false\n{CELL}",
    }
    samples: dict[str, list[float]] = {name: [] for name in forms}
    cpu_samples: dict[str, list[float]] = {name: [] for name in forms}
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):
        for _ in range(50):  # warm-up: caches, first tracker, output worker
            for code in forms.values():
                run_timed(shell, code)
        process0, thread0 = time.process_time(), time.thread_time()
        for _ in range(cells):
            sink.seek(0)
            sink.truncate()
            for name, code in forms.items():
                wall_s, cpu_s = run_timed(shell, code)
                samples[name].append(wall_s)
                cpu_samples[name].append(cpu_s)
        other_threads_s = (time.process_time() - process0) - (time.thread_time() - thread0)
    medians = {name: statistics.median(values) * 1e6 for name, values in samples.items()}
    cpu_medians = {name: statistics.median(values) * 1e6 for name, values in cpu_samples.items()}
    base = medians["untracked"]
    print(f"%%carbon on a trivial cell ({CELL!r}), {cells} cells of each form, interleaved")
    row("untracked cell, median", f"{base:.0f} us", "-", True)
    result = {"untracked_us": base}
    for name, target_us in TARGET_US.items():
        added = medians[name] - base
        row(f"{name}: median added per cell (summary {'off' if 'quiet' in name else 'printed'})",
            f"{added:.0f} us", f"<= {target_us:.0f} us", added <= target_us)
        result[name] = added
    print("  context:")
    row("  a bare cell magic (IPython's own %%magic cost), added", f"{medians['%%bare'] - base:.0f} us", "-", True)
    row("  %%carbon --quiet without CSV outputs, added",
        f"{medians['%%carbon --quiet --save-to-file false'] - base:.0f} us", "-", True)
    row("  core Tracker start+stop pair alone, median", f"{tracker_pair_us():.0f} us", "-", True)
    tracked_cells = cells * sum(name.startswith("%%carbon") for name in forms)
    other_us = max(other_threads_s, 0.0) / tracked_cells * 1e6
    print("  CPU per cell: the kernel's thread, median added to the untracked cell's, plus the other threads'")
    row("  other threads (output lanes, sampler) over the run, per tracked cell", f"{other_us:.0f} us", "-", True)
    for name in forms:
        if name == "untracked":
            continue
        added = cpu_medians[name] - cpu_medians["untracked"] + (other_us if name.startswith("%%carbon") else 0.0)
        target_us = TARGET_US.get(name)
        row(f"  {name}: CPU added per cell", f"{added:.0f} us",
            "-" if target_us is None else f"<= {target_us:.0f} us", target_us is None or added <= target_us)
        result[f"{name} cpu"] = added
    return result


def tracker_pair_us(pairs: int = 3000) -> float:
    from carbon_magic.core.config import resolve_config
    from carbon_magic.core.tracker import Tracker
    from carbon_magic.runtime import current_runtime

    runtime = current_runtime()
    tracker = Tracker(resolve_config({"save_to_file": False}), samplers=runtime.samplers, location=runtime.location)
    samples = []
    for _ in range(pairs):
        t0 = time.perf_counter()
        tracker.start()
        tracker.stop(wait=False)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1e6


if __name__ == "__main__":
    import sys

    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000)
