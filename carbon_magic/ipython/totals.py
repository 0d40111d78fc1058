"""A kernel's running totals, kept up to date one record at a time (O(1) per record).

Spans overlap the cells they contain, so they are listed but not added: the totals equal the
sums of ``%carbon report``'s rows that are not spans. A record is added when it finishes
(``cell_finished``, perhaps provisional) and its share replaced when its final figures arrive
(``cell_finalized``, GPU cells). The sidebar and ``%carbon panel`` both read these.
Calls come from the kernel's main thread and the GPU poller; one lock.
"""

from __future__ import annotations

import operator
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping

from .panel import presentation

if TYPE_CHECKING:
    from .records import CellRecord

KINDS = ("cpu", "gpu", "ram", "platform")
# CellRecord's footprint figures that the totals add up (water L, embodied kg CO2e; docs/footprint.md)
FOOTPRINT_SUMS = ("water_total_l", "water_onsite_l", "water_offsite_l", "water_offsite_low_l", "water_offsite_high_l",
                  "embodied_kg", "embodied_low_kg", "embodied_high_kg")
SUMMED_FIGURES = 12  # the figures of Share.sums() before its footprint
_FOOTPRINT_FIGURES = operator.attrgetter(*FOOTPRINT_SUMS)  # a record's FOOTPRINT_SUMS, None where off


def counted(kind: str) -> bool:
    """Whether a record of this kind adds to the totals (spans overlap their cells: no)."""
    return kind != "span"


@dataclass(slots=True, unsafe_hash=True)
class Share:
    """What one record adds to the totals (CodeCarbon units: kWh, kg, L, s).

    Treat it as read-only; not frozen because a frozen dataclass sets each field through
    object.__setattr__, and one is built per cell (issue 17)."""

    energy_kwh: float
    emissions_kg: float
    water_l: float
    duration_s: float
    cpu_energy_kwh: float
    gpu_energy_kwh: float
    ram_energy_kwh: float
    platform_energy_kwh: float
    measured: frozenset[str]  # CellRecord.measured_kinds: the kinds a counter measured
    machine_wide: bool
    # the band of the modelled components (equal to the figures when all is measured)
    energy_low_kwh: float
    energy_high_kwh: float
    emissions_low_kg: float
    emissions_high_kg: float
    footprint: tuple[float, ...] = (0.0,) * len(FOOTPRINT_SUMS)  # FOOTPRINT_SUMS' figures (0 where off)

    @classmethod
    def of(cls, record: "CellRecord") -> "Share":
        return cls(record.energy_kwh, record.emissions_kg, record.water_l, record.duration_s,
                   record.cpu_energy_kwh, record.gpu_energy_kwh, record.ram_energy_kwh, record.platform_energy_kwh,
                   record.measured_kinds, record.machine_wide, record.energy_low_kwh, record.energy_high_kwh,
                   record.emissions_low_kg, record.emissions_high_kg,
                   tuple([figure or 0.0 for figure in _FOOTPRINT_FIGURES(record)]))

    def sums(self) -> tuple[float, ...]:
        """The figures RunningTotals adds up, in its order (SUMMED_FIGURES, then the footprint's)."""
        return (self.energy_kwh, self.emissions_kg, self.water_l, self.duration_s, self.cpu_energy_kwh,
                self.gpu_energy_kwh, self.ram_energy_kwh, self.platform_energy_kwh, self.energy_low_kwh,
                self.energy_high_kwh, self.emissions_low_kg, self.emissions_high_kg, *self.footprint)


