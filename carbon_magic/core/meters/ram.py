"""RAM power forced by ``force_ram_power`` (CodeCarbon's meaning: a constant; the machine
model, ``curve.py``, is the default without counters). In process mode the energy is shared
by the process tree's resident memory / total memory.
"""

from __future__ import annotations

from ..load import LoadSample
from .base import Meter


class RamMeter(Meter):
    """Constant RAM power integrated over time."""

    component = "ram"
    exact = False
    replayable = True

    def __init__(self, force_ram_power_w: float):
        self._power_w = force_ram_power_w
        self.method = f"force_ram_power = {force_ram_power_w:g} W"
        self._total_j = 0.0

    def read(self, now: float, load: LoadSample) -> float:
        self._total_j += self._power_w * load.dt_s
        return self._total_j

    def power_w(self) -> float:
        return self._power_w

    def process_fraction(self, load: LoadSample) -> float:
        return load.rss_share
