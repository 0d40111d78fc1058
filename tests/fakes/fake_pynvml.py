"""A fake ``pynvml`` module: GPUs whose power follows known profiles.

The energy counter advances in steps every ``update_s`` (NVML's counter changes only every
10-100 ms), computed from the profile as a pure function of time, so no thread is needed.
Install with ``install(monkeypatch, gpus)`` or ``sys.modules["pynvml"] = FakeNvml(gpus)``.
"""

from __future__ import annotations

import math
import time
import types
from dataclasses import dataclass, field
from typing import Any

NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_LIBRARY_NOT_FOUND = 12


class NVMLError(Exception):
    def __init__(self, value: int):
        self.value = value
        super().__init__({3: "Not Supported", 12: "NVML Shared Library Not Found", 15: "GPU is lost"}.get(value, str(value)))


@dataclass
class FakeGpu:
    profile: Any
    name: str = "NVIDIA H100 80GB HBM3"
    uuid: str = "GPU-00000000-0000-0000-0000-000000000000"
    has_counter: bool = True
    update_s: float = 0.1
    origin: float = field(default_factory=time.monotonic)
    memory_total_bytes: int = 80 * 1024**3
    utilisation_percent: int = 50
    pids: tuple[int, ...] = ()
    start_mj: int = 1_000_000
    lost: bool = False
    calls: int = 0

    def counter_mj(self, now: float) -> int:
        steps = math.floor((now - self.origin) / self.update_s)
        t_step = self.origin + steps * self.update_s
        return self.start_mj + int(self.profile.energy_j(self.origin, t_step) * 1000)


class FakeNvml(types.ModuleType):
    """Module-shaped: attribute functions as pynvml has them."""

    NVMLError = NVMLError

    def __init__(self, gpus: list[FakeGpu], init_error: int | None = None, clock=time.monotonic):
        super().__init__("pynvml")
        self.gpus = gpus
        self.init_error = init_error
        self.clock = clock
        self.initialised = False

    def _gpu(self, handle: int) -> FakeGpu:
        gpu = self.gpus[handle]
        gpu.calls += 1
        if gpu.lost:
            raise NVMLError(NVML_ERROR_GPU_IS_LOST)
        return gpu

    def nvmlInit(self) -> None:
        if self.init_error is not None:
            raise NVMLError(self.init_error)
        self.initialised = True

    def nvmlShutdown(self) -> None:
        self.initialised = False

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        if not 0 <= index < len(self.gpus):
            raise NVMLError(2)
        return index

    def nvmlDeviceGetName(self, handle: int) -> str:
        return self._gpu(handle).name

    def nvmlDeviceGetUUID(self, handle: int) -> str:
        return self._gpu(handle).uuid

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: int) -> int:
        gpu = self._gpu(handle)
        if not gpu.has_counter:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return gpu.counter_mj(self.clock())

    def nvmlDeviceGetPowerUsage(self, handle: int) -> int:
        gpu = self._gpu(handle)
        return int(gpu.profile.power(self.clock()) * 1000)

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> Any:
        return types.SimpleNamespace(total=self._gpu(handle).memory_total_bytes)

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> Any:
        return types.SimpleNamespace(gpu=self._gpu(handle).utilisation_percent, memory=10)

    def nvmlDeviceGetComputeRunningProcesses(self, handle: int) -> list:
        return [types.SimpleNamespace(pid=pid, usedGpuMemory=0) for pid in self._gpu(handle).pids]

    def nvmlSystemGetDriverVersion(self) -> str:
        return "580.159.04"

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        return 13000


def install(monkeypatch: Any, gpus: list[FakeGpu], **kwargs: Any) -> FakeNvml:
    fake = FakeNvml(gpus, **kwargs)
    monkeypatch.setitem(__import__("sys").modules, "pynvml", fake)
    return fake
