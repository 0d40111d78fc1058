"""Deltas per output: what a run added since this output last reported it.

The tracker's ``delta`` argument is "since the last out()" (CodeCarbon's contract for
handlers). Outputs that report on live ticks too (Prometheus, Logfire) need "since I last
reported", or a counter fed on every tick would count the same energy twice.
"""

from __future__ import annotations

from collections import OrderedDict

from ..core.record import EmissionsData, delta

KEEP_RUNS = 256


class RunDeltas:
    """Per run, the total an output last reported (the most recent ``KEEP_RUNS`` runs)."""

    def __init__(self, keep_runs: int = KEEP_RUNS):
        self.keep_runs = keep_runs
        self._last: OrderedDict[str, EmissionsData] = OrderedDict()

    def reported(self, run_id: str) -> bool:
        """True if a part of run ``run_id`` was reported (among the latest ``keep_runs`` runs)."""
        return run_id in self._last

    def since_last(self, total: EmissionsData) -> EmissionsData | None:
        """The part of ``total`` not reported yet, now counted as reported; None if ``total``
        is not newer than what was reported for its run (a late or repeated call)."""
        last = self._last.get(total.run_id)
        if last is not None and total.duration <= last.duration:
            return None
        self._last[total.run_id] = total
        self._last.move_to_end(total.run_id)
        while len(self._last) > self.keep_runs:
            self._last.popitem(last=False)
        return delta(total, last)
