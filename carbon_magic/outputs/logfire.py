"""Logfire (optional extra ``carbon_magic[logfire]``): CodeCarbon's Logfire metrics, plus water.

At every flush(), stop() and live tick, with what the run added since the previous report:

- counters (added up): codecarbon_duration (s), codecarbon_emissions (kg CO2eq),
  codecarbon_energy_consumed (kWh) and codecarbon_water_consumed (L), which CodeCarbon omits;
- gauges (last value): codecarbon_emissions_rate (kg/s), codecarbon_cpu_power /
  _gpu_power / _ram_power (W), codecarbon_cpu_energy / _gpu_energy / _ram_energy (kWh), and
  codecarbon_platform_power (W) / codecarbon_platform_energy (kWh), the modelled rest of the
  machine (board, fans, disks, power supply losses), which CodeCarbon has no component for:
  ``energy_consumed = cpu + gpu + ram + platform energy`` (platform 0 with ``count_platform=False``).

Logfire is configured only when nothing configured it before (a user's own
``logfire.configure()`` wins), with ``send_to_logfire="if-token-present"``: without a
``LOGFIRE_TOKEN`` nothing is sent and nothing raises (a plain ``configure()`` would).
``logfire`` is imported at the first report, on the ``ext`` lane.
"""

from __future__ import annotations

from typing import Callable

from ..core.record import EmissionsData
from .base import BaseOutput
from .deltas import RunDeltas

# record field -> (metric name, unit, description)
COUNTERS = {
    "duration": ("codecarbon_duration", "s", "Duration since the previous report"),
    "emissions": ("codecarbon_emissions", "kg", "Emissions as CO2-equivalents"),
    "energy_consumed": ("codecarbon_energy_consumed", "kWh", "CPU + GPU + RAM + platform energy"),
    "water_consumed": ("codecarbon_water_consumed", "L", "Water consumed"),
}
GAUGES = {
    "emissions_rate": ("codecarbon_emissions_rate", "kg/s", "Emissions per second"),
    "cpu_power": ("codecarbon_cpu_power", "W", "Average CPU power"),
    "gpu_power": ("codecarbon_gpu_power", "W", "Average GPU power"),
    "ram_power": ("codecarbon_ram_power", "W", "Average RAM power"),
    "cpu_energy": ("codecarbon_cpu_energy", "kWh", "CPU energy since the previous report"),
    "gpu_energy": ("codecarbon_gpu_energy", "kWh", "GPU energy since the previous report"),
    "ram_energy": ("codecarbon_ram_energy", "kWh", "RAM energy since the previous report"),
    "platform_power": ("codecarbon_platform_power", "W", "Average platform power (board, fans, disks, power supply; modelled)"),
    "platform_energy": ("codecarbon_platform_energy", "kWh", "Platform energy since the previous report"),
}


def logfire_installed() -> bool:
    """True if the ``logfire`` package can be imported (without importing it)."""
    import importlib.util

    return importlib.util.find_spec("logfire") is not None


class _Instruments:
    """The process's Logfire instruments, created once (configuring Logfire if needed)."""

    def __init__(self, run_exit_flush_first: Callable[[], None]) -> None:
        import logfire

        if not getattr(logfire.DEFAULT_LOGFIRE_INSTANCE.config, "_initialized", False):
            logfire.configure(send_to_logfire="if-token-present")
        run_exit_flush_first()  # our last reports before Logfire's own shutdown at exit
        self.counters = {field: logfire.metric_counter(name, unit=unit, description=text)
                         for field, (name, unit, text) in COUNTERS.items()}
        self.gauges = {field: logfire.metric_gauge(name, unit=unit, description=text)
                       for field, (name, unit, text) in GAUGES.items()}


class LogfireOutput(BaseOutput):
    """Reports CodeCarbon's Logfire metrics (see the module doc)."""

    def __init__(self) -> None:
        self._deltas = RunDeltas()

    def __repr__(self) -> str:
        return "LogfireOutput()"

    def out(self, total: EmissionsData, delta: EmissionsData) -> None:
        part = self._deltas.since_last(total)
        if part is None:
            return
        services = self.services
        metrics = services.shared("logfire instruments", lambda: _Instruments(services.run_exit_flush_first))
        for field, counter in metrics.counters.items():
            counter.add(getattr(part, field))
        for field, gauge in metrics.gauges.items():
            gauge.set(getattr(part, field))

    def live_out(self, total: EmissionsData, delta: EmissionsData) -> None:
        self.out(total, delta)
