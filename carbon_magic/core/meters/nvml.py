"""NVIDIA GPUs through NVML (the ``pynvml`` module of ``nvidia-ml-py``).

Each GPU is one ledger component ``gpu:<index>``. Where the driver has the total energy
counter (Volta and newer) it is used; otherwise power is integrated (never a silent 0).
The counter changes only every 10-100 ms, so readings are settled (``vendor_gpu``).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from .gpu import GpuInfo, GpuLibraryUnavailable
from .vendor_gpu import VendorGpuMeter


# Where NVIDIA's Linux driver shows itself: its control device (on a host, and in a container
# given GPUs), or WSL 2's GPU device. Without either NVML cannot start, so a Linux machine that
# has neither is not asked (pynvml takes ~10 ms to import, on every %load_ext of a machine with
# no NVIDIA GPU) unless pynvml was imported already.
LINUX_DRIVER_FILES = ("/dev/nvidiactl", "/dev/dxg")


class NvmlUnavailable(GpuLibraryUnavailable):
    """No NVML, no driver or no GPU; the message says which."""


def load_nvml() -> Any:
    """Import and initialise pynvml, or raise NvmlUnavailable."""
    if (sys.platform.startswith("linux") and "pynvml" not in sys.modules
            and not any(map(os.path.exists, LINUX_DRIVER_FILES))):
        raise NvmlUnavailable(f"no NVIDIA driver ({' and '.join(LINUX_DRIVER_FILES)} absent)", installed=False)
    try:
        import pynvml
    except ImportError:
        raise NvmlUnavailable("pynvml (nvidia-ml-py) is not installed", installed=False) from None
    try:
        pynvml.nvmlInit()
    except Exception as error:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
        raise NvmlUnavailable(f"NVML did not start ({error})") from None
    return pynvml


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def gpu_infos(nvml: Any, first_index: int, notes: list[str]) -> list[tuple[GpuInfo, Any]]:
    """Every GPU NVML sees, with its handle, numbered from ``first_index``."""
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
            index=first_index + index,
            name=_text(nvml.nvmlDeviceGetName(handle)),
            uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
            has_counter=has_counter,
            memory_total_gb=memory_gb,
            vendor="NVIDIA",
            vendor_index=index,
        )
        found.append((info, handle))
    return found


class NvmlGpuMeter(VendorGpuMeter):
    """One NVIDIA GPU (see ``VendorGpuMeter``). NVML's 64-bit counter (mJ) never wraps: a
    lower value is a driver reset."""

    library = "NVML"

    def __init__(self, nvml: Any, handle: Any, info: GpuInfo, now: float, **kwargs: str):
        self._nvml = nvml
        self._handle = handle
        super().__init__(info, now, **kwargs)

    def _read_counter_j(self) -> float:
        return int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)) / 1000.0

    def _read_power_w(self) -> float:
        return float(self._nvml.nvmlDeviceGetPowerUsage(self._handle)) / 1000.0

    def _read_utilisation(self) -> float:
        return float(self._nvml.nvmlDeviceGetUtilizationRates(self._handle).gpu) / 100.0

    def _process_ids(self) -> list[int]:
        return [p.pid for p in self._nvml.nvmlDeviceGetComputeRunningProcesses(self._handle)]

    def _without_counter(self, info: GpuInfo, now: float, why: str) -> NvmlGpuMeter:
        return NvmlGpuMeter(self._nvml, self._handle, info, now, no_counter=why)
