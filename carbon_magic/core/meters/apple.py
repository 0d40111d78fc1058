"""Discovery on Apple silicon (macOS on arm64): which energy source, which meters.

Sources, first usable wins: the IOReport counters (``apple_ioreport``: no sudo), then
powermetrics (``apple_powermetrics``: root or passwordless sudo only), else none: the
machine model measures nothing and says why in a note. With a source: ``cpu`` from its CPU
energy (the model's when ``force_mode_cpu_load`` is set), ``ram`` from DRAM energy where the
chip reports it (the model's otherwise, or ``force_ram_power``), ``gpu:0`` and ``cpu:ane``
where reported (``apple_soc``). CPU and RAM fall back to the model if the source fails.
"""

from __future__ import annotations

from typing import Callable, Mapping

from .apple_ioreport import IOReportBinding
from .apple_powermetrics import open_powermetrics
from .apple_soc import AppleSocBinding, SocEnergy, SocGpuMeter, SocPartMeter, SocUnavailable
from .base import Meter
from .gpu import GpuInfo

# (name said in notes, opener) in order of preference
SOURCES: tuple[tuple[str, Callable[[], AppleSocBinding]], ...] = (
    ("IOReport", IOReportBinding), ("powermetrics", open_powermetrics))
# a model meter for "cpu" or "ram", given why the counter is not used
ModelMeter = Callable[[str, str], Meter]


def open_soc_source() -> tuple[AppleSocBinding | None, list[str]]:
    """The first of ``SOURCES`` that opens, and why each one before it did not."""
    why: list[str] = []
    for name, opener in SOURCES:
        try:
            return opener(), why
        except SocUnavailable as error:
            why.append(f"{name}: {error}")
        except Exception as error:  # a broken library must not stop discovery
            why.append(f"{name}: failed ({type(error).__name__}: {error})")
    return None, why


def apple_meters(binding: AppleSocBinding, chip: str, forced: Mapping[str, str], model_meter: ModelMeter
                 ) -> tuple[list[Meter], list[GpuInfo]]:
    """The meters of a chip whose energy ``binding`` reads: cpu, ram, then gpu:0 and cpu:ane
    where the chip reports them; and the GPU's info. ``forced``: the components a parameter
    gives to the model ("cpu": "force_mode_cpu_load is set")."""
    soc = SocEnergy(binding)
    parts = binding.channels()
    failed = f"{binding.source} failed at run time"

    def measured_or_model(component: str, part: str) -> Meter:
        if part in parts and component not in forced:
            return SocPartMeter(soc, part, fallback_factory=lambda: model_meter(component, failed))
        return model_meter(component, forced.get(component) or f"{binding.source}: no {part.upper()} energy channel here")

    meters = [measured_or_model("cpu", "cpu"), measured_or_model("ram", "dram")]
    gpus: list[GpuInfo] = []
    if "gpu" in parts:
        gpu = SocGpuMeter(soc, chip)
        meters.append(gpu)
        gpus.append(gpu.info)
    if "ane" in parts:
        meters.append(SocPartMeter(soc, "ane"))
    return meters, gpus
