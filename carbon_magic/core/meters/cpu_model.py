"""CPU power from CodeCarbon's TDP curve, for ``force_cpu_power`` (the machine model,
``curve.py``, is the default without counters).

Power = TDP x (0.1 + 0.9 x load^3) with load the machine's CPU utilisation over each
interval (CodeCarbon's ``cpu_load`` mode), integrated at every sample and cell boundary.
If the load cannot be measured, power = TDP x 0.5 (CodeCarbon's constant mode).
"""

from __future__ import annotations

import math

from ..load import LoadSample
from .base import Meter

IDLE_FRACTION = 0.1
CONSTANT_FRACTION = 0.5


def load_power_w(tdp_w: float, load: float) -> float:
    """CodeCarbon's cpu_load curve: 10 % of TDP at idle, TDP at full load, cubic between."""
    return tdp_w * (IDLE_FRACTION + (1 - IDLE_FRACTION) * load**3)


class CpuModelMeter(Meter):
    """Integrates CodeCarbon's TDP x load curve of a forced TDP over each interval between reads."""

    component = "cpu"
    exact = False
    replayable = True

    def __init__(self, force_cpu_power_w: float, reason_no_counter: str):
        self.tdp_w = force_cpu_power_w
        self._total_j = 0.0
        self._power_w = self.tdp_w * IDLE_FRACTION
        self.method = f"TDP model x CPU load: force_cpu_power = {force_cpu_power_w:g} W; {reason_no_counter}"

    def read(self, now: float, load: LoadSample) -> float:
        if math.isnan(load.cpu_load):
            power = self.tdp_w * CONSTANT_FRACTION
        else:
            power = load_power_w(self.tdp_w, load.cpu_load)
        self._total_j += power * load.dt_s
        self._power_w = power
        return self._total_j

    def power_w(self) -> float:
        return self._power_w
