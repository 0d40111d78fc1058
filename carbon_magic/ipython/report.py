"""``%carbon report`` and ``%carbon export``: the session's records as a pandas DataFrame.

One row per tracked cell, statement or span, in the order they finished. Energy in Wh,
CO2 in g and water in mL (cells are small); the CodeCarbon-unit figures (kWh, kg, L) are in
``emissions.csv`` and ``carbon_cells.csv``. pandas is imported here, on first use only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from ..core.record import CSV_COLUMNS, TASK_CSV_COLUMNS
from ..outputs.cells_file import CELLS_CSV_COLUMNS
from ..outputs.csv_file import defuse_formula, is_records_file

if TYPE_CHECKING:
    import pandas

    from .records import CellRecord

REPORT_COLUMNS = (
    "label", "kind", "execution_count", "cell_id", "first_line", "start_time", "duration_s",
    "cpu_energy_wh", "gpu_energy_wh", "ram_energy_wh", "energy_wh", "co2_g", "water_ml",
    "intensity_g_per_kwh", "intensity_source", "status", "run_id",
)
EXPORT_FORMATS = (".csv", ".json", ".html")


def report_frame(records: Sequence["CellRecord"]) -> "pandas.DataFrame":
    """The records as a DataFrame with REPORT_COLUMNS (empty, with those columns, if none)."""
    import pandas

    rows = [
        (
            r.label, r.kind, r.execution_count, r.cell_id, r.first_line, r.started_at, r.duration_s,
            r.cpu_energy_kwh * 1e3, r.gpu_energy_kwh * 1e3, r.ram_energy_kwh * 1e3, r.energy_kwh * 1e3,
            r.emissions_kg * 1e3, r.water_l * 1e3, r.intensity_g_per_kwh, r.intensity_source, r.status, r.run_id,
        )
        for r in records
    ]
    frame = pandas.DataFrame.from_records(rows, columns=list(REPORT_COLUMNS))
    frame["start_time"] = pandas.to_datetime(frame["start_time"], unit="s", utc=True).dt.tz_convert(None)
    frame["execution_count"] = frame["execution_count"].astype("Int64")
    return frame


def export(records: Sequence["CellRecord"], path: str) -> Path:
    """Write the report to ``path``: CSV, JSON (records) or HTML, by its extension. A records
    file (emissions.csv, carbon_cells.csv, a task file, their backups) is never replaced;
    CSV text that a spreadsheet would run as a formula is defused as in the records files."""
    target = Path(path).expanduser()
    suffix = target.suffix.lower()
    if suffix not in EXPORT_FORMATS:
        raise ValueError(f"cannot export to {path!r}: the name must end in {', '.join(EXPORT_FORMATS)}")
    if is_records_file(target, (CSV_COLUMNS, CELLS_CSV_COLUMNS, TASK_CSV_COLUMNS)):
        raise ValueError(f"{path!r} is a records file (the header of emissions.csv, carbon_cells.csv or a "
                         f"task file): export never replaces one; choose another PATH")
    from pandas.api.types import is_datetime64_any_dtype, is_numeric_dtype

    frame = report_frame(records)
    target.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        for column in frame.columns:
            if not is_numeric_dtype(frame[column]) and not is_datetime64_any_dtype(frame[column]):
                frame[column] = frame[column].map(lambda value: defuse_formula(value) if isinstance(value, str) else value)
        frame.to_csv(target, index=False)
    elif suffix == ".json":
        frame.to_json(target, orient="records", date_format="iso", indent=2)
    else:
        frame.to_html(target, index=False, na_rep="")
    return target
