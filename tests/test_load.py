"""Machine load at cell boundaries: /proc/stat is read at most once per clock tick."""

from __future__ import annotations

import time

from carbon_magic.core import load


class CountingStat:
    def __init__(self, inner):
        self.inner, self.reads = inner, 0

    def snapshot(self):
        self.reads += 1
        return self.inner.snapshot()

    def parse(self, snapshot):
        return self.inner.parse(snapshot)


def test_boundaries_within_one_tick_reuse_the_last_read():
    probe = load.LoadProbe(total_ram_bytes=8 * 2**30)
    probe._stat = counting = CountingStat(probe._stat)
    start = time.monotonic() + 1.0
    probe.sample(start, full=False)
    within = probe.sample(start + load._TICK_S / 4, full=False)
    assert counting.reads == 1
    assert 0.0 <= within.cpu_load <= 1.0  # estimated from this process's own CPU time
    probe.sample(start + load._TICK_S * 1.5, full=False)
    assert counting.reads == 2
