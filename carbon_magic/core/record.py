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
from typing import Any, Callable, Mapping, Sequence

from .._version import __version__
from .footprint import Footprint, embodied_kg
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


def gpu_model_text(names: Sequence[str]) -> str:
    """CodeCarbon's style: '2 x NVIDIA A100-SXM4-40GB' (several models joined by ', ')."""
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{count} x {name}" for name, count in counts.items())


@dataclass(frozen=True)
class RunInfo:
    """The parts of a record that do not come from the window."""

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
_EMBODIED_FIELDS = tuple((kind, f"embodied_{kind}") for kind in EMBODIED_KINDS)  # kind, its EmissionsData field


def footprint_fields(window: Window, run: RunInfo, total_kwh: float, band: list[float]) -> dict[str, Any]:
    """The record's water and embodied fields (see EmissionsData) from the run's footprint."""
    footprint = run.footprint
    if footprint is None:
        return {}
    onsite = footprint.water.onsite
    fields: dict[str, Any] = {"water_onsite": total_kwh * onsite.l_per_kwh, "water_onsite_l_per_kwh": onsite.l_per_kwh,
                              "water_onsite_source": footprint.water.onsite_text,
                              "water_offsite_source": footprint.water.offsite_text}
    offsite = footprint.water.offsite
    if offsite is not None:
        fields.update(water_offsite=total_kwh * offsite.l_per_kwh,
                      water_offsite_low=total_kwh * band[0] * offsite.low_l_per_kwh,
                      water_offsite_high=total_kwh * band[1] * offsite.high_l_per_kwh,
                      water_offsite_l_per_kwh=offsite.l_per_kwh)
    fields["water_total"] = fields["water_onsite"] + (fields.get("water_offsite") or 0.0)
    if footprint.embodied is not None:
        kinds = embodied_kg(footprint.embodied, window.duration_s, window.process_shares())
        bands = kinds.values()
        fields.update(embodied_emissions=sum(b.value for b in bands), embodied_low=sum(b.low for b in bands),
                      embodied_high=sum(b.high for b in bands),
                      **{name: kinds[kind].value if kind in kinds else 0.0 for kind, name in _EMBODIED_FIELDS})
    return fields


def build_record(window: Window, run: RunInfo) -> EmissionsData:
    """The record of one window: energy with PUE, then CO2 and water.

    ``intensity_g_per_kwh`` is the intensity the emissions were computed with: for a live
    intensity, the window's energy-weighted average of the values in effect.
    """
    duration = window.duration_s
    energy_j = window.energy_j()
    energy_by_kind_j = {"cpu": 0.0, "gpu": 0.0, "ram": 0.0, "platform": 0.0}
    band_j = [0.0, 0.0]
    for component, joules in energy_j.items():
        energy_by_kind_j[kind_of(component)] += joules
        low, high = run.bands.get(component, (1.0, 1.0))
        band_j[0] += joules * low
        band_j[1] += joules * high
    energy_kwh = {kind: j_to_kwh(joules) * run.pue for kind, joules in energy_by_kind_j.items()}
    total_kwh = sum(energy_kwh.values())
    emissions_kg, intensity_g_per_kwh = _emissions(window, energy_j, total_kwh, run.pue, run.intensity)
    total_j = sum(energy_j.values())
    band = [joules / total_j if total_j > 0 else 1.0 for joules in band_j]
    power = {kind: joules / duration if duration > 0 else 0.0 for kind, joules in energy_by_kind_j.items()}
    location = run.location
    facts = run.facts
    return EmissionsData(
        timestamp=timestamp_text(int(window.end.t_wall)),
        project_name=run.project_name,
        run_id=run.run_id,
        experiment_id=run.experiment_id,
        duration=duration,
        emissions=emissions_kg,
        emissions_rate=emissions_kg / duration if duration > 0 else 0.0,
        cpu_power=power["cpu"],
        gpu_power=power["gpu"],
        ram_power=power["ram"],
        cpu_energy=energy_kwh["cpu"],
        gpu_energy=energy_kwh["gpu"],
        ram_energy=energy_kwh["ram"],
        energy_consumed=total_kwh,
        water_consumed=total_kwh * run.wue,
        country_name=location.country_name,
        country_iso_code=location.country_iso_code,
        region=location.region,
        cloud_provider=location.cloud_provider,
        cloud_region=location.cloud_region,
        os=facts.os,
        python_version=facts.python_version,
        codecarbon_version=__version__,
        cpu_count=facts.cpu_count,
        cpu_model=facts.cpu_model,
        gpu_count=len(run.gpu_names),
        gpu_model=gpu_model_text(run.gpu_names),
        longitude=location.longitude,
        latitude=location.latitude,
        ram_total_size=facts.ram_total_gb,
        tracking_mode=run.tracking_mode,
        cpu_utilization_percent=window.cpu_utilisation * 100,
        gpu_utilization_percent=window.gpu_utilisation * 100,
        ram_utilization_percent=window.ram_utilisation * 100,
        ram_used_gb=window.ram_used_gb,
        on_cloud="Y" if location.on_cloud else "N",
        pue=run.pue,
        wue=run.wue,
        intensity_g_per_kwh=intensity_g_per_kwh,
        intensity_source=run.intensity.source,
        provisional=window.provisional,
        platform_power=power["platform"],
        platform_energy=energy_kwh["platform"],
        energy_low=total_kwh * band[0],
        energy_high=total_kwh * band[1],
        emissions_low=emissions_kg * band[0],
        emissions_high=emissions_kg * band[1],
        **footprint_fields(window, run, total_kwh, band),
    )


# The footprint fields, in the order carbon_cells.csv appends them (docs/footprint.md).
FOOTPRINT_COLUMNS: tuple[str, ...] = (
    "water_onsite", "water_onsite_l_per_kwh", "water_onsite_source", "water_offsite", "water_offsite_low",
    "water_offsite_high", "water_offsite_l_per_kwh", "water_offsite_source", "water_total", "embodied_emissions",
    "embodied_low", "embodied_high", *(f"embodied_{kind}" for kind in EMBODIED_KINDS),
)
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
