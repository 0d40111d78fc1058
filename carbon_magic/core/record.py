"""Finished measurements as CodeCarbon-shaped records (its 38 CSV columns, in order and units).

Emissions and water are derived from energy here, never stored by hardware code:
energy_kWh x PUE, then x intensity (kg/kWh) for CO2 and x WUE (L/kWh) for water. Beyond
CodeCarbon's columns (``core/footprint.py``): on-site water (the user's ``wue``, else the cloud
provider's fleet WUE), off-site water (the grid mix's L/kWh) and embodied emissions (the
hardware's manufacture per second of use), each kept apart from CodeCarbon's figures.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .._version import __version__
from .footprint import EmbodiedBasis, Footprint, embodied_kg_by_kind
from .location import Intensity, Location
from .ledger import Window, kind_of
from .machine import MachineFacts
from .units import G_PER_KG, j_to_kwh

CSV_COLUMNS: tuple[str, ...] = (
    "timestamp", "project_name", "run_id", "experiment_id", "duration", "emissions",
    "emissions_rate", "cpu_power", "gpu_power", "ram_power", "cpu_energy", "gpu_energy",
    "ram_energy", "energy_consumed", "water_consumed", "country_name", "country_iso_code",
    "region", "cloud_provider", "cloud_region", "os", "python_version", "codecarbon_version",
    "cpu_count", "cpu_model", "gpu_count", "gpu_model", "longitude", "latitude",
    "ram_total_size", "tracking_mode", "cpu_utilization_percent", "gpu_utilization_percent",
    "ram_utilization_percent", "ram_used_gb", "on_cloud", "pue", "wue",
)
TASK_CSV_COLUMNS: tuple[str, ...] = ("task_name",) + CSV_COLUMNS
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"


@dataclass(slots=True)
class EmissionsData:
    """One run (or task, or cell): CodeCarbon's fields plus where the intensity came from.

    Treat it as read-only (``replace`` makes changed copies); it is not frozen only because
    frozen dataclasses of this width cost several microseconds more to build, per cell.

    Units: duration s; emissions kg CO2eq; emissions_rate kg/s; *_power W (average);
    *_energy and energy_consumed kWh with PUE; water_consumed litres; ram_total_size and
    ram_used_gb GB; utilisations %.
    """

    timestamp: str
    project_name: str
    run_id: str
    experiment_id: str | None
    duration: float
    emissions: float
    emissions_rate: float
    cpu_power: float
    gpu_power: float
    ram_power: float
    cpu_energy: float
    gpu_energy: float
    ram_energy: float
    energy_consumed: float
    water_consumed: float
    country_name: str | None
    country_iso_code: str | None
    region: str | None
    cloud_provider: str | None
    cloud_region: str | None
    os: str
    python_version: str
    codecarbon_version: str
    cpu_count: int
    cpu_model: str
    gpu_count: int
    gpu_model: str
    longitude: float | None
    latitude: float | None
    ram_total_size: float
    tracking_mode: str
    cpu_utilization_percent: float
    gpu_utilization_percent: float
    ram_utilization_percent: float
    ram_used_gb: float
    on_cloud: str
    pue: float
    wue: float
    # Not CSV columns: what a user needs to see why a number is what it is.
    intensity_g_per_kwh: float = 0.0
    intensity_source: str = ""
    provisional: bool = False
    # The platform component (board, fans, disks, power supply losses; modelled), inside
    # energy_consumed and emissions when counted (``count_platform``): W and kWh with PUE.
    platform_power: float = 0.0
    platform_energy: float = 0.0
    # The band of energy_consumed (kWh) and emissions (kg) from the modelled components' validated
    # error; measured components count at their value (a fully measured record: low = high = value).
    energy_low: float = 0.0
    energy_high: float = 0.0
    emissions_low: float = 0.0
    emissions_high: float = 0.0
    # Water beyond CodeCarbon's water_consumed (litres; L/kWh): on-site is the user's wue (then equal
    # to water_consumed) or, wue unset, the cloud provider's fleet WUE; off-site is the grid's water
    # for the kWh generated, with the band of its factors and of the energy (None: offsite_water off).
    water_onsite: float = 0.0
    water_onsite_l_per_kwh: float = 0.0
    water_onsite_source: str = ""
    water_offsite: float | None = None
    water_offsite_low: float | None = None
    water_offsite_high: float | None = None
    water_offsite_l_per_kwh: float | None = None
    water_offsite_source: str = ""
    water_total: float = 0.0
    # Embodied emissions (kg CO2e, the hardware's manufacture over its lifetime, per second of use),
    # never inside emissions; the total's band and the parts by kind (None: the embodied parameter off).
    embodied_emissions: float | None = None
    embodied_low: float | None = None
    embodied_high: float | None = None
    embodied_cpu: float | None = None
    embodied_gpu: float | None = None
    embodied_ram: float | None = None
    embodied_storage: float | None = None
    embodied_platform: float | None = None
    # Cluster hosts that took part (``carbon_magic.cluster``), inside the totals above: their
    # energy (kWh with PUE) and CO2 (kg, each host at its own intensity), each host's figures
    # as JSON, and the hosts missing from it with why ("" when complete).
    cluster_energy: float = 0.0
    cluster_emissions: float = 0.0
    cluster_hosts: str = ""
    cluster_missing: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def csv_values(self) -> list[Any]:
        return list(_CSV_FIELDS(self))

    def as_dict(self) -> dict[str, Any]:
        """CodeCarbon's fields (the CSV columns) as a dict."""
        return {name: getattr(self, name) for name in CSV_COLUMNS}

    def replace(self, **changes: Any) -> "EmissionsData":
        return dataclasses.replace(self, **changes)


