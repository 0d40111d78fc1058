"""NVIDIA GPUs through NVML (the ``pynvml`` module of ``nvidia-ml-py``).

Each GPU is one ledger component ``gpu:<index>``. Where the driver has the total energy
counter (Volta and newer) it is used; otherwise power is integrated (never a silent 0).
The counter changes only every 10-100 ms: a read between two changes is the last counter
value plus recent power x elapsed time (provisional), and ``settled_energy_j`` gives the
value interpolated between the two changes that bracket an instant (see CounterTimeline),
final once the later change has been seen.
"""

from __future__ import annotations

import logging
from typing import Any

from ..load import LoadSample
from ..problems import problems
from .base import CounterWentBackwards
from .counter_timeline import CounterTimeline
from .gpu import GpuInfo, GpuMeter

logger = logging.getLogger("carbon_magic")

class NvmlUnavailable(Exception):
    """No NVML, no driver or no GPU; the message says which."""


def load_nvml() -> Any:
    """Import and initialise pynvml, or raise NvmlUnavailable."""
    try:
        import pynvml
    except ImportError:
        raise NvmlUnavailable("pynvml (nvidia-ml-py) is not installed") from None
    try:
        pynvml.nvmlInit()
    except Exception as error:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
        raise NvmlUnavailable(f"NVML did not start ({error})") from None
    return pynvml


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def gpu_infos(nvml: Any) -> list[tuple[GpuInfo, Any]]:
    """Every GPU NVML sees, with its handle."""
    found = []
    for index in range(nvml.nvmlDeviceGetCount()):
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        try:
            nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
            has_counter = True
        except Exception:
            has_counter = False
        try:
            memory_gb = nvml.nvmlDeviceGetMemoryInfo(handle).total / 1e9
        except Exception:
            memory_gb = 0.0
        info = GpuInfo(
            index=index,
            name=_text(nvml.nvmlDeviceGetName(handle)),
            uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
            has_counter=has_counter,
            memory_total_gb=memory_gb,
        )
        found.append((info, handle))
    return found


class NvmlGpuMeter(GpuMeter):
    """One GPU: energy counter with interpolation between changes, or integrated power."""

    def __init__(self, nvml: Any, handle: Any, info: GpuInfo, now: float):
        self._nvml = nvml
        self._handle = handle
        self.info = info
        self.component = info.component
        self.exact = info.has_counter
        self.method = (
            f"NVML energy counter ({info.name})"
            if info.has_counter
            else f"NVML power x time ({info.name}: this GPU has no energy counter)"
        )
        self._power_w = self._read_power_w()
        self._utilisation: float | None = None
        self._holds_context = False
        self._base_mj = self._read_counter_mj() if info.has_counter else 0
        self._integral_j = 0.0
        self._last_now = now
        self._last_returned_j = 0.0
        self.timeline = CounterTimeline(now, 0.0)

    # -- raw NVML reads --------------------------------------------------------------------
    def _read_counter_mj(self) -> int:
        return int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle))

    def _read_power_w(self) -> float:
        return float(self._nvml.nvmlDeviceGetPowerUsage(self._handle)) / 1000.0

    # -- polling ---------------------------------------------------------------------------
    def poll(self, now: float) -> None:
        """Observe the counter (or integrate power) at ``now``: the fast poller calls this."""
        if self.info.has_counter:
            raw_mj = self._read_counter_mj()
            energy_j = (raw_mj - self._base_mj) / 1000.0
            if energy_j < self.timeline.last_value_j:
                energy_j = self._counter_restarted(raw_mj)
            if self.timeline.observe(now, energy_j):
                self._power_w = self.timeline.recent_power_w() or self._power_w
        else:
            power = self._read_power_w()
            self._integral_j += (self._power_w + power) / 2 * max(now - self._last_now, 0.0)
            self._power_w = power
            self.timeline.observe_exact(now, self._integral_j)
        self._last_now = now

    def _counter_restarted(self, raw_mj: int) -> float:
        """The counter read lower than before: NVML's 64-bit counter never wraps, so the driver
        restarted it (a reset or reload). Counting goes on from the new value (the interval
        since the last poll counts 0 J) and the reset is noted. Returns the energy now."""
        last_j = self.timeline.last_value_j
        problems.note(f"{self.component} meter", CounterWentBackwards(
            f"NVML energy counter of GPU {self.info.index} went back to {raw_mj} mJ (driver reset?); "
            "counting goes on from there"))
        self._base_mj = raw_mj - round(last_j * 1000)
        return last_j

    # -- Meter -----------------------------------------------------------------------------
    def read(self, now: float, load: LoadSample) -> float:
        """The counter's value extrapolated to ``now`` with recent power (provisional)."""
        self.poll(now)
        timeline = self.timeline
        estimate = timeline.last_value_j + self._power_w * max(now - timeline.last_change_t, 0.0)
        self._last_returned_j = max(estimate, self._last_returned_j)
        return self._last_returned_j

    def refresh(self, tree_pids: frozenset[int]) -> None:
        """Slow figures, on sampler ticks only: utilisation and whether the tree holds a context."""
        try:
            self._utilisation = self._nvml.nvmlDeviceGetUtilizationRates(self._handle).gpu / 100.0
        except Exception:
            self._utilisation = None
        if tree_pids:
            try:
                running = self._nvml.nvmlDeviceGetComputeRunningProcesses(self._handle)
                self._holds_context = any(p.pid in tree_pids for p in running)
            except Exception:
                self._holds_context = False

    def power_w(self) -> float:
        return self._power_w

    def utilisation(self) -> float | None:
        return self._utilisation

    def process_fraction(self, load: LoadSample) -> float:
        return 1.0 if self._holds_context else 0.0

    def settled_energy_j(self, t: float) -> float | None:
        return self.timeline.energy_at(t)
