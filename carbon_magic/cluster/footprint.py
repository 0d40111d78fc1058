"""A cluster window added to a cell's record: each host's energy at that host's intensity.

The CodeCarbon columns become the sums of the kernel's machine and the hosts (energy per
component, total energy, CO2, water, average power), the band of energy and CO2 widens by
the hosts' modelled components, and the per-cell columns say what the cluster contributed:
``cluster_energy`` (kWh with PUE), ``cluster_emissions`` (kg), ``cluster_hosts`` (JSON: each
host's name, energy, CO2, intensity and where it is) and ``cluster_missing`` (the hosts not
fully counted, with why). A host's CO2 uses its own location (a cluster may run in another
country or cloud region than the kernel); a forced intensity applies to every host.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..core.ledger import kind_of
from ..core.location.intensity import Intensity, choose_intensity
from ..core.record import EmissionsData, RunInfo
from ..core.units import G_PER_KG, J_PER_KWH, j_to_kwh
from .window import ClusterWindow, HostWindow

KINDS = ("cpu", "gpu", "ram", "platform")
MISSING_SEPARATOR = "; "  # between the hosts of ``cluster_missing``


@dataclass(frozen=True)
class HostFootprint:
    """One host's part of a record: energy per kind (kWh with PUE), CO2 and its band."""

    host: HostWindow
    intensity: Intensity
    energy_kwh: dict[str, float]
    band_kwh: tuple[float, float]

    @property
    def total_kwh(self) -> float:
        return sum(self.energy_kwh.values())

    @property
    def emissions_kg(self) -> float:
        return self.total_kwh * self.intensity.kg_per_kwh

    def as_json(self) -> dict[str, Any]:
        location = self.host.location
        return {
            "hostname": self.host.hostname,
            "energy_kwh": self.total_kwh,
            "emissions_kg": self.emissions_kg,
            "intensity_g_per_kwh": self.intensity.g_per_kwh,
            "country_iso_code": location.country_iso_code,
            "region": location.region,
            "cloud_provider": location.cloud_provider,
            "cloud_region": location.cloud_region,
            "components_kwh": self.energy_kwh,
            "measured": sorted(self.host.measured),
            **({"note": self.host.note} if self.host.note else {}),
        }


def host_footprint(host: HostWindow, pue: float, intensity: Intensity) -> HostFootprint:
    energy_kwh = dict.fromkeys(KINDS, 0.0)
    low_j = high_j = 0.0
    for component, joules in host.energy_j.items():
        energy_kwh[kind_of(component)] += j_to_kwh(joules) * pue
        low, high = (1.0, 1.0) if component in host.measured else host.bands.get(component, (1.0, 1.0))
        low_j += joules * low
        high_j += joules * high
    return HostFootprint(host, intensity, energy_kwh, (j_to_kwh(low_j) * pue, j_to_kwh(high_j) * pue))


@dataclass(frozen=True)
class ClusterPart:
    """A ``core.remote.RemotePart``: a cluster window and how to weigh it."""

    window: ClusterWindow
    forced_g_per_kwh: float | None = None
    forced_from: str = "argument"

    def footprints(self, pue: float) -> list[HostFootprint]:
        return [
            host_footprint(host, pue, choose_intensity(host.location, forced_g_per_kwh=self.forced_g_per_kwh,
                                                       forced_from=self.forced_from))
            for host in self.window.hosts
        ]

    def apply(self, record: EmissionsData, run: RunInfo) -> EmissionsData:
        """``record`` with the hosts' energy, CO2 and water added (see the module docstring)."""
        footprints = self.footprints(run.pue)
        energy_kwh = {kind: sum(f.energy_kwh[kind] for f in footprints) for kind in KINDS}
        cluster_kwh = sum(energy_kwh.values())
        cluster_kg = sum(f.emissions_kg for f in footprints)
        band_low = sum(f.band_kwh[0] * f.intensity.kg_per_kwh for f in footprints)
        band_high = sum(f.band_kwh[1] * f.intensity.kg_per_kwh for f in footprints)
        emissions = record.emissions + cluster_kg
        energy_consumed = record.energy_consumed + cluster_kwh
        duration = record.duration
        changes: dict[str, Any] = {}
        for kind in KINDS:
            total_kwh = getattr(record, f"{kind}_energy") + energy_kwh[kind]
            changes[f"{kind}_energy"] = total_kwh
            changes[f"{kind}_power"] = total_kwh / run.pue * J_PER_KWH / duration if duration > 0 else 0.0
        return record.replace(
            **changes,
            emissions=emissions,
            emissions_rate=emissions / duration if duration > 0 else 0.0,
            energy_consumed=energy_consumed,
            water_consumed=record.water_consumed + cluster_kwh * run.wue,
            intensity_g_per_kwh=emissions * G_PER_KG / energy_consumed if energy_consumed > 0
            else record.intensity_g_per_kwh,
            energy_low=record.energy_low + sum(f.band_kwh[0] for f in footprints),
            energy_high=record.energy_high + sum(f.band_kwh[1] for f in footprints),
            emissions_low=record.emissions_low + band_low,
            emissions_high=record.emissions_high + band_high,
            provisional=record.provisional,
            cluster_energy=cluster_kwh,
            cluster_emissions=cluster_kg,
            cluster_hosts=json.dumps({f.host.host_id: f.as_json() for f in footprints}, sort_keys=True),
            cluster_missing=MISSING_SEPARATOR.join(f"{host}: {why}" for host, why in self.window.missing.items()),
        )


def read_hosts(hosts_json: str) -> dict[str, dict[str, Any]]:
    """A record's ``cluster_hosts`` read back: host id -> its figures (``HostFootprint.as_json``)."""
    return json.loads(hosts_json) if hosts_json else {}


def read_missing(missing: str) -> list[tuple[str, str]]:
    """A record's ``cluster_missing`` read back: (host id, why) of each host not fully counted."""
    return [(host, why) for host, _, why in
            (item.partition(": ") for item in filter(None, missing.split(MISSING_SEPARATOR)))]
