"""What a record needs beyond operational CO2: water per kWh (on- and off-site) and embodied g/s.

Both are resolved once, not per cell: the off-site water intensity once per location (a cache
keyed by country and region), the embodied rates once per tracker (its sampler's machine, its
GPUs, its lifetime). ``core/record.py`` applies them to each window's kWh and seconds. Method
and limits: docs/footprint.md.

- Water: ``water_basis(location, config)``: off-site from ``core.water`` (the grid mix, or the
  ``offsite_water_l_per_kwh`` parameter, or None when ``offsite_water`` is off); on-site the
  user's ``wue`` when set (CodeCarbon's ``water_consumed``), else the cloud provider's fleet WUE.
- Embodied: ``embodied_basis(...)``: ``core.embodied``'s component rates for this machine
  (``Hardware`` from the machine facts and the disks in ``sys/block``), on a guest its share
  (``core.guest``: a container's limits of the host it sees; a virtual machine's host is an
  assumed one, said in ``EmbodiedBasis.hardware_text``).
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from .embodied import Band, GuestShare, Hardware, default_lifetime_years, embodied_g_per_s
from .guest import GuestFacts
from .ledger import kind_of
from .machine import MachineFacts
from .tables import UnknownLocation
from .units import G_PER_KG
from .water import OnsiteWue, WaterFigure, offsite_water_intensity, onsite_wue_l_per_kwh, world_water_intensity

if TYPE_CHECKING:
    from .location import Location

logger = logging.getLogger("carbon_magic")

# A virtual machine's host is not visible from inside it: assumed a 2-socket server of 32 cores
# per socket with 2 threads per core, holding as much RAM and storage per thread as the guest.
ASSUMED_HOST_SOCKETS = 2
ASSUMED_HOST_CORES_PER_SOCKET = 32
ASSUMED_HOST_THREADS = ASSUMED_HOST_SOCKETS * ASSUMED_HOST_CORES_PER_SOCKET * 2
# Block devices that are no disk: loop files, RAM disks, optical drives, device-mapper and RAID views.
_NOT_DISKS = ("loop", "ram", "zram", "sr", "dm-", "md", "nbd", "fd")
SECTOR_BYTES = 512
BYTES_PER_GB = 1e9
# Embodied parts without a ledger component of their own count by this one's share in process mode.
SHARED_PARTS_FOLLOW = "cpu"


@dataclass(frozen=True)
class WaterBasis:
    """Litres per kWh a record counts: ``offsite`` (None: ``offsite_water`` is off) and ``onsite``.

    ``onsite.source`` is "wue parameter" (the user's ``wue``: CodeCarbon's ``water_consumed``),
    "provider fleet" (the cloud provider's published WUE, carbon_magic's figures only) or "none".
    """

    offsite: WaterFigure | None
    onsite: OnsiteWue

    @functools.cached_property  # the same for every record of the tracker
    def offsite_text(self) -> str:
        """'France (country): 3.58 L/kWh (1.25 .. 9.01), generation mix x ... (mix of 2023)'; 'off: ...'.

        The text before the first ':' names the place (or 'off', or the parameter) on its own.
        """
        figure = self.offsite
        if figure is None:
            return "off: offsite_water=False"
        year = f" (mix of {figure.year})" if figure.year else ""
        return (f"{figure.label} ({figure.scope}): {figure.l_per_kwh:.3g} L/kWh "
                f"({figure.low_l_per_kwh:.3g} .. {figure.high_l_per_kwh:.3g}), {figure.source}{year}")

    @functools.cached_property  # the same for every record of the tracker
    def onsite_text(self) -> str:
        """'provider fleet: 0.25 L/kWh, AWS ... 2021; ...'; the text before ':' is the source alone."""
        onsite = self.onsite
        if onsite.source == "provider fleet":
            return (f"provider fleet: {onsite.l_per_kwh:.3g} L/kWh, {onsite.detail} {onsite.year}; wue unset, so "
                    "CodeCarbon's water_consumed stays 0")
        if onsite.source == "wue parameter":
            return f"wue parameter: {onsite.l_per_kwh:.3g} L/kWh (CodeCarbon's water_consumed)"
        return f"none: {onsite.detail}"


@dataclass(frozen=True)
class EmbodiedBasis:
    """g CO2e per second of use per ledger component (cpu, ram, platform, gpu:N) and ``storage``."""

    rates_g_per_s: Mapping[str, Band]
    lifetime_years: float
    hardware: Hardware
    guest: GuestShare | None
    hardware_text: str

    @functools.cached_property  # once per tracker: a record only multiplies them
    def rates_by_kind(self) -> dict[str, tuple[tuple[str, float, float, float], ...]]:
        """kind (cpu, gpu, ...) -> its parts' (part, value, low, high) g/s, in ``rates_g_per_s``'s order."""
        kinds: dict[str, list[tuple[str, float, float, float]]] = {}
        for part, rate in self.rates_g_per_s.items():
            kinds.setdefault(kind_of(part), []).append((part, rate.value, rate.low, rate.high))
        return {kind: tuple(parts) for kind, parts in kinds.items()}

    def method_text(self) -> str:
        return (f"Boavizta component method (manufacture only), amortised over {self.lifetime_years:g} years; "
                f"{self.hardware_text}")


@dataclass(frozen=True)
class Footprint:
    """A tracker's water and embodied bases (``embodied`` None: the ``embodied`` parameter is off)."""

    water: WaterBasis
    embodied: EmbodiedBasis | None


