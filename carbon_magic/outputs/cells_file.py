"""The per-cell CSV file: one row per tracked notebook cell or span, naming the cell.

``emissions.csv`` stays CodeCarbon's file (one run per cell or span, 38 columns). This file
sits beside it (``carbon_cells.csv`` in ``output_dir``) and says which cell each run was:
its label, execution count, cell id, first line of code and how it ended, then the same
figures (CodeCarbon's 38 columns, then the carbon intensity used and its source), then the
modelled platform's power (W) and energy (kWh, inside ``energy_consumed`` unless
``count_platform`` is off) and the band of the energy (kWh) and CO2 (kg) from the modelled
components' cross-validated error (p5..p95; a measured component counts at its value, so a
fully measured row has low = high = the value), then the footprint beyond CodeCarbon's
(``core.record.FOOTPRINT_COLUMNS``): on-site and off-site water (L) with their L/kWh, band and
source, total water, and embodied emissions (kg CO2e) with their band and parts by kind (empty
when their parameter, ``offsite_water`` or ``embodied``, is off), then the cluster hosts' part of
the totals (``carbon_magic.cluster``: energy kWh, CO2 kg, each host's figures as JSON, the missing hosts).

Rows are written through ``csv_file.RowAppender`` (whole or not at all, never interleaved
with another kernel's; kept for the next write when one fails): at once when that is one
plain append (``append_now``: a cell's row is on disk when the cell's bookkeeping runs, in a
kernel right after its reply and before the next cell), else on the main
output lane. Rows that arrive while a write is pending join it, so cells in quick succession
cost one file write, not one each.
"""

from __future__ import annotations

import operator
import threading
from pathlib import Path
from typing import Any, Mapping

from ..core.forks import ForkGuard
from ..core.lanes import OutputWorker
from ..core.paths import CELLS_FILE_NAME
from ..core.record import CSV_COLUMNS, FOOTPRINT_COLUMNS, EmissionsData
from .csv_file import RowAppender, codecarbon_fields

CELL_COLUMNS: tuple[str, ...] = ("label", "execution_count", "cell_id", "first_line", "status")
# EmissionsData fields after CodeCarbon's columns, by their names in the record
RECORD_COLUMNS: tuple[str, ...] = ("intensity_g_per_kwh", "intensity_source", "platform_power", "platform_energy",
                                   "energy_low", "energy_high", "emissions_low", "emissions_high",
                                   *FOOTPRINT_COLUMNS, "cluster_energy", "cluster_emissions", "cluster_hosts",
                                   "cluster_missing")
CELLS_CSV_COLUMNS: tuple[str, ...] = CELL_COLUMNS + CSV_COLUMNS + RECORD_COLUMNS


_RECORD_FIELDS = operator.attrgetter(*RECORD_COLUMNS)


def cells_row(cell: Mapping[str, Any], data: EmissionsData) -> list[Any]:
    """One row: ``cell``'s CELL_COLUMNS values, then ``data``'s figures."""
    return [*map(cell.get, CELL_COLUMNS), codecarbon_fields(data), *_RECORD_FIELDS(data)]


class CellsFile:
    """``<output_dir>/carbon_cells.csv``; ``add`` returns at once (see the module docstring)."""

    def __init__(self, output_dir: str, *, lane: OutputWorker, forks: ForkGuard):
        """``lane``: where the rows are written (the main lane, with the CSV file's);
        ``forks``: lets a forked child drop the parent's queued rows."""
        self.path = Path(output_dir).absolute() / CELLS_FILE_NAME  # fixed now: a later os.chdir must not move it
        self._lane = lane
        self._lock = threading.Lock()
        self._pending: list[tuple[Mapping[str, Any], EmissionsData]] = []
        self._appender = RowAppender(self.path, CELLS_CSV_COLUMNS, forks=forks)
        forks.watch(self)

    def after_fork_in_child(self) -> None:
        """In a forked child: the rows queued in the parent are the parent's to write."""
        self._lock = threading.Lock()
        self._pending = []

    def add(self, cell: Mapping[str, Any], data: EmissionsData) -> None:
        """Write one row now if that is a plain append and nothing queued comes first, else
        queue it for the main output lane (from any thread); returns at once either way."""
        with self._lock:
            if not self._pending and self._lane.idle() and self._appender.append_now([cells_row(cell, data)]):
                return
            self._pending.append((cell, data))
            first = len(self._pending) == 1
        if first:
            self._lane.submit(f"output {CELLS_FILE_NAME}", self.write_pending)

    def write_pending(self) -> None:
        """Write every queued row in one append (runs on the main output lane)."""
        with self._lock:
            pending, self._pending = self._pending, []
        if pending:
            self._appender.append([cells_row(cell, data) for cell, data in pending])
