"""Per-cell cost of the record and rows part of a tracked cell, piece by piece (issue 17).

What a ``%%carbon`` cell does after its window closes: the tracker's record
(``Tracker.record``: ``build_record`` and its RunInfo), the kernel's ``CellRecord``, the
``emissions.csv`` row and the ``carbon_cells.csv`` row (encoded, not written) and the running
totals. Each piece is timed alone, in batches, on a real tracker of this machine; the figure
is the 10th percentile of the batches' time per call (the machine is shared: a low
percentile is what the code costs, the median is what the neighbours cost).
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

from common import row

BATCH = 200
BATCHES = 300


def p10_us(call: Callable[[], Any], batch: int = BATCH, batches: int = BATCHES) -> float:
    """The 10th percentile over ``batches`` of ``call``'s time per call (µs)."""
    per_call = []
    for _ in range(batches):
        t0 = time.perf_counter()
        for _ in range(batch):
            call()
        per_call.append((time.perf_counter() - t0) / batch * 1e6)
    per_call.sort()
    return per_call[len(per_call) // 10]


def pieces() -> dict[str, Callable[[], Any]]:
    """Each piece of the record and rows path as a call, on a tracker of this machine."""
    from carbon_magic.core.config import resolve_config
    from carbon_magic.core.tracker import Tracker
    from carbon_magic.ipython.records import CellInfo, CellRecord, TrackedWindow
    from carbon_magic.ipython.totals import RunningTotals, Share
    from carbon_magic.outputs.cells_file import cells_row
    from carbon_magic.outputs.csv_file import codecarbon_fields, encode_rows
    from carbon_magic.runtime import current_runtime

    runtime = current_runtime()
    tracker = Tracker(resolve_config({"save_to_file": False}), samplers=runtime.samplers, location=runtime.location)
    tracker.start()
    start = tracker.start_reading
    assert start is not None
    window = tracker.window(start, tracker.sampler.read())
    tracker.stop(wait=False)
    two = [tracker.record(window, "run-a"), tracker.record(window, "run-b")]  # new values each: memo misses
    cell = CellInfo(7, "cell-id", "x = 1")
    tracked = TrackedWindow("cell", "[7]", cell, tracker, time.time(), True, False, None)
    record = CellRecord.finished(tracked, "ok", two[0], "x = 1", two[0].intensity_source)
    fields = record.cell_fields()
    totals = RunningTotals()
    turn = [0]

    def both_rows() -> bytes:
        turn[0] ^= 1
        data = two[turn[0]]
        return encode_rows([[codecarbon_fields(data)]]) + encode_rows([cells_row(fields, data)])

    return {
        "Tracker.record (build_record included)": lambda: tracker.record(window, "run-a"),
        "CellRecord.finished": lambda: CellRecord.finished(tracked, "ok", two[0], "x = 1", "source"),
        "emissions.csv + carbon_cells.csv rows (encoded)": both_rows,
        "Share.of": lambda: Share.of(record),
        "RunningTotals.cell_finished": lambda: totals.cell_finished(record),
    }


def main() -> dict[str, float]:
    os.environ.setdefault("CODECARBON_COUNTRY_ISO_CODE", "FRA")
    result = {}
    print(f"record and rows of a tracked cell, p10 of {BATCHES} batches of {BATCH} calls")
    for name, call in pieces().items():
        for _ in range(2000):  # warm-up
            call()
        result[name] = p10_us(call)
        row(name, f"{result[name]:.1f} us", "-", True)
    return result


if __name__ == "__main__":
    main()
