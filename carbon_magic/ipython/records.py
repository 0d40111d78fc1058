"""What the kernel's cell history is made of: cells, tracked windows and finished records."""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from ..core.ledger import kind_of

if TYPE_CHECKING:
    from ..core.record import EmissionsData
    from ..core.tracker import Tracker
    from ..outputs.cells_file import CellsFile

FIRST_LINE_CHARS = 120
# CellRecord's footprint fields <- EmissionsData's (core.record; docs/footprint.md)
FOOTPRINT_FROM_DATA = {
    "water_onsite_l": "water_onsite", "water_onsite_source": "water_onsite_source", "water_offsite_l": "water_offsite",
    "water_offsite_low_l": "water_offsite_low", "water_offsite_high_l": "water_offsite_high",
    "water_offsite_source": "water_offsite_source", "water_total_l": "water_total", "embodied_kg": "embodied_emissions",
    "embodied_low_kg": "embodied_low", "embodied_high_kg": "embodied_high",
}
# The EmissionsData values of CellRecord's footprint and cluster fields, in its order (given positionally;
# typed by position so that the type checker still counts CellRecord's arguments)
_FootprintAndCluster = tuple[float, str, float | None, float | None, float | None, str, float, float | None,
                             float | None, float | None, float, float, str, str]
_FOOTPRINT_AND_CLUSTER: Callable[[EmissionsData], _FootprintAndCluster] = operator.attrgetter(
    *FOOTPRINT_FROM_DATA.values(), "cluster_energy", "cluster_emissions", "cluster_hosts", "cluster_missing")
STATUSES = ("ok", "failed", "interrupted")


def first_line(code: str) -> str:
    """The first line of ``code`` that is neither blank nor only a comment (shortened)."""
    for line in code.splitlines():
        text = line.strip()
        if text and not text.startswith("#"):
            return text if len(text) <= FIRST_LINE_CHARS else text[: FIRST_LINE_CHARS - 3] + "..."
    return ""


@dataclass(frozen=True, slots=True)
class CellInfo:
    """The cell the kernel is running, as ``pre_run_cell`` told it.

    ``cell_id``: the front end's id of the cell (Jupyter sends it since nbformat 4.5), or
    None in a terminal.
    """

    execution_count: int | None
    cell_id: str | None
    first_line: str


@dataclass(slots=True)
class TrackedWindow:
    """A tracked cell, statement or span while it runs.

    ``kind``: 'cell' (``%%carbon`` or ``%carbon on``), 'statement' (``%carbon STATEMENT``)
    or 'span' (``%carbon start``). ``tracker.current()`` gives the running totals (the live
    panel reads them). ``panel``: whether a live panel may be shown for it.
    ``summary_shown``: set when the live panel froze into the summary in the output (the
    magics then show no second one). ``summary_place``: the display id of the place the live
    panel kept at the top of the output, which the summary fills if the panel never showed.
    """

    kind: str
    label: str
    cell: CellInfo
    tracker: "Tracker"
    started_at: float
    quiet: bool
    panel: bool
    cells_file: "CellsFile | None"
    summary_shown: bool = False
    summary_place: str | None = None


