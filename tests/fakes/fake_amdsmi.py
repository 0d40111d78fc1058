"""A fake ``amdsmi`` module (AMD SMI's Python binding): AMD GPUs whose power follows known profiles.

Modelled on amdsmi's Python interface (ROCm 6.x/7.x, ``py-interface/amdsmi_interface.py``):
the same function names, dict keys and exceptions. ``amdsmi_get_energy_count`` returns the
accumulator in counts of ``counter_resolution`` µJ (15.3 on Instinct cards) under
``energy_accumulator`` (and under ``power``, its name before amdsmi 6.2.1; ``old_api`` gives
only that) with a ``timestamp`` in ns; the accumulator steps every ``update_s`` (about 1 ms on
an MI300, slower on older cards), computed from the profile as a pure function of time, so no
thread is needed. Power figures amdsmi does not have read ``"N/A"`` (its value for 0xFFFF).
Install with ``install(monkeypatch, gpus)``.
"""

from __future__ import annotations

import math
import sys
import time
import types
from dataclasses import dataclass, field
from typing import Any

# amdsmi_wrapper's status codes (the ones these fakes raise)
AMDSMI_STATUS_INVAL = 1
AMDSMI_STATUS_NOT_SUPPORTED = 2
AMDSMI_STATUS_NO_PERM = 10
AMDSMI_STATUS_NOT_INIT = 32
AMDSMI_STATUS_DRIVER_NOT_LOADED = 34
_INFO = {
    AMDSMI_STATUS_INVAL: "AMDSMI_STATUS_INVAL - Invalid parameters",
    AMDSMI_STATUS_NOT_SUPPORTED: "AMDSMI_STATUS_NOT_SUPPORTED - Feature not supported",
    AMDSMI_STATUS_NO_PERM: "AMDSMI_STATUS_NO_PERM - Permission Denied",
    AMDSMI_STATUS_NOT_INIT: "AMDSMI_STATUS_NOT_INIT - Device not initialized",
    AMDSMI_STATUS_DRIVER_NOT_LOADED: "AMDSMI_STATUS_DRIVER_NOT_LOADED - Driver not loaded",
}


class AmdSmiException(Exception):
    """Base smi exception class"""


class AmdSmiLibraryException(AmdSmiException):
    def __init__(self, err_code: int):
        err_code = abs(err_code)
        super().__init__(err_code)
        self.err_code = err_code
        self.err_info = _INFO.get(err_code, "AMDSMI_STATUS_UNKNOWN_ERROR - An unknown error occurred")

    def __str__(self) -> str:
        return f"Error code:\n\t{self.err_code} | {self.err_info}"

    def get_error_info(self) -> str:
        return self.err_info

    def get_error_code(self) -> int:
        return self.err_code


@dataclass
class FakeAmdGpu:
    profile: Any
    market_name: str = "AMD Instinct MI300X"
    uuid: str = "9cff74a1-0000-1000-8041-2ab34c5d6e7f"
    has_counter: bool = True
    update_s: float = 0.001
    resolution_uj: float = 15.3
    counter_bits: int = 64
    start_counts: int = 5_000_000_000
    origin: float = field(default_factory=time.monotonic)
    power_keys: tuple[str, ...] = ("current_socket_power",)  # MI300; MI200 and older: average_socket_power
    vram_total_mb: int = 196_592
    gfx_activity: int = 40
    pids: tuple[int, ...] = ()
    stuck: bool = False  # the counter never moves (amdsmi before ROCm 6.1 on an MI100)
    lost: bool = False

    def counts(self, now: float) -> int:
        """The accumulator at ``now``: whole counts of the energy up to its last update."""
        steps = math.floor((now - self.origin) / self.update_s)
        t_step = self.origin + steps * self.update_s
        counted = 0 if self.stuck else int(self.profile.energy_j(self.origin, t_step) * 1e6 / self.resolution_uj)
        return (self.start_counts + counted) % 2**self.counter_bits

    def restart_counter(self, now: float) -> None:
        """The driver reloaded: the accumulator starts again from 0 at ``now``."""
        self.start_counts -= self.counts(now)


