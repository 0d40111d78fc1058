"""Per-cell cost of ``%%carbon`` on a trivial cell vs the same cell untracked, same run.

Runs in a real IPython InteractiveShell with the extension loaded, cells interleaved
(untracked, tracked, tracked --quiet) so that all three see the same conditions.
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
    forms = {"untracked": CELL, "%%carbon": f"%%carbon\n{CELL}", "%%carbon --quiet": f"%%carbon --quiet\n{CELL}"}
    samples: dict[str, list[float]] = {name: [] for name in forms}
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):
        for _ in range(50):  # warm-up: caches, first tracker, output worker
            for code in forms.values():
                run_timed(shell, code)
        for index in range(cells):
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
    return result


if __name__ == "__main__":
    main()
