"""Water (on-site and off-site) and embodied emissions of tracked cells, in a real kernel.

Places are set through the location parameters, offline (no network). The expected off-site
intensities are the hand computations of tests/test_water.py (Macknick et al. 2012 factors x
the packaged mix), written out here:

- France: (2.16 x 687 + 31.43 x 205 + 9.71 x 826 + 335.65 x 672 + 53.19 x 4491 + 9.5 x 553
  + 0.6 x 15 + 23.26 x 1) / 514.11 = 944.7 gal/MWh x 0.0037854 = 3.576 L/kWh
- Germany: (135.35 x 687 + 76.0 x 205 + 20.13 x 826 + 8.75 x 672 + 19.48 x 4491 + 46.02 x 553
  + 0.21 x 15 + 61.56 x 1) / 504.79 = 483.4 gal/MWh = 1.830 L/kWh
- USA (and AWS us-east-1, Virginia: no state mix packaged, so the national one):
  (675.26 x 687 + 1802.06 x 205 + 33.0 x 826 + 775.35 x 672 + 233.96 x 4491 + 47.46 x 553
  + 18.61 x 15 + 238.12 x 1) / 4249.05 = 578.9 gal/MWh = 2.191 L/kWh
- AWS on-site: its published fleet WUE, 0.25 L/kWh (2021), wue unset.
"""

from __future__ import annotations

import pytest

pytest.importorskip("ipykernel")
pytest.importorskip("nbclient")

from carbon_magic.core.record import CSV_COLUMNS  # noqa: E402
from carbon_magic.outputs.cells_file import CELLS_CSV_COLUMNS  # noqa: E402

from .ipython_helpers import outputs_text, read_csv, run_notebook  # noqa: E402

WORK = "total = sum(i * i for i in range(300000))"
PLACES = {  # label -> (magic options, off-site L/kWh by hand, off-site source, on-site L/kWh)
    "france": ("--country-iso-code FRA", 3.576, "France (country)", 0.0),
    "germany": ("--country-iso-code DEU", 1.830, "Germany (country)", 0.0),
    "usa": ("--country-iso-code USA", 2.191, "United States (country)", 0.0),
    "aws": ("--cloud-provider aws --cloud-region us-east-1", 2.191,
            "United States (country (no generation mix packaged for region 'virginia'))", 0.25),
}


@pytest.fixture(scope="module")
def notebook(tmp_path_factory):
    folder = tmp_path_factory.mktemp("footprint")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"CODECARBON_OFFLINE": "true", "CODECARBON_POWERCAP_ROOT": "/nonexistent"}.items():
            patch.setenv(name, value)
        cells = ["%load_ext carbon_magic"]
        cells += [f"%%carbon --name {label} {options}\n{WORK}" for label, (options, *_) in PLACES.items()]
        cells += [f"%%carbon --name off --country-iso-code FRA --offsite-water false --embodied false\n{WORK}",
                  "%config CarbonMagic.country_iso_code = 'FRA'",
                  "%carbon status",
                  "report = %carbon report\n"
                  "print(report[['label', 'water_total_ml', 'water_offsite_ml', 'embodied_co2_g']].to_string())"]
        result = run_notebook(cells, folder, timeout=240)
    return result, folder


def rows(folder) -> dict[str, dict[str, str]]:
    header, found = read_csv(folder / "carbon_cells.csv")
    assert tuple(header) == CELLS_CSV_COLUMNS
    return {row["label"]: row for row in found}


