"""Choosing the meters for this machine: CPU (RAPL or the machine model), RAM, platform, each GPU;
on Apple silicon its energy counters (``apple``: CPU, RAM, GPU, ANE) where usable.

Without RAPL, CPU, RAM and platform come from this machine's modelled power curve
(``machine_curve``: built once here). With RAPL the CPU is measured and the model covers RAM
and the platform (no platform meter when the psys domain, which holds it, is measured).
``force_cpu_power`` / ``force_ram_power`` keep CodeCarbon's meaning (TDP x load curve, constant
RAM watts); ``count_platform=False`` leaves the platform out (CodeCarbon's cpu+gpu+ram).
GPUs come from each vendor's library in ``GPU_LIBRARIES`` (NVIDIA's first, numbered on).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..footprint import disks
from ..guest import GuestFacts, detect_guest
from ..machine import MachineFacts
from .base import Meter
from .cpu_model import CpuModelMeter
from .curve import CurveMeter, RamCurveMeter
from .amdsmi import AmdSmiGpuMeter, load_amdsmi
from .amdsmi import gpu_infos as amd_gpu_infos
from .gpu import GpuInfo, GpuLibraryUnavailable, GpuMeter
from .nvml import NvmlGpuMeter, load_nvml
from .nvml import gpu_infos as nvidia_gpu_infos
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
        return _model_meter(spec, model, "cpu", reason)

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
    return _model_meter(spec, model, "ram", "RAPL has no DRAM domain here" if rapl else "no RAM energy counter")


def _model_meter(spec: HardwareSpec, model: MachineCurve, component: str, reason: str) -> Meter:
    """The model of ``cpu`` or ``ram`` (``force_cpu_power`` / ``force_ram_power`` when given)."""
    if component == "cpu":
        if spec.force_cpu_power is not None:
            return CpuModelMeter(spec.force_cpu_power, reason)
        return CurveMeter("cpu", model.curve, model.method(reason), model.band)
    if spec.force_ram_power is not None:
        return RamMeter(spec.force_ram_power)
    return RamCurveMeter("ram", model.curve, model.method(reason), model.band)


def is_apple_silicon(facts: MachineFacts) -> bool:
    """A Mac with Apple silicon: the only machine whose discovery imports the Apple meters (``apple``)."""
    return sys.platform == "darwin" and facts.is_arm


def _apple_meters(spec: HardwareSpec, facts: MachineFacts, model: MachineCurve,
                  notes: list[str]) -> tuple[list[Meter], list[GpuInfo]] | None:
    """CPU, RAM, GPU and ANE meters from Apple silicon's energy counters; None (said in a note)
    when no source is usable."""
    from .apple import apple_meters, open_soc_source

    binding, why = open_soc_source()
    if binding is None:
        notes.append(f"No Apple silicon energy counter usable ({'; '.join(why)}): using the machine model.")
        return None
    forced = {"cpu": "force_mode_cpu_load is set"} if spec.force_mode_cpu_load else {}
    if spec.force_ram_power is not None:
        forced["ram"] = "force_ram_power is set"
    return apple_meters(binding, facts.cpu_model, forced, lambda c, reason: _model_meter(spec, model, c, reason))


def _platform_meter(spec: HardwareSpec, model: MachineCurve, rapl: list[RaplDomain]) -> Meter | None:
    if not spec.count_platform or any(domain.name == "psys" for domain in rapl):
        return None
    reason = "board, fans, disks, power supply losses; count_platform=False leaves it out"
    return CurveMeter("platform", model.curve, model.method(reason), model.band)


# Each vendor: its name, its library's, how to load the library (raising GpuLibraryUnavailable
# when it cannot be used), its GPUs (library, first component index, notes) and their meter.
GPU_LIBRARIES: tuple[tuple[str, str, Callable[[], Any], Callable[[Any, int, list[str]], list[tuple[GpuInfo, Any]]],
                           Callable[[Any, Any, GpuInfo, float], GpuMeter]], ...] = (
    ("NVIDIA", "NVML", load_nvml, nvidia_gpu_infos, NvmlGpuMeter),
    ("AMD", "amdsmi", load_amdsmi, amd_gpu_infos, AmdSmiGpuMeter),
)


def _gpu_meters(now: float, notes: list[str]) -> list[GpuMeter]:
    """Every vendor's GPUs, numbered on across vendors. Why a vendor's were not measured is
    said, but a library that is simply not installed only where no GPU at all was found."""
    meters: list[GpuMeter] = []
    not_installed: list[str] = []
    for vendor, library, load, infos, meter in GPU_LIBRARIES:
        try:
            module = load()
            for info, handle in infos(module, len(meters), notes):
                meters.append(meter(module, handle, info, now))
                if not info.has_counter:
                    notes.append(f"GPU {info.index} ({info.name}) has no energy counter in {library}: "
                                 "integrating its power.")
        except GpuLibraryUnavailable as why:
            (notes if why.installed else not_installed).append(f"No {vendor} GPU measured: {why}.")
        except Exception as error:  # a broken driver must not stop CPU/RAM tracking
            notes.append(f"No {vendor} GPU measured: {library} failed ({type(error).__name__}: {error}).")
    if not meters:
        notes += not_installed
    return meters


def discover(spec: HardwareSpec, facts: MachineFacts, now: float, guest_root: str = "/") -> Discovery:
    """Build every meter this machine supports; ``notes`` are said to the user once.
    ``guest_root``: where the files telling a guest (``core.guest``) are read."""
    notes: list[str] = []
    guest = detect_guest(guest_root)
    model = machine_curve(facts, guest)
    apple = _apple_meters(spec, facts, model, notes) if is_apple_silicon(facts) else None
    if apple is not None:
        soc_meters, gpus = apple
        meters: list[Meter] = soc_meters[:2]
        rapl: list[RaplDomain] = []
        rapl_available = False
    else:
        cpu, rapl, rapl_available = _cpu_meter(spec, facts, model, notes)
        meters, soc_meters, gpus = [cpu, _ram_meter(spec, facts, model, rapl)], [], []
    platform = _platform_meter(spec, model, rapl)
    if platform is not None:
        meters.append(platform)
    meters += soc_meters[2:]  # the chip's GPU and ANE
    gpu_meters = _gpu_meters(now, notes)
    meters += gpu_meters
    gpus += [meter.info for meter in gpu_meters]
    return Discovery(meters=meters, gpus=gpus, notes=notes, rapl_available=rapl_available, guest=guest,
                     disks=disks(guest_root))
