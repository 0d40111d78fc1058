"""``%carbon report`` and ``%carbon export``: the session's records as a pandas DataFrame.

One row per tracked cell, statement or span, in the order they finished. Energy in Wh,
CO2 in g and water in mL (cells are small; the units of every view, ``panel/presentation.py``);
the CodeCarbon-unit figures (kWh, kg, L) are in ``emissions.csv`` and ``carbon_cells.csv``. pandas is imported here, on first use only.
"""

from __future__ import annotations

import functools
import operator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ..cluster.footprint import read_hosts, read_missing
from ..core.record import CSV_COLUMNS, TASK_CSV_COLUMNS
from ..outputs.cells_file import CELLS_CSV_COLUMNS
from ..outputs.csv_file import defuse_formula, is_records_file
from .panel.presentation import CO2, ENERGY, WATER

if TYPE_CHECKING:
    import pandas

    from .records import CellRecord

# Column -> (CellRecord attribute, factor to the column's unit; None: not a number).
# What a person reads first (label, status, duration, energy, CO2, water), then the rest.
COLUMNS = {
    "label": ("label", None), "status": ("status", None), "duration_s": ("duration_s", 1.0),
    "energy_wh": ("energy_kwh", ENERGY.factor), "co2_g": ("emissions_kg", CO2.factor), "water_ml": ("water_l", WATER.factor),
    "kind": ("kind", None), "execution_count": ("execution_count", None), "cell_id": ("cell_id", None),
    "first_line": ("first_line", None), "start_time": ("started_at", 1.0),
    "cpu_energy_wh": ("cpu_energy_kwh", ENERGY.factor), "gpu_energy_wh": ("gpu_energy_kwh", ENERGY.factor),
    "ram_energy_wh": ("ram_energy_kwh", ENERGY.factor), "platform_energy_wh": ("platform_energy_kwh", ENERGY.factor),
    "energy_low_wh": ("energy_low_kwh", ENERGY.factor), "energy_high_wh": ("energy_high_kwh", ENERGY.factor),
    "co2_low_g": ("emissions_low_kg", CO2.factor), "co2_high_g": ("emissions_high_kg", CO2.factor),
    "intensity_g_per_kwh": ("intensity_g_per_kwh", 1.0),
    "intensity_source": ("intensity_source", None), "run_id": ("run_id", None),
    # the footprint beyond CodeCarbon's (docs/footprint.md); NaN where its parameter is off
    "water_total_ml": ("water_total_l", WATER.factor), "water_onsite_ml": ("water_onsite_l", WATER.factor),
    "water_onsite_source": ("water_onsite_source", None), "water_offsite_ml": ("water_offsite_l", WATER.factor),
    "water_offsite_low_ml": ("water_offsite_low_l", WATER.factor),
    "water_offsite_high_ml": ("water_offsite_high_l", WATER.factor),
    "water_offsite_source": ("water_offsite_source", None), "embodied_co2_g": ("embodied_kg", CO2.factor),
    "embodied_low_g": ("embodied_low_kg", CO2.factor), "embodied_high_g": ("embodied_high_kg", CO2.factor),
    "cluster_energy_wh": ("cluster_energy_kwh", ENERGY.factor), "cluster_co2_g": ("cluster_emissions_kg", CO2.factor),
    "cluster_missing": ("cluster_missing", None),
}
# ``%carbon report hosts``: one row per cell and host, the kernel's machine first.
HOST_COLUMNS = ("label", "execution_count", "host", "hostname", "energy_wh", "co2_g", "intensity_g_per_kwh",
                "country_iso_code", "cloud_region", "note")
KERNEL_HOST = "kernel"
REPORT_COLUMNS = tuple(COLUMNS)
EXPORT_FORMATS = (".csv", ".json", ".html")
SHORT_ID_CHARS = 8


def short_id(cell_id: object) -> object:
    """A cell id as shown: its first SHORT_ID_CHARS characters (ids are random, that is enough)."""
    if isinstance(cell_id, str) and len(cell_id) > SHORT_ID_CHARS:
        return cell_id[:SHORT_ID_CHARS] + "…"
    return cell_id


@functools.cache
def _report_class() -> type:
    """A DataFrame that shows cell ids shortened (the data keep them whole); anything made
    from it (a column, a filter, a copy) is a plain DataFrame."""
    import pandas

    class Report(pandas.DataFrame):
        def _shown(self) -> "pandas.DataFrame":
            shown = pandas.DataFrame(self, copy=True)
            shown["cell_id"] = shown["cell_id"].map(short_id)
            return shown

        def __repr__(self) -> str:
            return repr(self._shown())

        def _repr_html_(self) -> str | None:
            return self._shown()._repr_html_()  # type: ignore[operator]  # pandas-stubs do not declare it

    return Report


def report_frame(records: Sequence["CellRecord"]) -> "pandas.DataFrame":
    """The records as a DataFrame with REPORT_COLUMNS (empty, with those columns, if none);
    start times to the second, in UTC. Built column by column (100,000 records: well under 1 s)."""
    import numpy
    import pandas

    data: dict[str, Any] = {}
    for name, (attribute, factor) in COLUMNS.items():  # a list per column: no tuple per row to collect
        column = list(map(operator.attrgetter(attribute), records))
        data[name] = column if factor is None else numpy.asarray(column, dtype=float) * factor
    data["execution_count"] = pandas.array(data["execution_count"], dtype="Int64")
    data["start_time"] = pandas.to_datetime(data["start_time"], unit="s", utc=True).tz_convert(None).floor("s")
    return _report_class()(data, columns=list(REPORT_COLUMNS))


def hosts_frame(records: Sequence["CellRecord"]) -> "pandas.DataFrame":
    """Each record broken down by host (HOST_COLUMNS): the kernel's machine (host ``kernel``:
    the record less its cluster part), then each cluster host at its own intensity, then each
    missing host with why (no figures)."""
    import pandas

    rows: list[dict[str, Any]] = []
    for record in records:
        cell = {"label": record.label, "execution_count": record.execution_count}
        kernel_kwh = record.energy_kwh - record.cluster_energy_kwh
        kernel_kg = record.emissions_kg - record.cluster_emissions_kg
        rows.append({**cell, "host": KERNEL_HOST, "energy_wh": kernel_kwh * ENERGY.factor,
                     "co2_g": kernel_kg * CO2.factor,
                     "intensity_g_per_kwh": kernel_kg * 1000.0 / kernel_kwh if kernel_kwh > 0 else None})
        for host, figures in read_hosts(record.cluster_hosts).items():
            rows.append({**cell, "host": host, "hostname": figures["hostname"],
                         "energy_wh": figures["energy_kwh"] * ENERGY.factor, "co2_g": figures["emissions_kg"] * CO2.factor,
                         "intensity_g_per_kwh": figures["intensity_g_per_kwh"],
                         "country_iso_code": figures["country_iso_code"], "cloud_region": figures["cloud_region"],
                         "note": figures.get("note")})
        for host, why in read_missing(record.cluster_missing):
            rows.append({**cell, "host": host, "note": f"missing: {why}"})
    frame = pandas.DataFrame(rows, columns=list(HOST_COLUMNS))
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