@dataclass(frozen=True, slots=True)
class Totals:
    """Sums over the counted records (CodeCarbon units: s, kWh, kg, L)."""

    count: int
    duration_s: float
    energy_kwh: float
    emissions_kg: float
    water_l: float
    energy_by_kind_kwh: Mapping[str, float]
    measured_runs: Mapping[str, int]  # per kind, the runs in which a counter measured it
    machine_wide_runs: int  # runs whose figures are the whole machine's (tracking_mode 'machine')
    # the sums of the records' bands (equal to energy_kwh and emissions_kg when all is measured)
    energy_low_kwh: float
    energy_high_kwh: float
    emissions_low_kg: float
    emissions_high_kg: float
    footprint: Mapping[str, float] = field(default_factory=dict)  # FOOTPRINT_SUMS' sums by name

    def basis(self) -> str:
        """Whose figures these are and, per kind with energy, whether measured or modelled."""
        if self.machine_wide_runs == self.count:
            whose = "the whole machine's power while it ran"
        elif self.machine_wide_runs == 0:
            whose = "this kernel's share of the machine (process mode)"
        else:
            whose = f"the whole machine's power in {self.machine_wide_runs} of {self.count} runs, this kernel's share in the others"
        kinds = [k for k in KINDS if self.energy_by_kind_kwh[k] > 0]
        return (f"Sums over this kernel's tracked runs only, not the machine's whole session; each run counts {whose}. "
                + " · ".join(f"{k.upper()} {_how(self.measured_runs[k], self.count)}" for k in kinds))

    def energy_band(self) -> tuple[float, float] | None:
        """The (low, high) ratios of the energy's band; None when a counter measured it all."""
        return presentation.band_of(self.energy_kwh, self.energy_low_kwh, self.energy_high_kwh)

    def emissions_band(self) -> tuple[float, float] | None:
        """The (low, high) ratios of the CO2's band; None when a counter measured it all."""
        return presentation.band_of(self.emissions_kg, self.emissions_low_kg, self.emissions_high_kg)

    def embodied_text(self) -> str:
        """The embodied CO2e with its band (always modelled)."""
        kg = self.footprint.get("embodied_kg", 0.0)
        band = presentation.band_of(kg, self.footprint.get("embodied_low_kg", kg), self.footprint.get("embodied_high_kg", kg))
        return presentation.banded(kg, band, presentation.co2)

    @property
    def water_total_l(self) -> float:
        """On-site plus the grid's off-site water (docs/footprint.md), else CodeCarbon's water alone."""
        return self.footprint.get("water_total_l", 0.0) or self.water_l

    def water_band(self) -> tuple[float, float] | None:
        """The (low, high) ratios of the total water's band: the grid's water model's, on top of
        the on-site water (a WUE given, not modelled); None without the grid's water."""
        footprint = self.footprint
        if not footprint.get("water_offsite_l"):
            return None
        onsite = footprint.get("water_onsite_l", 0.0)
        return presentation.band_of(self.water_total_l, onsite + footprint.get("water_offsite_low_l", 0.0),
                                    onsite + footprint.get("water_offsite_high_l", 0.0))

    @property
    def intensity_g_per_kwh(self) -> float:
        return self.emissions_kg * 1e3 / self.energy_kwh if self.energy_kwh > 0 else 0.0

    def text(self) -> str:
        plural = "" if self.count == 1 else "s"
        return (
            f"carbon_magic session: {self.count} tracked run{plural} | {presentation.duration(self.duration_s)} | "
            f"{presentation.banded(self.energy_kwh, self.energy_band(), presentation.energy)} | "
            f"{presentation.banded(self.emissions_kg, self.emissions_band(), presentation.co2)}"
            + (f" | embodied {self.embodied_text()}" if self.footprint.get("embodied_kg") else "")
            + (f" | water {presentation.banded(self.water_total_l, self.water_band(), presentation.water)}"
               if self.water_total_l > 0
               else " | water not estimated (wue unset, offsite_water off)")
        )


def _how(measured_runs: int, runs: int) -> str:
    if measured_runs == runs:
        return "measured (counter)"
    return "modelled" if measured_runs == 0 else f"measured (counter) in {measured_runs} of {runs} runs, else modelled"


class RunningTotals:
    """Totals of every counted record so far (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sums = [0.0] * (SUMMED_FIGURES + len(FOOTPRINT_SUMS))  # Share.sums(), in order
        self._count = 0
        self._measured_runs = dict.fromkeys(KINDS, 0)
        self._machine_wide_runs = 0
        # run_id -> the record counted and its share, until its final figures
        self._pending: dict[str, tuple["CellRecord", Share]] = {}

    def cell_finished(self, record: "CellRecord", data: object = None) -> None:
        if not counted(record.kind):
            return
        share = Share.of(record)
        with self._lock:
            self._add(share, 1)
            self._count += 1
            self._pending[record.run_id] = (record, share)

    def cell_finalized(self, record: "CellRecord", data: object = None) -> None:
        with self._lock:
            counted_record, old = self._pending.pop(record.run_id, (None, None))
            if old is None or counted_record is record:  # final at once: counted as it is
                return
            new = Share.of(record)
            if new != old:
                self._add(old, -1)
                self._add(new, 1)

    def _add(self, share: Share, sign: int) -> None:
        self._sums = list(map(operator.add if sign > 0 else operator.sub, self._sums, share.sums()))
        for kind in share.measured:
            self._measured_runs[kind] += sign
        self._machine_wide_runs += sign * share.machine_wide

    def totals(self) -> Totals:
        with self._lock:
            energy, emissions, water, duration, *rest = self._sums[:SUMMED_FIGURES]
            footprint = dict(zip(FOOTPRINT_SUMS, self._sums[SUMMED_FIGURES:]))
            count, measured_runs, machine_wide_runs = self._count, dict(self._measured_runs), self._machine_wide_runs
        by_kind = rest[:len(KINDS)]
        energy_low, energy_high, emissions_low, emissions_high = rest[len(KINDS):]
        return Totals(count, duration, energy, emissions, water, dict(zip(KINDS, by_kind)), measured_runs,
                      machine_wide_runs, energy_low, energy_high, emissions_low, emissions_high, footprint)