class FakeAmdSmi(types.ModuleType):
    """Module-shaped: amdsmi's functions as module attributes; handles are opaque objects."""

    AmdSmiException = AmdSmiException
    AmdSmiLibraryException = AmdSmiLibraryException

    def __init__(self, gpus: list[FakeAmdGpu], init_error: int | None = None, old_api: bool = False,
                 process_handles: bool = False, clock=time.monotonic):
        super().__init__("amdsmi")
        self.gpus = gpus
        self.init_error = init_error
        self.old_api = old_api  # before amdsmi 6.2.1: the energy counter only under 'power'
        self.process_handles = process_handles  # before amdsmi 6.1: process handles, then _info
        self.clock = clock
        self.initialised = False
        self._handles = [object() for _ in gpus]

    def _gpu(self, handle: object) -> FakeAmdGpu:
        if not self.initialised:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_INIT)
        try:
            gpu = self.gpus[self._handles.index(handle)]
        except ValueError:
            raise AmdSmiLibraryException(AMDSMI_STATUS_INVAL) from None
        if gpu.lost:
            raise AmdSmiLibraryException(AMDSMI_STATUS_DRIVER_NOT_LOADED)
        return gpu

    def amdsmi_init(self, flag: int = 2) -> None:  # AmdSmiInitFlags.INIT_AMD_GPUS
        if self.init_error is not None:
            raise AmdSmiLibraryException(self.init_error)
        self.initialised = True

    def amdsmi_shut_down(self) -> None:
        self.initialised = False

    def amdsmi_get_processor_handles(self) -> list[object]:
        if not self.initialised:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_INIT)
        return list(self._handles)

    def amdsmi_get_gpu_device_uuid(self, handle: object) -> str:
        return self._gpu(handle).uuid

    def amdsmi_get_gpu_asic_info(self, handle: object) -> dict[str, Any]:
        gpu = self._gpu(handle)
        return {"market_name": gpu.market_name, "vendor_id": "0x1002", "vendor_name": "Advanced Micro Devices Inc. [AMD/ATI]",
                "subvendor_id": "0x1002", "device_id": "0x74a1", "rev_id": "0x00", "asic_serial": "0x0000000000000000",
                "oam_id": 0, "num_compute_units": 304, "target_graphics_version": "gfx942"}

    def amdsmi_get_energy_count(self, handle: object) -> dict[str, Any]:
        gpu = self._gpu(handle)
        if not gpu.has_counter:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED)
        now = self.clock()
        counts = gpu.counts(now)
        timestamp_ns = int(math.floor((now - gpu.origin) / gpu.update_s) * gpu.update_s * 1e9)
        if self.old_api:
            return {"power": counts, "counter_resolution": gpu.resolution_uj, "timestamp": timestamp_ns}
        return {"power": counts, "energy_accumulator": counts, "counter_resolution": gpu.resolution_uj,
                "timestamp": timestamp_ns}

    def amdsmi_get_power_info(self, handle: object) -> dict[str, Any]:
        gpu = self._gpu(handle)
        watts = int(round(gpu.profile.power(self.clock())))
        info: dict[str, Any] = {"current_socket_power": "N/A", "average_socket_power": "N/A", "gfx_voltage": 800,
                                "soc_voltage": 700, "mem_voltage": 1100, "power_limit": 750}
        for key in gpu.power_keys:
            info[key] = watts
        return info

    def amdsmi_get_gpu_activity(self, handle: object) -> dict[str, Any]:
        return {"gfx_activity": self._gpu(handle).gfx_activity, "umc_activity": 10, "mm_activity": "N/A"}

    def amdsmi_get_gpu_vram_usage(self, handle: object) -> dict[str, int]:
        return {"vram_total": self._gpu(handle).vram_total_mb, "vram_used": 1024}

    def _process(self, pid: int) -> dict[str, Any]:
        return {"name": "python3", "pid": pid, "mem": 2**30,
                "engine_usage": {"gfx": 1_000_000, "enc": 0},
                "memory_usage": {"gtt_mem": 0, "cpu_mem": 0, "vram_mem": 2**30}}

    def amdsmi_get_gpu_process_list(self, handle: object) -> list[Any]:
        pids = self._gpu(handle).pids
        if self.process_handles:
            return [types.SimpleNamespace(value=pid) for pid in pids]  # amdsmi_process_handle
        return [self._process(pid) for pid in pids]

    def amdsmi_get_gpu_process_info(self, handle: object, process: Any) -> dict[str, Any]:
        self._gpu(handle)
        return self._process(process.value)


def install(monkeypatch: Any, gpus: list[FakeAmdGpu], **kwargs: Any) -> FakeAmdSmi:
    fake = FakeAmdSmi(gpus, **kwargs)
    monkeypatch.setitem(sys.modules, "amdsmi", fake)
    return fake
