"""``%carbon on`` across 10,000 cells: per-cell cost must not grow, nor memory.

In a real IPython InteractiveShell: 10,000 trivial cells tracked automatically (each one a
run in emissions.csv and a row in carbon_cells.csv), then the same number untracked as a
baseline for IPython's own growth. Targets: the last 1,000 tracked cells cost no more than
the first 1,000 (+10 %, medians); RSS grows by less than 20 MB over the 10,000 cells.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import statistics
import tempfile
import time

from common import row, rss_mb
from magic_overhead import shell_with_extension

CELLS = 10_000
WINDOW = 1_000


def run_cells(shell, count: int) -> list[float]:
    samples = []
    for index in range(count):
        t0 = time.perf_counter()
        shell.run_cell(f"x = {index}", store_history=True)
        samples.append(time.perf_counter() - t0)
    return samples


def main(cells: int = CELLS) -> dict:
    os.chdir(tempfile.mkdtemp(prefix="carbon_soak_"))
    os.environ["CODECARBON_COUNTRY_ISO_CODE"] = "FRA"
    shell = shell_with_extension()
    from carbon_magic.ipython.extension import get_session
    from carbon_magic.runtime import current_runtime

    worker = current_runtime().lanes.main

    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):
        shell.run_line_magic("carbon", "on --quiet")
        run_cells(shell, 200)  # warm-up
        worker.drain(30)
        gc.collect()
        rss_before = rss_mb()
        tracked = run_cells(shell, cells)
        worker.drain(60)
        gc.collect()
        rss_after = rss_mb()
        shell.run_line_magic("carbon", "off")
        untracked_rss_before = rss_mb()
        untracked = run_cells(shell, cells)
        gc.collect()
        untracked_rss_after = rss_mb()
    records = len(get_session(shell).records)
    first = statistics.median(tracked[:WINDOW]) * 1e6
    last = statistics.median(tracked[-WINDOW:]) * 1e6
    growth = rss_after - rss_before
    print(f"%carbon on across {cells} trivial cells ({records} records kept)")
    row("tracked: median of the first 1,000 cells", f"{first:.0f} us", "-", True)
    row("tracked: median of the last 1,000 cells", f"{last:.0f} us", "<= first +10%", last <= first * 1.10)
    row("untracked (same shell, after): median per cell", f"{statistics.median(untracked) * 1e6:.0f} us", "-", True)
    row(f"RSS growth over {cells} tracked cells", f"{growth:.1f} MB", "< 20 MB", growth < 20)
    row(f"RSS growth over {cells} untracked cells (IPython's own)",
        f"{untracked_rss_after - untracked_rss_before:.1f} MB", "-", True)
    with open("carbon_cells.csv", encoding="utf-8") as handle:
        rows = sum(1 for _ in handle) - 1
    row("rows in carbon_cells.csv (tracked cells + warm-up)", str(rows), str(cells + 200), rows == cells + 200)
    return {"first_us": first, "last_us": last, "rss_growth_mb": growth}


if __name__ == "__main__":
    main()
