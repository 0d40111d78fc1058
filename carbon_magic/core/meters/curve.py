"""Modelled power of one component (``cpu``, ``ram`` or ``platform``) from a machine's PowerCurve.

The curve (``core.power_model.machine_power_model`` or ``core.guest_power.guest_power_model``)
is built once per machine in discovery; a read is a bisect and a multiplication: power at the
machine CPU load of the interval (CodeCarbon's constant mode, load 0.5, when the load is
unknown), integrated over the interval.
"""

from __future__ import annotations

import bisect
import math

from ..load import LoadSample
from ..power_model import COMPONENTS, PowerCurve
from .base import Meter

UNKNOWN_LOAD = 0.5


class CurveMeter(Meter):
    """Integrates one component of a PowerCurve over each interval between reads."""

    exact = False
    replayable = True

    def __init__(self, component: str, curve: PowerCurve, method: str, band: tuple[float, float] | None):
        self.component = component
        self.method = method
        self.band = band
        index = COMPONENTS.index(component)
        loads = curve.load_levels
        watts = tuple(level[index] for level in curve.levels_w)
        self._loads = loads
        # Per segment, from load level i - 1 to i (i >= 1, at index i - 1): (x0, w0, w1 - w0, x1 - x0);
        # the same arithmetic as interpolating from the two levels, with less of it at each read.
        self._segments = tuple((loads[i - 1], watts[i - 1], watts[i] - watts[i - 1], loads[i] - loads[i - 1])
                               for i in range(1, len(loads)))
        self._last_level = len(loads) - 1
        self._total_j = 0.0
        self._power_w = watts[0]

    def _at(self, load: float) -> float:
        if not 0.0 <= load <= 1.0:  # NaN too
            load = UNKNOWN_LOAD if math.isnan(load) else min(max(load, 0.0), 1.0)
        x0, w0, dw, dx = self._segments[bisect.bisect_left(self._loads, load, 1, self._last_level) - 1]
        return w0 + dw * (load - x0) / dx

    def read(self, now: float, load: LoadSample) -> float:
        self._power_w = self._at(load.cpu_load)
        self._total_j += self._power_w * load.dt_s
        return self._total_j

    def power_w(self) -> float:
        return self._power_w


class RamCurveMeter(CurveMeter):
    """The RAM component: in process mode shared by the tree's resident memory / total memory."""

    def process_fraction(self, load: LoadSample) -> float:
        return load.rss_share
