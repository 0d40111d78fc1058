"""Choosing the meters for this machine: CPU (RAPL or TDP model), RAM, each NVIDIA GPU."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..machine import MachineFacts
from .base import Meter
from .cpu_model import CpuModelMeter, choose_tdp
from .gpu import GpuInfo, GpuMeter
from .nvml import NvmlGpuMeter, NvmlUnavailable, gpu_infos, load_nvml
from .ram import RamMeter
from .rapl import RaplMeter, RaplUnavailable, discover_domains

logger = logging.getLogger("carbon_magic")

__all__ = ["HardwareSpec", "Discovery", "discover", "Meter", "GpuInfo", "GpuMeter"]


@dataclass(frozen=True)
class HardwareSpec:
    """The parameters that change how hardware is metered; one sampler per distinct spec."""

    powercap_root: str | None = None
    rapl_include_dram: bool = False
    rapl_prefer_psys: bool = False
    force_cpu_power: float | None = None
    force_ram_power: float | None = None
    force_mode_cpu_load: bool = False

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "HardwareSpec":
        return cls(**{name: config[name] for name in cls.__dataclass_fields__})


@dataclass
class Discovery:
    meters: list[Meter]
    gpus: list[GpuInfo]
    notes: list[str] = field(default_factory=list)
    rapl_available: bool = False


def _cpu_meter(spec: HardwareSpec, facts: MachineFacts, notes: list[str]) -> tuple[Meter, bool]:
    def model_meter(reason: str) -> CpuModelMeter:
        return CpuModelMeter(choose_tdp(facts, spec.force_cpu_power), reason)

    try:
        domains = discover_domains(spec.powercap_root, spec.rapl_include_dram, spec.rapl_prefer_psys)
    except RaplUnavailable as why:
        if "not readable" in str(why):
            notes.append(f"RAPL counters are present but unusable: {why}. Using the CPU model.")
        return model_meter(f"no RAPL: {why}"), False
    if spec.force_mode_cpu_load:
        return model_meter("force_mode_cpu_load is set"), True
    fallback = lambda: model_meter("RAPL failed at run time")  # noqa: E731
    return RaplMeter(domains, fallback_factory=fallback), True


def discover(spec: HardwareSpec, facts: MachineFacts, now: float) -> Discovery:
    """Build every meter this machine supports; ``notes`` are said to the user once."""
    notes: list[str] = []
    cpu, rapl_available = _cpu_meter(spec, facts, notes)
    meters: list[Meter] = [cpu, RamMeter.for_machine(facts, spec.force_ram_power)]
    gpus: list[GpuInfo] = []
    try:
        nvml = load_nvml()
        for info, handle in gpu_infos(nvml):
            meters.append(NvmlGpuMeter(nvml, handle, info, now))
            gpus.append(info)
            if not info.has_counter:
                notes.append(f"GPU {info.index} ({info.name}) has no energy counter: integrating its power.")
    except NvmlUnavailable as why:
        notes.append(f"No NVIDIA GPU measured: {why}.")
    except Exception as error:  # a broken driver must not stop CPU/RAM tracking
        notes.append(f"No NVIDIA GPU measured: NVML failed ({type(error).__name__}: {error}).")
    return Discovery(meters=meters, gpus=gpus, notes=notes, rapl_available=rapl_available)
