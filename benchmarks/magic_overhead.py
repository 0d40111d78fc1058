"""Per-cell cost of ``%%carbon`` on a trivial cell vs the same cell untracked, same run.

Runs in a real IPython InteractiveShell with the extension loaded, cells interleaved so
that every form sees the same conditions. Cells come back to back, so the output worker's
CSV writes (on another thread, sharing the GIL) land in the time of the following cells:
they are counted. For context, two more forms: a cell magic that only executes its body
(IPython's own cost of any ``%%magic``) and ``%%carbon`` with no CSV output, and the core's
Tracker start+stop pair measured alone.
Targets: ``%%carbon --quiet`` adds <= 0.25 ms (issue 17), with the printed summary <= 0.5 ms;
the CPU time added is held to the same targets (it is less sensitive to a loaded machine).

Also, less sensitive to a loaded machine: the CPU time of the process (all threads: the
output lanes' writes included) per cell, over blocks of cells of one form, the blocks of
every form interleaved; the median over blocks of each form's CPU per cell minus the
untracked form's, with the quartiles of that difference.
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


def run_timed(shell, code: str) -> float:
    t0 = time.perf_counter()
    shell.run_cell(code, store_history=True)
    return time.perf_counter() - t0


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
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):
        for _ in range(50):  # warm-up: caches, first tracker, output worker
            for code in forms.values():
                run_timed(shell, code)
        for _ in range(cells):
            sink.seek(0)
            sink.truncate()
            for name, code in forms.items():
                samples[name].append(run_timed(shell, code))
    medians = {name: statistics.median(values) * 1e6 for name, values in samples.items()}
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
    with contextlib.redirect_stdout(sink):
        cpu_us = cpu_per_cell_us(shell, forms)
    print("  process CPU time per cell (all threads), blocks of cells interleaved; added to untracked:")
    for name, added_us in cpu_us.items():
        low, median, high = statistics.quantiles(added_us, n=4)
        target_us = TARGET_US.get(name)
        row(f"  {name}: CPU added per cell (blocks {low:.0f}..{high:.0f})", f"{median:.0f} us",
            "-" if target_us is None else f"<= {target_us:.0f} us", target_us is None or median <= target_us)
        result[f"{name} cpu"] = median
    return result


def cpu_per_cell_us(shell, forms: dict[str, str], cells: int = 25, blocks: int = 60) -> dict[str, list[float]]:
    """Per tracked form, each block's process CPU time per cell minus the untracked block's
    of the same round (the rounds rotate the order of the forms)."""
    import gc

    names = list(forms)
    per_block: dict[str, list[float]] = {name: [] for name in names}
    for index in range(blocks):
        for name in names[index % len(names):] + names[:index % len(names)]:
            gc.collect()
            cpu0 = time.process_time()
            for _ in range(cells):
                shell.run_cell(forms[name], store_history=True)
            per_block[name].append((time.process_time() - cpu0) / cells * 1e6)
    base = per_block["untracked"]
    return {name: [value - b for value, b in zip(values, base)] for name, values in per_block.items() if name != "untracked"}


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