@dataclass(slots=True, unsafe_hash=True)
class CellRecord:
    """One finished tracked cell, statement or span: one row of ``%carbon report``.

    Treat it as read-only (it is hashed and shared by the views); not frozen because a frozen
    dataclass of 46 fields costs ~3 us more to build, once per cell (issue 17), as EmissionsData.

    Units as CodeCarbon's: duration s, energy kWh (PUE included), emissions kg CO2e,
    water litres, power W (average over the window), intensity g CO2e/kWh.
    ``started_at``: wall-clock seconds since the epoch. ``status``: ok, failed or interrupted.
    ``measured_kinds``: the kinds ('cpu', 'gpu', 'ram') a hardware counter measures (see
    ``measured_kinds``); the others are modelled. ``machine_wide``: the figures are the whole
    machine's (``tracking_mode="machine"``), not this kernel's share. ``platform_*``: the
    modelled rest of the machine (inside ``energy_kwh`` unless ``count_platform`` is off);
    ``energy_low_kwh`` .. ``energy_high_kwh`` and ``emissions_low_kg`` .. ``emissions_high_kg``:
    the band of the modelled components' validated error (equal to the value when all is measured).
    ``cluster_*``: the Dask or Ray hosts' part, inside the totals (``carbon_magic.cluster``).
    ``bands``: the (low, high) ratio band of each modelled component's power (the views show the
    average power of a kind with it: ``presentation.bands_of``).
    """

    kind: str
    label: str
    execution_count: int | None
    cell_id: str | None
    first_line: str
    status: str
    started_at: float
    run_id: str
    duration_s: float
    cpu_energy_kwh: float
    gpu_energy_kwh: float
    ram_energy_kwh: float
    energy_kwh: float
    emissions_kg: float
    water_l: float
    cpu_power_w: float
    gpu_power_w: float
    ram_power_w: float
    intensity_g_per_kwh: float
    intensity_source: str
    provisional: bool
    measured_kinds: frozenset[str]
    machine_wide: bool
    platform_energy_kwh: float
    platform_power_w: float
    energy_low_kwh: float
    energy_high_kwh: float
    emissions_low_kg: float
    emissions_high_kg: float
    # the footprint beyond CodeCarbon's (core.footprint): water on-site (wue, else the provider's fleet
    # WUE) and off-site (the grid's; None when off) with its band and sources; embodied kg CO2e (None: off)
    water_onsite_l: float = 0.0
    water_onsite_source: str = ""
    water_offsite_l: float | None = None
    water_offsite_low_l: float | None = None
    water_offsite_high_l: float | None = None
    water_offsite_source: str = ""
    water_total_l: float = 0.0
    embodied_kg: float | None = None
    embodied_low_kg: float | None = None
    embodied_high_kg: float | None = None
    cluster_energy_kwh: float = 0.0  # the cluster hosts' part of energy_kwh and emissions_kg
    cluster_emissions_kg: float = 0.0
    cluster_hosts: str = ""  # each host's figures, JSON (``cluster.footprint``)
    cluster_missing: str = ""  # hosts not (fully) counted, with why
    # (component, (low, high)): the ratio band of each modelled component's power (``Sampler.band_items``)
    bands: tuple[tuple[str, tuple[float, float]], ...] = ()

    @classmethod
    def finished(
        cls, window: TrackedWindow, status: str, data: "EmissionsData", first_line: str, intensity_source: str
    ) -> "CellRecord":
        cell, tracker = window.cell, window.tracker
        return cls(
            window.kind, window.label, cell.execution_count, cell.cell_id, first_line, status, window.started_at,
            data.run_id, data.duration, data.cpu_energy, data.gpu_energy, data.ram_energy, data.energy_consumed,
            data.emissions, data.water_consumed, data.cpu_power, data.gpu_power, data.ram_power,
            data.intensity_g_per_kwh, intensity_source, data.provisional,
            measured_kinds(tracker.components, tracker.sampler.measured), data.tracking_mode != "process",
            data.platform_energy, data.platform_power, data.energy_low, data.energy_high, data.emissions_low,
            data.emissions_high, *_FOOTPRINT_AND_CLUSTER(data), tracker.sampler.band_items,
        )

    def cell_fields(self) -> dict[str, Any]:
        """The fields naming the cell in ``carbon_cells.csv`` (outputs.cells_file.CELL_COLUMNS)."""
        return {
            "label": self.label,
            "execution_count": self.execution_count,
            "cell_id": self.cell_id,
            "first_line": self.first_line,
            "status": self.status,
        }


@functools.lru_cache(maxsize=32)  # the same few (components, measured) pairs, cell after cell
def measured_kinds(components: tuple[str, ...], measured: frozenset[str]) -> frozenset[str]:
    """The kinds of ``components`` whose every component is in ``measured`` (``Reading.measured``:
    read from a hardware counter); 'gpu' covers 'gpu:0', 'gpu:1'."""
    kinds = {kind_of(component) for component in components}
    return frozenset(
        kind for kind in kinds if all(c in measured for c in components if kind_of(c) == kind)
    )
