"""RAM power: CodeCarbon v3's DIMM model, or ``force_ram_power``.

DIMMs are estimated from the total memory: <= 2 GB: 1, <= 16 GB: 2, <= 64 GB: 4,
<= 128 GB: 8, above that one 32 GB DIMM per 32 GB (at least 8). Each DIMM draws 5 W on x86
(at least 10 W in all) or 1.5 W on ARM (at least 3 W). In process mode the energy is
shared by the process tree's resident memory / total memory.
"""

from __future__ import annotations

import math

from ..load import LoadSample
from ..machine import MachineFacts
from .base import Meter

X86_W_PER_DIMM, X86_MIN_W = 5.0, 10.0
ARM_W_PER_DIMM, ARM_MIN_W = 1.5, 3.0


def estimate_dimm_count(total_gb: float) -> int:
    for limit_gb, dimms in ((2, 1), (16, 2), (64, 4), (128, 8)):
        if total_gb <= limit_gb:
            return dimms
    return max(8, math.ceil(total_gb / 32))


def ram_power_w(facts: MachineFacts) -> tuple[float, str]:
    """Modelled RAM power and how it was obtained."""
    dimms = estimate_dimm_count(facts.ram_total_gb)
    per_dimm, minimum = (ARM_W_PER_DIMM, ARM_MIN_W) if facts.is_arm else (X86_W_PER_DIMM, X86_MIN_W)
    power = max(dimms * per_dimm, minimum)
    arch = "ARM" if facts.is_arm else "x86"
    return power, (
        f"DIMM model: {facts.ram_total_gb:.1f} GB ~ {dimms} DIMM x {per_dimm:g} W ({arch}, "
        f"min {minimum:g} W) = {power:g} W"
    )


class RamMeter(Meter):
    """Constant RAM power integrated over time."""

    component = "ram"
    exact = False

    def __init__(self, power: float, method: str):
        self._power_w = power
        self.method = method
        self._total_j = 0.0

    @classmethod
    def for_machine(cls, facts: MachineFacts, force_ram_power_w: float | None) -> "RamMeter":
        if force_ram_power_w is not None:
            return cls(force_ram_power_w, f"force_ram_power = {force_ram_power_w:g} W")
        return cls(*ram_power_w(facts))

    def read(self, now: float, load: LoadSample) -> float:
        self._total_j += self._power_w * load.dt_s
        return self._total_j

    def power_w(self) -> float:
        return self._power_w

    def process_fraction(self, load: LoadSample) -> float:
        return load.rss_share