@pytest.mark.parametrize("label", list(PLACES))
def test_a_cell_counts_off_site_water_by_its_grid_and_on_site_by_wue_or_the_providers_fleet(notebook, label):
    _, folder = notebook
    row = rows(folder)[label]
    _, offsite_l_per_kwh, source, onsite_l_per_kwh = PLACES[label]
    kwh = float(row["energy_consumed"])
    assert kwh > 0
    offsite, onsite, total = float(row["water_offsite"]), float(row["water_onsite"]), float(row["water_total"])
    assert offsite / kwh == pytest.approx(offsite_l_per_kwh, abs=1e-3)
    assert float(row["water_offsite_l_per_kwh"]) == pytest.approx(offsite_l_per_kwh, abs=1e-3)
    assert float(row["water_offsite_low"]) < offsite < float(row["water_offsite_high"])
    assert row["water_offsite_source"].startswith(source + ": ") and "Macknick et al. 2012" in row["water_offsite_source"]
    assert onsite / kwh == pytest.approx(onsite_l_per_kwh, abs=1e-9)
    assert total == pytest.approx(onsite + offsite, rel=1e-9) and total > 0
    assert float(row["water_consumed"]) == 0.0  # CodeCarbon's column: the user's wue only, unset here
    if onsite_l_per_kwh:
        assert row["water_onsite_source"].startswith("provider fleet: 0.25 L/kWh, AWS")


@pytest.mark.parametrize("label", list(PLACES))
def test_a_cell_has_embodied_emissions_beside_its_operational_co2_never_inside(notebook, label):
    result, folder = notebook
    row = rows(folder)[label]
    embodied = float(row["embodied_emissions"])
    assert 0 < float(row["embodied_low"]) < embodied < float(row["embodied_high"])
    parts = [float(row[f"embodied_{kind}"]) for kind in ("cpu", "gpu", "ram", "storage", "platform")]
    assert sum(parts) == pytest.approx(embodied, rel=1e-9)
    assert parts[0] > 0 and parts[2] > 0 and parts[4] > 0  # cpu, ram, platform; no GPU here
    # operational CO2 is energy x intensity, as CodeCarbon's: nothing embodied added
    intensity_kg_per_kwh = float(row["intensity_g_per_kwh"]) / 1000
    assert float(row["emissions"]) == pytest.approx(float(row["energy_consumed"]) * intensity_kg_per_kwh, rel=1e-6)
    summary = outputs_text(result.cells[1 + list(PLACES).index(label)])
    assert "embodied " in summary and " CO2e" in summary
    assert "off-site " in summary and "on-site " in summary and PLACES[label][2].split(" (")[0] in summary


def test_emissions_csv_keeps_codecarbons_38_columns(notebook):
    _, folder = notebook
    header, found = read_csv(folder / "emissions.csv")
    assert tuple(header) == CSV_COLUMNS and len(header) == 38
    assert len(found) == len(PLACES) + 1


def test_off_parameters_leave_the_columns_empty_and_the_views_silent(notebook):
    result, folder = notebook
    row = rows(folder)["off"]
    for column in ("water_offsite", "water_offsite_low", "water_offsite_high", "embodied_emissions", "embodied_cpu"):
        assert row[column] == "", column
    assert row["water_offsite_source"] == "off: offsite_water=False"
    assert float(row["water_total"]) == 0.0
    summary = outputs_text(result.cells[1 + len(PLACES)])
    assert "embodied" not in summary and "water" not in summary


def test_status_says_which_water_intensity_which_wue_and_the_embodied_method(notebook):
    result, _ = notebook
    status = outputs_text(result.cells[3 + len(PLACES)])
    assert "water off-site: France (country): 3.58 L/kWh (1.25 .. 9.01)" in status
    assert "Macknick et al. 2012" in status
    assert "water on-site: none: no wue set and no cloud provider known" in status
    assert "embodied: " in status and "per hour of use; Boavizta component method" in status
    assert "amortised over 4 years" in status


def test_the_report_has_the_split_and_the_embodied_figure(notebook):
    result, _ = notebook
    report = outputs_text(result.cells[-1])
    lines = {line.split()[1]: line.split()[2:] for line in report.splitlines()[1:]}
    for label in PLACES:
        total_ml, offsite_ml, embodied_g = map(float, lines[label])
        assert total_ml >= offsite_ml > 0 and embodied_g > 0
    assert lines["off"][1:] == ["NaN", "NaN"]
