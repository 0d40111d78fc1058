"""Embodied (manufacturing) emissions of the hardware, amortised per second of use.

Boavizta's component method and reference data (``carbon_magic/data/embodied.json``, built by
``scripts/build_embodied_table.py`` from the boaviztapi wheel's data files): CPU by die area,
RAM and SSD by capacity / die density, HDD per drive, GPU per board model, and the ``platform``
(motherboard, power supply, rack case, assembly). Each component is a :class:`Band` (value,
low, high) from Boavizta's ranges of its inputs (die areas, densities, power-supply mass; GPUs:
60 % LCA uncertainty, or the spread of all boards for an unknown one). Spread over a lifetime
(default 4 years, Cloud Carbon Footprint's) and, on a VM, the guest's share of its host.
Method and limits: ``docs/footprint.md``.

Importing this module reads nothing; the table is read on first use and kept. Stdlib only.
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass, fields
from typing import Any

from carbon_magic.core.ledger import kind_of
from carbon_magic.core.package_data import data_text

EMBODIED_FILE = "embodied.json"
SECONDS_PER_YEAR = 365.25 * 24 * 3600
G_PER_KG = 1000.0
_TOKEN = re.compile(r"[a-z0-9]+")
_MEMORY_SIZE = re.compile(r"^\d+gb$")
_VENDOR_WORDS = {"nvidia", "amd", "tesla", "geforce", "radeon", "instinct", "hbm2", "hbm2e", "hbm3", "hbm3e"}


@dataclass(frozen=True)
class Band:
    """A figure with its low and high bounds, in the unit its name says."""

    value: float
    low: float
    high: float

    def scaled(self, factor: float) -> Band:
        return Band(self.value * factor, self.low * factor, self.high * factor)

    def __add__(self, other: Band) -> Band:
        return Band(self.value + other.value, self.low + other.low, self.high + other.high)


def _positive(owner: str, name: str, value: float, *, zero_ok: bool) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and (
        value >= 0 if zero_ok else value > 0)
    if not ok:
        accepted = "a finite number >= 0" if zero_ok else "a finite number > 0"
        raise ValueError(f"{owner}.{name} must be {accepted}, got {value!r}")


@dataclass(frozen=True)
class Hardware:
    """The machine (on a VM: the host) whose manufacture is amortised.

    ``cpu_cores`` are physical cores per socket and ``cpu_die_mm2`` the die area per socket
    when known (else estimated from the core count, else from all CPUs); ``ssd_gb`` is the
    total SSD capacity (counted as one drive); ``gpu_models`` the boards' names as NVML or
    rocm-smi give them ("NVIDIA H100 80GB HBM3"), on a VM those passed through to the guest.
    """

    ram_gb: float
    cpu_sockets: int = 1
    cpu_cores: int | None = None
    cpu_die_mm2: float | None = None
    ssd_gb: float = 0.0
    hdd_count: int = 0
    gpu_models: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name, zero_ok in (("ram_gb", False), ("cpu_sockets", False), ("ssd_gb", True), ("hdd_count", True)):
            _positive("Hardware", name, getattr(self, name), zero_ok=zero_ok)
        for name in ("cpu_cores", "cpu_die_mm2"):
            if getattr(self, name) is not None:
                _positive("Hardware", name, getattr(self, name), zero_ok=False)
        if isinstance(self.gpu_models, str) or not all(isinstance(m, str) and m.strip() for m in self.gpu_models):
            raise ValueError(f"Hardware.gpu_models must be a tuple of GPU names, got {self.gpu_models!r}")


@dataclass(frozen=True)
class GuestShare:
    """A VM's part of its host: ``vcpus`` of the host's ``host_threads``, ``ram_gb`` of its RAM.

    CPU, storage and platform are shared by vCPUs, RAM by memory; GPUs passed through to the
    guest are its own (counted whole).
    """

    vcpus: float
    host_threads: float
    ram_gb: float

    def __post_init__(self) -> None:
        for field in fields(self):
            _positive("GuestShare", field.name, getattr(self, field.name), zero_ok=False)
        if self.vcpus > self.host_threads:
            raise ValueError(f"GuestShare.vcpus ({self.vcpus}) must be at most host_threads ({self.host_threads})")

    @property
    def cpu_fraction(self) -> float:
        return self.vcpus / self.host_threads


@functools.lru_cache(maxsize=1)
def _table() -> dict[str, Any]:
    """embodied.json, read once."""
    table: dict[str, Any] = json.loads(data_text(EMBODIED_FILE))
    return table


def _spread(entry: dict[str, float]) -> Band:
    return Band(entry["mean"], entry["min"], entry["max"])


def cpu_die_mm2(cores: int | None) -> Band:
    """Die area per socket: of CPUs with this many cores (the nearest count in the data), or of all."""
    areas = _table()["cpu"]["die_mm2"]
    if cores is None:
        return _spread(areas["all"])
    counts = sorted(int(c) for c in areas["by_cores"])
    nearest = min(counts, key=lambda c: (abs(c - cores), -c))
    return _spread(areas["by_cores"][str(nearest)])


def _cpu_kg(hardware: Hardware) -> Band:
    cpu = _table()["cpu"]
    if hardware.cpu_die_mm2 is not None:
        die = Band(hardware.cpu_die_mm2, hardware.cpu_die_mm2, hardware.cpu_die_mm2)
    else:
        die = cpu_die_mm2(hardware.cpu_cores)
    per_socket = die.scaled(cpu["die_kg_per_mm2"]) + Band(cpu["base_kg"], cpu["base_kg"], cpu["base_kg"])
    return per_socket.scaled(hardware.cpu_sockets)


def _memory_kg(capacity_gb: float, spec: dict[str, Any], base_kg: float) -> Band:
    """Capacity / density x die factor + base; the densest chips give the low bound."""
    density = spec["density_gb_per_cm2"]
    die = spec["die_kg_per_cm2"]
    return Band(capacity_gb / density["mean"] * die + base_kg, capacity_gb / density["max"] * die + base_kg,
                capacity_gb / density["min"] * die + base_kg)


def _ram_kg(hardware: Hardware) -> Band:
    ram = _table()["ram"]
    modules = math.ceil(hardware.ram_gb / ram["module_gb"])
    return _memory_kg(hardware.ram_gb, ram, modules * ram["base_kg_per_module"])


def _storage_kg(hardware: Hardware) -> Band:
    table = _table()
    hdd_kg = hardware.hdd_count * table["hdd"]["kg"]
    storage = Band(hdd_kg, hdd_kg, hdd_kg)
    if hardware.ssd_gb > 0:
        storage = storage + _memory_kg(hardware.ssd_gb, table["ssd"], table["ssd"]["base_kg"])
    return storage


def _platform_kg() -> Band:
    platform = _table()["platform"]
    fixed = platform["motherboard_kg"] + platform["rack_case_kg"] + platform["assembly_kg"]
    psu = _spread(platform["power_supply_mass_kg"]).scaled(platform["power_supply_kg_per_kg"])
    return psu + Band(fixed, fixed, fixed)


def _tokens(name: str) -> set[str]:
    return set(_TOKEN.findall(name.lower())) - _VENDOR_WORDS


def gpu_board(model: str) -> tuple[str | None, Band]:
    """The table's board for a GPU name and its kg CO2e, or (None, the archetype) if unknown.

    A board matches when its model number ("h100", "a100", "t4") is in the name; among those,
    the most shared words win, then the higher footprint. Known boards get the 60 % LCA band;
    an unknown one Boavizta's "Large GPU" archetype with the spread of all boards.
    """
    gpu = _table()["gpu"]
    boards = {name: row["kg"] for name, row in gpu["models"].items() if name != "default"}
    wanted = _tokens(model)
    candidates = []
    for name, kg in boards.items():
        words = _tokens(name)
        models = {w for w in words if any(ch.isdigit() for ch in w) and not _MEMORY_SIZE.match(w)}
        if models and models <= wanted:
            candidates.append((len(words & wanted), kg, name))
    if not candidates:
        default = gpu["models"]["default"]["kg"]
        return None, Band(default, min(boards.values()), max(boards.values()))
    _, kg, name = max(candidates)
    relative = gpu["band"]["relative"]
    return name, Band(kg, kg * (1 - relative), kg * (1 + relative))


def embodied_kg(hardware: Hardware) -> dict[str, Band]:
    """Manufacturing kg CO2e per component: cpu, ram, storage, platform, gpu:0, gpu:1, ..."""
    components = {"cpu": _cpu_kg(hardware), "ram": _ram_kg(hardware), "storage": _storage_kg(hardware),
                  "platform": _platform_kg()}
    for index, model in enumerate(hardware.gpu_models):
        components[f"gpu:{index}"] = gpu_board(model)[1]
    return components


def default_lifetime_years() -> float:
    return float(_table()["lifetime"]["default_years"])


def embodied_g_per_s(hardware: Hardware, lifetime_years: float | None = None,
                     guest: GuestShare | None = None) -> dict[str, Band]:
    """g CO2e per second of use per component: manufacture spread over the lifetime, the guest's share.

    ``lifetime_years`` defaults to 4 (Cloud Carbon Footprint's server lifespan). With ``guest``,
    ``hardware`` is the host: cpu, storage and platform count by the guest's vCPU share, ram by
    its memory share, GPUs whole.
    """
    years = default_lifetime_years() if lifetime_years is None else lifetime_years
    _positive("embodied", "lifetime_years", years, zero_ok=False)
    if guest is not None and guest.ram_gb > hardware.ram_gb:
        raise ValueError(f"GuestShare.ram_gb ({guest.ram_gb}) must be at most the host's ram_gb ({hardware.ram_gb})")
    per_second = G_PER_KG / (years * SECONDS_PER_YEAR)
    rates = {}
    for component, kg in embodied_kg(hardware).items():
        share = 1.0
        if guest is not None and kind_of(component) != "gpu":
            share = guest.ram_gb / hardware.ram_gb if component == "ram" else guest.cpu_fraction
        rates[component] = kg.scaled(per_second * share)
    return rates


def total(components: dict[str, Band]) -> Band:
    """The sum of the components' figures and of their bounds."""
    return sum(components.values(), Band(0.0, 0.0, 0.0))