@functools.lru_cache(maxsize=4)  # records come within the same few seconds
def timestamp_text(second: int) -> str:
    """CodeCarbon's timestamp (local time, to the second) of ``second`` since the epoch."""
    return time.strftime(TIMESTAMP_FORMAT, time.localtime(second))


_CSV_FIELDS = operator.attrgetter(*CSV_COLUMNS)  # one call for the 38 values of a row
codecarbon_values: Callable[[EmissionsData], tuple[Any, ...]] = _CSV_FIELDS  # a record's CSV_COLUMNS values


@functools.lru_cache(maxsize=8)  # a tracker's GPUs: the same names at every record
def gpu_model_text(names: tuple[str, ...]) -> str:
    """CodeCarbon's style: '2 x NVIDIA A100-SXM4-40GB' (several models joined by ', ')."""
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{count} x {name}" for name, count in counts.items())


@dataclass(slots=True)
class RunInfo:
    """The parts of a record that do not come from the window.

    Treat it as read-only; not frozen because a tracker makes one per record, and a frozen
    dataclass of this width costs about a microsecond more to build (issue 17).
    """

    project_name: str
    run_id: str
    experiment_id: str | None
    tracking_mode: str
    pue: float
    wue: float
    location: Location
    intensity: Intensity
    facts: MachineFacts
    gpu_names: tuple[str, ...]
    # component -> (low, high) ratio band of a modelled component (``Sampler.bands``)
    bands: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    # water per kWh and embodied rates (``core.footprint``); None: CodeCarbon's figures only
    footprint: Footprint | None = None


def _emissions(
    window: Window, energy_j: dict[str, float], total_kwh: float, pue: float, intensity: Intensity
) -> tuple[float, float]:
    """(kg CO2e, g/kWh used) of the window: kWh (with PUE) x intensity, or, for a live
    (time-varying) intensity, each component's kWh x PUE x its energy-weighted intensity from
    the ledger."""
    by_component = None
    if intensity.signal is not None:
        by_component = window.average_intensity_g_per_kwh(intensity.signal.key, intensity.g_per_kwh)
    if by_component is None or total_kwh <= 0:
        return total_kwh * intensity.kg_per_kwh, intensity.g_per_kwh
    grams = sum(j_to_kwh(joules) * pue * by_component[c] for c, joules in energy_j.items())
    return grams / G_PER_KG, grams / total_kwh


