"""The session views with 100,000 records: ``%carbon panel`` and ``%carbon report``.

An IPython InteractiveShell with carbon_magic loaded (offline, a temporary folder). Its
session gets RECORDS records that all share one label (the worst case for the bars' unique
labels), made from one real tracked statement's record and told to the session's listeners
as ``Session.close`` tells them (tracking 100,000 real statements would measure the tracker,
not the views). Measured in the same run:

1. ``%carbon panel`` and ``%carbon report`` with BASELINE records,
   then with RECORDS records. Target: each under 1 s with RECORDS.
2. The cost of one new record while the panel is shown (listener calls and the panel lane's
   replacement of the display, drained; median), at BASELINE and at RECORDS records. Target: the same
   (O(1)): at most 2x.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import sys
import tempfile
import time

from common import OFFLINE_ENV, row

BASELINE = 1_000
RECORDS = 100_000
NEW_RECORDS = 200
VIEW_TARGET_S = 1.0
PER_RECORD_RATIO = 2.0


def shell_with_extension():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    os.environ.update(OFFLINE_ENV)
    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    shell.display_pub.publish = lambda *args, **kwargs: None  # measure building, not printing
    shell.run_line_magic("load_ext", "carbon_magic")
    return shell


class Feeder:
    """Adds records that share one label to a session, as ``Session.close`` does."""

    def __init__(self, shell):
        from carbon_magic.ipython.extension import get_session

        self.session = get_session(shell)
        shell.run_line_magic("carbon", "--name step --quiet _x = 1")
        self.template = self.session.records[-1]
        self.count = 0

    def add(self, n: int) -> None:
        for _ in range(n):
            self.count += 1
            record = dataclasses.replace(self.template, run_id=f"run-{self.count}")
            self.session.records.append(record)
            self.session._tell("cell_finished", record, None)
            self.session._tell("cell_finalized", record, None)


def timed_s(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def views(shell) -> dict[str, float]:
    import pandas  # noqa: F401  (imported once, as after a first %carbon report: not the views' cost)

    magic = shell.run_line_magic
    return {"%carbon report": timed_s(lambda: magic("carbon", "report")),
            "%carbon panel": timed_s(lambda: magic("carbon", "panel"))}


def per_record_s(feeder: Feeder) -> float:
    """Median seconds per new record with the panel shown (the panel lane drained: the
    display replaced for each record, its largest part)."""
    from carbon_magic.ipython.panel.themed import LANE
    from carbon_magic.runtime import current_runtime

    samples = []
    for _ in range(NEW_RECORDS):
        started = time.perf_counter()
        feeder.add(1)
        current_runtime().lanes.lane(LANE).drain(10.0)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> int:
    os.chdir(tempfile.mkdtemp(prefix="carbon_magic-session-views-"))
    shell = shell_with_extension()
    feeder = Feeder(shell)
    feeder.add(BASELINE - 1)
    small = views(shell)
    small_update_s = per_record_s(feeder)
    feeder.add(RECORDS - feeder.count - NEW_RECORDS)
    large = views(shell)
    large_update_s = per_record_s(feeder)

    print(f"Session views: {BASELINE:,} then {RECORDS:,} records sharing one label")
    ok = True
    for name, seconds in large.items():
        met = seconds < VIEW_TARGET_S
        ok &= met
        row(f"{name}, {RECORDS:,} records ({BASELINE:,}: {small[name] * 1e3:.0f} ms)", f"{seconds * 1e3:.0f} ms",
            f"< {VIEW_TARGET_S:g} s", met)
    ratio = large_update_s / small_update_s
    met = ratio <= PER_RECORD_RATIO
    ok &= met
    row(f"a new record, panel shown ({small_update_s * 1e6:.0f} us at {BASELINE:,})",
        f"{large_update_s * 1e6:.0f} us ({ratio:.2f}x)", f"<= {PER_RECORD_RATIO:g}x", met)
    shell.run_line_magic("unload_ext", "carbon_magic")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
