"""Per-cell cost of ``%%carbon`` on a trivial cell vs the same cell untracked, same run.

Runs in a real IPython InteractiveShell with the extension loaded, cells interleaved so
that every form sees the same conditions. Cells come back to back, so the output worker's
CSV writes (on another thread, sharing the GIL) land in the time of the following cells:
they are counted. For context, two more forms: a cell magic that only executes its body
(IPython's own cost of any ``%%magic``) and ``%%carbon`` with no CSV output, and the core's
Tracker start+stop pair measured alone.
Target: median added time <= 0.5 ms (with or without the printed summary).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import time

from common import row

CELL = "x = 1"


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
    import statistics

    medians = {name: statistics.median(values) * 1e6 for name, values in samples.items()}
    base = medians["untracked"]
    print(f"%%carbon on a trivial cell ({CELL!r}), {cells} cells of each form, interleaved")
    row("untracked cell, median", f"{base:.0f} us", "-", True)
    result = {"untracked_us": base}
    for name in ("%%carbon", "%%carbon --quiet"):
        added = medians[name] - base
        row(f"{name}: median added per cell (summary {'off' if 'quiet' in name else 'printed'})",
            f"{added:.0f} us", "<= 500 us", added <= 500)
        result[name] = added
    print("  context:")
    row("  a bare cell magic (IPython's own %%magic cost), added", f"{medians['%%bare'] - base:.0f} us", "-", True)
    row("  %%carbon --quiet without CSV outputs, added",
        f"{medians['%%carbon --quiet --save-to-file false'] - base:.0f} us", "-", True)
    row("  core Tracker start+stop pair alone, median", f"{tracker_pair_us():.0f} us", "-", True)
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
    import statistics

    return statistics.median(samples) * 1e6


if __name__ == "__main__":
    main()