EMBODIED_KINDS = ("cpu", "gpu", "ram", "storage", "platform")
# Where each kind's energy goes in build_record's per-kind figures (cpu, gpu, ram, platform: the
# order of EmissionsData's fields and of the kWh summed into energy_consumed).
_KIND_INDEX = {"cpu": 0, "gpu": 1, "ram": 2, "platform": 3}
_MEASURED = (1.0, 1.0)  # the ratio band of a component without one (measured: low = high = value)
_NO_WATER_OFFSITE = (None, None, None, None)  # water_offsite, its low, high and L/kWh: offsite_water off
_NO_EMBODIED = (None,) * (3 + len(EMBODIED_KINDS))  # embodied_emissions, low, high and per kind: embodied off
_NO_POWER = (0.0, 0.0, 0.0, 0.0)  # a window of no duration: no average power
_NO_KG = (0.0, 0.0, 0.0)  # the embodied kg of a kind the machine has none of


def footprint_values(window: Window, run: RunInfo, total_kwh: float, low: float, high: float) -> tuple[Any, ...]:
    """The record's water and embodied fields (see EmissionsData), in FOOTPRINT_COLUMNS' order, from
    the run's footprint; ``low``, ``high``: the energy's band ratios. A tuple, not a dict: the record
    takes them positionally (once per cell)."""
    footprint = run.footprint
    if footprint is None:
        return _NO_FOOTPRINT
    water = footprint.water
    onsite_l_per_kwh = water.onsite.l_per_kwh
    onsite = total_kwh * onsite_l_per_kwh if onsite_l_per_kwh else 0.0  # the shared 0.0: see build_record
    offsite = water.offsite
    offsite_values = _NO_WATER_OFFSITE if offsite is None else (
        total_kwh * offsite.l_per_kwh, total_kwh * low * offsite.low_l_per_kwh,
        total_kwh * high * offsite.high_l_per_kwh, offsite.l_per_kwh)
    return (onsite, onsite_l_per_kwh, water.onsite_text, *offsite_values, water.offsite_text,
            onsite + (offsite_values[0] or 0.0), *_embodied_values(window, footprint.embodied))


def _embodied_values(window: Window, basis: EmbodiedBasis | None) -> tuple[float | None, ...]:
    """embodied_emissions, its low and high, then the kg of each of EMBODIED_KINDS (0 for a kind
    the machine has none of); all None when the ``embodied`` parameter is off."""
    if basis is None:
        return _NO_EMBODIED
    kinds = embodied_kg_by_kind(basis, window.duration_s, window.process_shares())
    value = low = high = 0.0  # the kinds' sums, in their order (as sum() adds them)
    for kind_value, kind_low, kind_high in kinds.values():
        value += kind_value
        low += kind_low
        high += kind_high
    get = kinds.get
    return (value, low, high, *[get(kind, _NO_KG)[0] for kind in EMBODIED_KINDS])


