"""CPU power from a TDP model, for machines without readable RAPL counters.

Power = TDP x (0.1 + 0.9 x load^3) with load the machine's CPU utilisation over each
interval (CodeCarbon's ``cpu_load`` mode), integrated at every sample and cell boundary.
If the load cannot be measured, power = TDP x 0.5 (CodeCarbon's constant mode).

TDP comes from ``force_cpu_power``, else the packaged CPU table x sockets, else 4 W per
thread for a named but unknown CPU, else 85 W when the model name is unknown too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..load import LoadSample
from ..machine import MachineFacts
from .base import Meter

IDLE_FRACTION = 0.1
CONSTANT_FRACTION = 0.5
UNKNOWN_CPU_W_PER_THREAD = 4.0
NO_MODEL_TDP_W = 85.0


@dataclass(frozen=True)
class TdpChoice:
    tdp_w: float
    reason: str


def choose_tdp(facts: MachineFacts, force_cpu_power_w: float | None) -> TdpChoice:
    """The CPU's total TDP in watts and, in words, where it came from."""
    if force_cpu_power_w is not None:
        return TdpChoice(force_cpu_power_w, f"force_cpu_power = {force_cpu_power_w:g} W")
    if not facts.cpu_model:
        return TdpChoice(NO_MODEL_TDP_W, f"CPU model unknown: {NO_MODEL_TDP_W:g} W assumed")
    from ..cpu_catalog import lookup_tdp

    match = lookup_tdp(facts.cpu_model)
    if match is None:
        tdp_w = UNKNOWN_CPU_W_PER_THREAD * facts.cpu_count
        return TdpChoice(
            tdp_w,
            f"'{facts.cpu_model}' not in the CPU table: {UNKNOWN_CPU_W_PER_THREAD:g} W x "
            f"{facts.cpu_count} threads = {tdp_w:g} W",
        )
    sockets = facts.cpu_sockets
    tdp_w = match.tdp_w * sockets
    how = "" if match.exact else f" (closest table entry to '{facts.cpu_model}')"
    per_socket = f" x {sockets} sockets" if sockets > 1 else ""
    return TdpChoice(tdp_w, f"{match.name}{how}, TDP {match.tdp_w:g} W{per_socket}")


def load_power_w(tdp_w: float, load: float) -> float:
    """CodeCarbon's cpu_load curve: 10 % of TDP at idle, TDP at full load, cubic between."""
    return tdp_w * (IDLE_FRACTION + (1 - IDLE_FRACTION) * load**3)


class CpuModelMeter(Meter):
    """Integrates modelled CPU power over each interval between reads."""

    component = "cpu"
    exact = False

    def __init__(self, choice: TdpChoice, reason_no_counter: str):
        self.tdp_w = choice.tdp_w
        self._total_j = 0.0
        self._power_w = self.tdp_w * IDLE_FRACTION
        self.method = f"TDP model x CPU load: {choice.reason}; {reason_no_counter}"

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