@functools.lru_cache(maxsize=64)
def _grid_water(country: str | None, region: str | None) -> WaterFigure:
    """The grid mix's water per kWh of a place, once per place (the tables never change)."""
    try:
        return offsite_water_intensity(country, region)
    except UnknownLocation:  # a place the location service accepted but the water table cannot place
        try:
            return offsite_water_intensity(country)
        except UnknownLocation:
            return world_water_intensity(f"the water table does not know country {country!r}")


def water_basis(location: "Location", config: Mapping[str, Any], wue_set: bool) -> WaterBasis:
    """Off-site and on-site litres per kWh at ``location`` under ``config``; ``wue_set``: the user set ``wue``."""
    offsite: WaterFigure | None = None
    if config["offsite_water"]:
        override = config["offsite_water_l_per_kwh"]
        if override is not None:
            offsite = WaterFigure(override, override, override, "the offsite_water_l_per_kwh parameter", None,
                                  "set by the user", "parameter")
        else:
            offsite = _grid_water(location.country_iso_code, location.region)
    onsite = onsite_wue_l_per_kwh(location.cloud_provider, config["wue"] if wue_set else None)
    return WaterBasis(offsite, onsite)


def _is_disk(name: str) -> bool:
    return not name.startswith(_NOT_DISKS)


def disks(root: str = "/") -> tuple[float, int]:
    """(SSD GB, HDD count) of the block devices under ``root``/sys/block (Linux; (0, 0) elsewhere).

    A device is an HDD when ``queue/rotational`` says 1 (virtual disks often do), else an SSD.
    """
    block = os.path.join(root, "sys", "block")
    try:
        names = sorted(os.listdir(block))
    except OSError:
        return 0.0, 0
    ssd_gb, hdds = 0.0, 0
    for name in filter(_is_disk, names):
        try:
            with open(os.path.join(block, name, "size"), "rb") as handle:  # bytes: no codec to look up
                size_gb = int(handle.read().strip() or 0) * SECTOR_BYTES / BYTES_PER_GB
            with open(os.path.join(block, name, "queue", "rotational"), "rb") as handle:
                rotational = handle.read().strip() == b"1"
        except (OSError, ValueError):
            continue
        if size_gb <= 0:
            continue
        if rotational:
            hdds += 1
        else:
            ssd_gb += size_gb
    return ssd_gb, hdds