def build_record(window: Window, run: RunInfo) -> EmissionsData:
    """The record of one window: energy with PUE, then CO2 and water.

    ``intensity_g_per_kwh`` is the intensity the emissions were computed with: for a live
    intensity, the window's energy-weighted average of the values in effect. Built with
    positional arguments and per-kind lists (it runs once per cell, on the cell's thread).
    """
    duration = window.duration_s
    energy_j = window.energy_j()
    by_kind_j = [0.0, 0.0, 0.0, 0.0]  # _KIND_INDEX's order
    low_j = high_j = 0.0
    bands = run.bands
    for component, joules in energy_j.items():
        by_kind_j[_KIND_INDEX[kind_of(component)]] += joules
        low, high = bands.get(component, _MEASURED)
        low_j += joules * low
        high_j += joules * high
    pue = run.pue
    # A zero stays the shared 0.0 (a kind the machine lacks, no water): records are kept by the
    # ten thousand, and a float object each is 24 bytes.
    cpu_kwh, gpu_kwh, ram_kwh, platform_kwh = by_kind_kwh = [j_to_kwh(joules) * pue if joules else 0.0
                                                             for joules in by_kind_j]
    total_kwh = sum(by_kind_kwh)
    emissions_kg, intensity_g_per_kwh = _emissions(window, energy_j, total_kwh, pue, run.intensity)
    total_j = sum(energy_j.values())
    low, high = (low_j / total_j, high_j / total_j) if total_j > 0 else _MEASURED
    cpu_w, gpu_w, ram_w, platform_w = (
        [joules / duration if joules else 0.0 for joules in by_kind_j] if duration > 0 else _NO_POWER)
    location = run.location
    facts = run.facts
    return EmissionsData(
        timestamp_text(int(window.end.t_wall)), run.project_name, run.run_id, run.experiment_id, duration,
        emissions_kg, emissions_kg / duration if duration > 0 else 0.0, cpu_w, gpu_w, ram_w,
        cpu_kwh, gpu_kwh, ram_kwh, total_kwh, total_kwh * run.wue if run.wue else 0.0,
        location.country_name, location.country_iso_code, location.region, location.cloud_provider,
        location.cloud_region, facts.os, facts.python_version, __version__, facts.cpu_count, facts.cpu_model,
        len(run.gpu_names), gpu_model_text(run.gpu_names), location.longitude, location.latitude,
        facts.ram_total_gb, run.tracking_mode, window.cpu_utilisation * 100, window.gpu_utilisation * 100,
        window.ram_utilisation * 100, window.ram_used_gb, "Y" if location.on_cloud else "N", pue, run.wue,
        intensity_g_per_kwh, run.intensity.source, window.provisional, platform_w, platform_kwh,
        total_kwh * low, total_kwh * high, emissions_kg * low, emissions_kg * high,
        *footprint_values(window, run, total_kwh, low, high),
    )


# The footprint fields, in the order carbon_cells.csv appends them (docs/footprint.md).
FOOTPRINT_COLUMNS: tuple[str, ...] = (
    "water_onsite", "water_onsite_l_per_kwh", "water_onsite_source", "water_offsite", "water_offsite_low",
    "water_offsite_high", "water_offsite_l_per_kwh", "water_offsite_source", "water_total", "embodied_emissions",
    "embodied_low", "embodied_high", *(f"embodied_{kind}" for kind in EMBODIED_KINDS),
)
_NO_FOOTPRINT: tuple[Any, ...] = tuple(  # the footprint fields' defaults (no footprint), in that order
    {f.name: f.default for f in dataclasses.fields(EmissionsData)}[name] for name in FOOTPRINT_COLUMNS)
# Figures of a window that add up over time and may be None (their parameter off).
ADDITIVE_OPTIONAL = ("water_offsite", "water_offsite_low", "water_offsite_high", "embodied_emissions", "embodied_low",
                     "embodied_high", *(f"embodied_{kind}" for kind in EMBODIED_KINDS))


def delta(total: EmissionsData, previous: EmissionsData | None) -> EmissionsData:
    """The part of ``total`` since ``previous`` (same run): what CodeCarbon's API receives."""
    if previous is None:
        return total
    duration = total.duration - previous.duration
    changes: dict[str, Any] = {"duration": duration}
    for name in ("emissions", "cpu_energy", "gpu_energy", "ram_energy", "platform_energy", "energy_consumed",
                 "water_consumed", "energy_low", "energy_high", "emissions_low", "emissions_high", "water_onsite",
                 "water_total", "cluster_energy", "cluster_emissions", *ADDITIVE_OPTIONAL):
        now, before = getattr(total, name), getattr(previous, name)
        changes[name] = None if now is None else now - (before or 0.0)
    for kind in ("cpu", "gpu", "ram", "platform"):
        changes[f"{kind}_power"] = (
            (getattr(total, f"{kind}_energy") - getattr(previous, f"{kind}_energy")) / total.pue * 3.6e6 / duration
            if duration > 0
            else 0.0
        )
    changes["emissions_rate"] = changes["emissions"] / duration if duration > 0 else 0.0
    return total.replace(**changes)
