"""The per-cell CSV file: one row per tracked notebook cell or span, naming the cell.

``emissions.csv`` stays CodeCarbon's file (one run per cell or span, 38 columns). This file
sits beside it (``carbon_cells.csv`` in ``output_dir``) and says which cell each run was:
its label, execution count, cell id, first line of code and how it ended, then the same
figures (CodeCarbon's 38 columns, then the carbon intensity used and its source).
Rows go through ``csv_file.append_rows``: whole or not at all, never interleaved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from ..core.record import CSV_COLUMNS, EmissionsData
from .csv_file import append_rows

CELLS_FILE_NAME = "carbon_cells.csv"
CELL_COLUMNS: tuple[str, ...] = ("label", "execution_count", "cell_id", "first_line", "status")
INTENSITY_COLUMNS: tuple[str, ...] = ("intensity_g_per_kwh", "intensity_source")
CELLS_CSV_COLUMNS: tuple[str, ...] = CELL_COLUMNS + CSV_COLUMNS + INTENSITY_COLUMNS


class CellsFile:
    """Appends rows to ``<output_dir>/carbon_cells.csv``. Call it on the output worker."""

    def __init__(self, output_dir: str = "."):
        self.path = Path(output_dir) / CELLS_FILE_NAME

    def append(self, cell: Mapping[str, Any], data: EmissionsData) -> None:
        """One row: ``cell``'s CELL_COLUMNS values, then ``data``'s figures."""
        row = [cell.get(name) for name in CELL_COLUMNS]
        row += data.csv_values()
        row += [data.intensity_g_per_kwh, data.intensity_source]
        append_rows(self.path, CELLS_CSV_COLUMNS, [row])
