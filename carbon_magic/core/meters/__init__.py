"""Choosing the meters for this machine: CPU (RAPL or the machine model), RAM, platform, each NVIDIA GPU.

Without RAPL, CPU, RAM and platform come from this machine's modelled power curve
(``machine_curve``: built once here). With RAPL the CPU is measured and the model covers RAM
and the platform (no platform meter when the psys domain, which holds it, is measured).
``force_cpu_power`` / ``force_ram_power`` keep CodeCarbon's meaning (TDP x load curve, constant
RAM watts); ``count_platform=False`` leaves the platform out (CodeCarbon's cpu+gpu+ram).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..footprint import disks
from ..guest import GuestFacts, detect_guest
from ..machine import MachineFacts
from .base import Meter
from .cpu_model import CpuModelMeter
from .curve import CurveMeter, RamCurveMeter
from .gpu import GpuInfo, GpuMeter
from .nvml import NvmlGpuMeter, NvmlUnavailable, gpu_infos, load_nvml
from .machine_curve import MachineCurve, machine_curve
from .ram import RamMeter
from .rapl import RaplDomain, RaplMeter, RaplUnavailable, discover_domains

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
    count_platform: bool = True

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "HardwareSpec":
        return cls(**{name: config[name] for name in cls.__dataclass_fields__})


@dataclass
class Discovery:
    meters: list[Meter]
    gpus: list[GpuInfo]
    notes: list[str] = field(default_factory=list)
    rapl_available: bool = False
    # what the embodied emissions need to know of this machine (core.footprint)
    guest: GuestFacts = field(default_factory=GuestFacts)
    disks: tuple[float, int] = (0.0, 0)


def _cpu_meter(spec: HardwareSpec, facts: MachineFacts, model: MachineCurve,
               notes: list[str]) -> tuple[Meter, list[RaplDomain], bool]:
    """The CPU meter, the RAPL domains it measures, and whether RAPL is available."""
    def model_meter(reason: str) -> Meter:
        if spec.force_cpu_power is not None:
            return CpuModelMeter(spec.force_cpu_power, reason)
        return CurveMeter("cpu", model.curve, model.method(reason), model.band)

    try:
        domains = discover_domains(spec.powercap_root, spec.rapl_include_dram, spec.rapl_prefer_psys)
    except RaplUnavailable as why:
        if "not readable" in str(why):
            notes.append(f"RAPL counters are present but unusable: {why}. Using the CPU model.")
        return model_meter(f"no RAPL: {why}"), [], False
    if spec.force_mode_cpu_load:
        return model_meter("force_mode_cpu_load is set"), [], True
    fallback = lambda: model_meter("RAPL failed at run time")  # noqa: E731
    return RaplMeter(domains, fallback_factory=fallback), domains, True


def _ram_meter(spec: HardwareSpec, facts: MachineFacts, model: MachineCurve, rapl: list[RaplDomain]) -> Meter:
    if spec.force_ram_power is not None:
        return RamMeter(spec.force_ram_power)
    reason = "RAPL has no DRAM domain here" if rapl else "no RAM energy counter"
    return RamCurveMeter("ram", model.curve, model.method(reason), model.band)


def _platform_meter(spec: HardwareSpec, model: MachineCurve, rapl: list[RaplDomain]) -> Meter | None:
    if not spec.count_platform or any(domain.name == "psys" for domain in rapl):
        return None
    reason = "board, fans, disks, power supply losses; count_platform=False leaves it out"
    return CurveMeter("platform", model.curve, model.method(reason), model.band)


def discover(spec: HardwareSpec, facts: MachineFacts, now: float, guest_root: str = "/") -> Discovery:
    """Build every meter this machine supports; ``notes`` are said to the user once.
    ``guest_root``: where the files telling a guest (``core.guest``) are read."""
    notes: list[str] = []
    guest = detect_guest(guest_root)
    model = machine_curve(facts, guest)
    cpu, rapl, rapl_available = _cpu_meter(spec, facts, model, notes)
    meters: list[Meter] = [cpu, _ram_meter(spec, facts, model, rapl)]
    platform = _platform_meter(spec, model, rapl)
    if platform is not None:
        meters.append(platform)
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
    return Discovery(meters=meters, gpus=gpus, notes=notes, rapl_available=rapl_available, guest=guest,
                     disks=disks(guest_root))
