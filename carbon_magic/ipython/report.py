"""``%carbon report`` and ``%carbon export``: the session's records as a pandas DataFrame.

One row per tracked cell, statement or span, in the order they finished. Energy in Wh,
CO2 in g and water in mL (cells are small); the CodeCarbon-unit figures (kWh, kg, L) are in
``emissions.csv`` and ``carbon_cells.csv``. pandas is imported here, on first use only.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    import pandas

    from .records import CellRecord

# What a person reads first (label, status, duration, energy, CO2, water), then the rest.
REPORT_COLUMNS = (
    "label", "status", "duration_s", "energy_wh", "co2_g", "water_ml",
    "kind", "execution_count", "cell_id", "first_line", "start_time",
    "cpu_energy_wh", "gpu_energy_wh", "ram_energy_wh", "intensity_g_per_kwh", "intensity_source", "run_id",
)
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
            return self._shown()._repr_html_()

    return Report


def report_frame(records: Sequence["CellRecord"]) -> "pandas.DataFrame":
    """The records as a DataFrame with REPORT_COLUMNS (empty, with those columns, if none);
    start times to the second, in UTC."""
    import pandas

    rows = [
        (
            r.label, r.status, r.duration_s, r.energy_kwh * 1e3, r.emissions_kg * 1e3, r.water_l * 1e3,
            r.kind, r.execution_count, r.cell_id, r.first_line, r.started_at,
            r.cpu_energy_kwh * 1e3, r.gpu_energy_kwh * 1e3, r.ram_energy_kwh * 1e3,
            r.intensity_g_per_kwh, r.intensity_source, r.run_id,
        )
        for r in records
    ]
    frame = pandas.DataFrame.from_records(rows, columns=list(REPORT_COLUMNS))
    start = pandas.to_datetime(frame["start_time"], unit="s", utc=True).dt.tz_convert(None)
    frame["start_time"] = start.dt.floor("s")
    frame["execution_count"] = frame["execution_count"].astype("Int64")
    return _report_class()(frame)


def export(records: Sequence["CellRecord"], path: str) -> Path:
    """Write the report to ``path``: CSV, JSON (records) or HTML, by its extension."""
    target = Path(path).expanduser()
    suffix = target.suffix.lower()
    if suffix not in EXPORT_FORMATS:
        raise ValueError(f"cannot export to {path!r}: the name must end in {', '.join(EXPORT_FORMATS)}")
    frame = report_frame(records)
    target.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        frame.to_csv(target, index=False)
    elif suffix == ".json":
        frame.to_json(target, orient="records", date_format="iso", indent=2)
    else:
        frame.to_html(target, index=False, na_rep="")
    return target