def _hardware(facts: MachineFacts, guest: GuestFacts, gpu_names: tuple[str, ...],
              storage: tuple[float, int]) -> tuple[Hardware, GuestShare | None, str]:
    """The machine whose manufacture is amortised (on a VM, an assumed host), the guest's share, in words."""
    sockets = max(facts.cpu_sockets, 1)
    ssd_gb, hdds = storage
    ram_gb = facts.ram_total_gb
    disks_text = f"{ssd_gb:.0f} GB SSD, {hdds} HDD" if ssd_gb or hdds else "no disk found in sys/block"
    gpus_text = f", GPUs: {', '.join(gpu_names)}" if gpu_names else ", no GPU"
    if guest.virtual_machine:
        vcpus = guest.cpu_limit if guest.cpu_limit is not None else float(facts.cpu_count)
        guest_ram = min(guest.memory_limit_gb or ram_gb, ram_gb)
        threads = max(ASSUMED_HOST_THREADS, vcpus)
        scale = threads / vcpus
        host = Hardware(ram_gb=guest_ram * scale, cpu_sockets=ASSUMED_HOST_SOCKETS,
                        cpu_cores=ASSUMED_HOST_CORES_PER_SOCKET, ssd_gb=ssd_gb * scale,
                        hdd_count=round(hdds * scale), gpu_models=gpu_names)
        text = (f"virtual machine: {vcpus:g} vCPUs and {guest_ram:.3g} GB of an assumed host of "
                f"{ASSUMED_HOST_SOCKETS} x {ASSUMED_HOST_CORES_PER_SOCKET}-core CPUs, {threads:g} threads, with "
                f"the guest's RAM and disks per thread ({disks_text}){gpus_text}")
        return host, GuestShare(vcpus=vcpus, host_threads=threads, ram_gb=guest_ram), text
    cores = max(facts.cpu_physical_count // sockets, 1)
    machine = Hardware(ram_gb=ram_gb, cpu_sockets=sockets, cpu_cores=cores, ssd_gb=ssd_gb, hdd_count=hdds,
                       gpu_models=gpu_names)
    text = f"{sockets} x {cores}-core CPU, {ram_gb:.3g} GB RAM, {disks_text}{gpus_text}"
    if guest.cpu_limit is None and guest.memory_limit_gb is None:
        return machine, None, text
    vcpus = min(guest.cpu_limit or float(facts.cpu_count), float(facts.cpu_count))
    share = GuestShare(vcpus=vcpus, host_threads=facts.cpu_count,
                       ram_gb=min(guest.memory_limit_gb or ram_gb, ram_gb))
    return machine, share, (f"container: {vcpus:g} of {facts.cpu_count} threads and {share.ram_gb:.3g} GB "
                            f"of its host ({text})")


def embodied_basis(facts: MachineFacts, guest: GuestFacts, gpus: Mapping[str, str], lifetime_years: float | None,
                   storage: tuple[float, int]) -> EmbodiedBasis:
    """The embodied rates of this machine; ``gpus``: the tracked GPUs' ledger components -> names."""
    hardware, share, text = _hardware(facts, guest, tuple(gpus.values()), storage)
    years = default_lifetime_years() if lifetime_years is None else lifetime_years
    rates = embodied_g_per_s(hardware, years, share)
    by_index = {f"gpu:{index}": component for index, component in enumerate(gpus)}
    return EmbodiedBasis({by_index.get(part, part): band for part, band in rates.items()}, years, hardware, share,
                         text)


def embodied_kg(basis: EmbodiedBasis, duration_s: float, shares: Mapping[str, float]) -> dict[str, Band]:
    """kg CO2e per kind (cpu, gpu, ram, storage, platform) of a window of ``duration_s``.

    ``shares``: the process tree's share of each ledger component (empty in machine mode); parts
    without a component of their own (storage, an uncounted platform) follow the CPU's.
    """
    return {kind: Band(*kg) for kind, kg in embodied_kg_by_kind(basis, duration_s, shares).items()}


def embodied_kg_by_kind(basis: EmbodiedBasis, duration_s: float,
                        shares: Mapping[str, float]) -> dict[str, tuple[float, float, float]]:
    """``embodied_kg``'s (value, low, high) as plain tuples: what a record takes, once per cell
    (a frozen Band per kind costs more than the arithmetic)."""
    follow = shares.get(SHARED_PARTS_FOLLOW, 1.0)
    kg_by_kind = {}
    for kind, parts in basis.rates_by_kind.items():
        value = low = high = 0.0  # summed as floats (once per cell)
        for part, value_g_per_s, low_g_per_s, high_g_per_s in parts:
            factor = duration_s * shares.get(part, follow) / G_PER_KG
            value += value_g_per_s * factor
            low += low_g_per_s * factor
            high += high_g_per_s * factor
        kg_by_kind[kind] = (value, low, high)
    return kg_by_kind
