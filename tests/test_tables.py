"""The packaged grid and country tables, their build, and carbon_magic.core.tables.

Expected figures are read from (or computed by hand from) CodeCarbon 3.3.2's data files in
data-sources/ (vendored), not copied from the built tables.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from carbon_magic.core import tables
from carbon_magic.core.tables import GridFigure, UnknownLocation

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "carbon_magic" / "data"
SOURCE = REPO / "data-sources" / "codecarbon-3.3.2"
BUILD_SCRIPT = REPO / "scripts" / "build_tables.py"


def source_json(*parts: str) -> dict:
    return json.loads(SOURCE.joinpath("private_infra", *parts).read_text(encoding="utf-8"))


def countries_csv() -> list[dict[str, str]]:
    with open(DATA / "countries.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


# --- the build ---------------------------------------------------------------------------


def test_build_reproduces_the_committed_tables_byte_for_byte(tmp_path):
    result = subprocess.run(
        [sys.executable, str(BUILD_SCRIPT), str(SOURCE), "--out", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    for name in ("grid.json", "cpu_tdp.csv"):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name


def test_importing_the_modules_reads_no_file_and_needs_no_numpy():
    code = (
        "import sys, importlib.resources as r\n"
        "def refuse(*a, **k):\n"
        "    raise AssertionError('read at import')\n"
        "r.files = refuse\n"
        "sys.modules['numpy'] = sys.modules['pandas'] = None\n"
        "import carbon_magic.core.tables, carbon_magic.core.cpu_catalog\n"
        "import carbon_magic.core.water, carbon_magic.core.embodied\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# --- countries.csv -------------------------------------------------------------------------


def test_countries_csv_has_every_iso_3166_1_entry_once():
    rows = countries_csv()
    assert len(rows) == 249
    assert len({r["iso3"] for r in rows}) == 249
    assert len({r["iso2"] for r in rows}) == 249
    assert all(len(r["iso3"]) == 3 and r["iso3"].isupper() for r in rows)
    assert all(len(r["iso2"]) == 2 and r["iso2"].isupper() for r in rows)


@pytest.mark.skipif(not Path("/usr/share/zoneinfo/iso3166.tab").exists(), reason="no tz iso3166.tab")
def test_countries_csv_iso2_codes_match_the_tz_database():
    tz: dict[str, str] = {}
    for line in Path("/usr/share/zoneinfo/iso3166.tab").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            code, name = line.split("\t")
            tz[code] = name
    assert {r["iso2"] for r in countries_csv()} == set(tz)
    for code, name in tz.items():  # the tz names ("Britain (UK)", "Korea (South)") are accepted
        assert tables.country_iso2(tables.normalise_country(name)) == code, name


def test_no_alias_names_two_countries_or_another_countrys_code():
    owner: dict[str, str] = {}
    codes = {}
    for row in countries_csv():
        codes[row["iso3"]] = row["iso3"]
        codes[row["iso2"]] = row["iso3"]
    for row in countries_csv():
        for name in [row["name"], *filter(None, row["aliases"].split(";"))]:
            key = tables._key(name)
            assert owner.setdefault(key, row["iso3"]) == row["iso3"], (name, owner[key])
            assert codes.get(name.upper(), row["iso3"]) == row["iso3"], name


# --- countries ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["FRA", "fra", "FR", "fr", "France", "france", " FRANCE ", "French Republic"])
def test_france_in_every_spelling(text):
    assert tables.normalise_country(text) == "FRA"


@pytest.mark.parametrize(
    ("text", "iso3"),
    [
        ("USA", "USA"), ("us", "USA"), ("United States of America", "USA"), ("America", "USA"),
        ("UK", "GBR"), ("Great Britain", "GBR"), ("England", "GBR"), ("gb", "GBR"),
        ("South Korea", "KOR"), ("Korea, Republic of", "KOR"), ("North Korea", "PRK"),
        ("Côte d’Ivoire", "CIV"), ("cote divoire", "CIV"), ("Ivory Coast", "CIV"),
        ("Türkiye", "TUR"), ("Viet Nam", "VNM"), ("St Lucia", "LCA"), ("The Bahamas", "BHS"),
        ("Bosnia & Herzegovina", "BIH"), ("DR Congo", "COD"), ("Congo", "COG"),
        ("Czech Republic", "CZE"), ("Swaziland", "SWZ"), ("Réunion", "REU"),
    ],
)
def test_names_and_aliases(text, iso3):
    assert tables.normalise_country(text) == iso3


@pytest.mark.parametrize("text", ["XYZ", "Atlantis"])
def test_unknown_country_raises_with_suggestions(text):
    with pytest.raises(UnknownLocation) as caught:
        tables.normalise_country(text)
    error = caught.value
    assert isinstance(error, LookupError)
    assert error.value == text
    assert 1 <= len(error.suggestions) <= 5
    message = str(error)
    assert repr(text) in message
    assert error.suggestions[0] in message
    assert "valid_countries()" in message


def test_a_typo_suggests_the_right_country_first():
    with pytest.raises(UnknownLocation) as caught:
        tables.normalise_country("Frnace")
    assert caught.value.suggestions[0] == "FRA (France)"


def test_country_name_and_iso2():
    assert tables.country_name("KOR") == "South Korea"
    assert tables.country_name("usa") == "United States"
    assert tables.country_iso2("GBR") == "GB"


def test_every_source_country_has_its_figure_and_its_source_name_is_accepted():
    mix = source_json("global_energy_mix.json")
    assert len(mix) == 213
    assert tables.valid_countries(with_intensity=True) == sorted(mix)
    for iso3, entry in mix.items():
        assert tables.normalise_country(entry["country_name"]) == iso3
        figure = tables.country_intensity(iso3)
        assert figure.year == entry["year"]
        assert figure.country_iso3 == iso3
        if entry["carbon_intensity"] > 0:
            assert figure.intensity_g_per_kwh == pytest.approx(entry["carbon_intensity"], abs=5e-4)


def test_france_figure_and_label():
    figure = tables.country_intensity("france")
    # global_energy_mix.json: FRA carbon_intensity 56.039, year 2023
    assert figure == GridFigure(56.039, "Our World in Data / Ember country mix", 2023, "France", "FRA")


def test_central_african_republic_zero_is_replaced_by_its_all_hydro_mix():
    entry = source_json("global_energy_mix.json")["CAF"]
    assert entry["carbon_intensity"] == 0.0
    assert entry["hydroelectricity_TWh"] == entry["total_TWh"] > 0
    hydro = source_json("carbon_intensity_per_source.json")["hydroelectricity"]
    figure = tables.country_intensity("CAF")
    assert figure.intensity_g_per_kwh == hydro == 26
    assert "per-source" in figure.source


def test_country_without_figure_raises():
    assert "AND" not in tables.valid_countries(with_intensity=True)
    with pytest.raises(UnknownLocation, match="Andorra"):
        tables.country_intensity("AND")


def test_world_average_and_per_source():
    figure = tables.world_average()
    assert figure.intensity_g_per_kwh == 475
    assert figure.label == "world average"
    assert figure.country_iso3 is None
    factors = tables.per_source_intensity()
    assert factors["coal"] == 995 and factors["hydroelectricity"] == 26 and factors["natural_gas"] == 743
    factors["coal"] = 0  # a copy: the table is not changed
    assert tables.per_source_intensity()["coal"] == 995


# --- regions -------------------------------------------------------------------------------


def test_us_state_by_name_and_code_and_lbs_conversion_by_hand():
    # usa_emissions.json: california 394.769 lbs/MWh; 394.769 x 0.453592 = 179.06406 g/kWh
    by_name = tables.region_intensity("USA", "California")
    assert by_name == tables.region_intensity("US", "ca") == tables.region_intensity("usa", "US-CA")
    assert by_name.intensity_g_per_kwh == pytest.approx(179.064, abs=1e-3)
    assert by_name.label == "California, USA"
    assert by_name.year == 2023
    assert by_name.country_iso3 == "USA"


def test_every_us_state_is_converted_from_lbs_per_mwh():
    raw = source_json("2023", "usa_emissions.json")
    assert raw["california"]["emissions"] == 394.769
    states = [name for name in raw if not name.startswith("_") and name != "usa"]
    assert sorted(states) == tables.valid_regions("USA")
    assert len(states) == 51
    for name in states:
        figure = tables.region_intensity("USA", raw[name]["regionCode"])
        assert figure.intensity_g_per_kwh / raw[name]["emissions"] == pytest.approx(0.453592, rel=1e-5)


def test_canadian_province_by_name_and_code_computed_by_hand():
    # canada_energy_mix.json, quebec: gas 0.2 %, petroleum 0.3, biomass 0.7, solar 0.01,
    # wind 6.7, hydro 92.1, total 100.01; factors 743, 816, 230, 48, 26, 26 g/kWh.
    expected = (0.2 * 743 + 0.3 * 816 + 0.7 * 230 + 0.01 * 48 + 6.7 * 26 + 92.1 * 26) / 100.01
    figure = tables.region_intensity("CAN", "Québec")
    assert figure == tables.region_intensity("Canada", "QC") == tables.region_intensity("CAN", "quebec")
    assert figure.intensity_g_per_kwh == pytest.approx(expected, abs=1e-3)
    assert figure.label == "Quebec, Canada"
    assert tables.region_intensity("CAN", "BC").label == "British Columbia, Canada"
    assert len(tables.valid_regions("CAN")) == 13


def test_canadian_provinces_follow_their_mix():
    raw = source_json("2023", "canada_energy_mix.json")
    coal_heavy = tables.region_intensity("CAN", "Nova Scotia").intensity_g_per_kwh
    assert raw["nova scotia"]["coal"] > 40 and coal_heavy > 500
    assert tables.region_intensity("CAN", "MB").intensity_g_per_kwh < 40  # 99 % hydro and wind


def test_nordic_zones():
    figure = tables.region_intensity("SWE", "SE3")
    # nordic_emissions.json: SE3 emission_factor 27.0, year 2025
    assert figure.intensity_g_per_kwh == 27.0 and figure.year == 2025 and figure.label == "SE3"
    assert tables.region_intensity("Sweden", "se3") == figure
    assert tables.region_intensity("NOR", "NO4").intensity_g_per_kwh == 51.7
    assert tables.region_intensity("FIN", "FI").intensity_g_per_kwh == 72.0
    assert tables.valid_regions("SWE") == ["SE1", "SE2", "SE3", "SE4"]
    assert tables.valid_regions("NOR") == ["NO1", "NO2", "NO3", "NO4", "NO5"]
    with pytest.raises(UnknownLocation):
        tables.region_intensity("SWE", "NO1")


def test_chinese_provinces():
    # china_provincial_emissions.json: CN-SC Sichuan 156.4, CN-NM Inner Mongolia 647.9 (g CO2/kWh)
    sichuan = tables.region_intensity("CHN", "Sichuan")
    assert sichuan == tables.region_intensity("CN", "CN-SC") == tables.region_intensity("CHN", "Sichuan Province")
    assert sichuan.intensity_g_per_kwh == 156.4 and sichuan.year == 2023
    assert tables.region_intensity("CHN", "neimenggu").label == "Inner Mongolia, China"
    assert len(tables.valid_regions("CHN")) == 30


def test_unknown_region_lists_closest_regions():
    with pytest.raises(UnknownLocation) as caught:
        tables.region_intensity("USA", "Califrnia")
    assert caught.value.suggestions[0] == "california"
    assert "valid_regions('USA')" in str(caught.value)


def test_region_of_a_country_without_regional_data():
    with pytest.raises(UnknownLocation, match="France.*no regional data"):
        tables.region_intensity("FRA", "Paris")
    assert tables.valid_regions("FRA") == []


# --- GCP -----------------------------------------------------------------------------------


def test_gcp_region():
    figure = tables.gcp_region_intensity("europe-west1")
    # impact.csv: gcp,europe-west1,Belgium,BEL,St. Ghislain,122
    assert figure.intensity_g_per_kwh == 122
    assert figure.country_iso3 == "BEL"
    assert figure.label == "gcp europe-west1 (Belgium)"
    assert figure.year is None
    assert tables.gcp_region_intensity(" US-CENTRAL1 ").country_iso3 == "USA"


def test_gcp_region_typo_in_source_is_fixed_and_unknown_regions_raise():
    assert tables.gcp_region_intensity("me-central1").country_iso3 == "QAT"
    assert "me-cenrtal1" not in tables.valid_gcp_regions()
    assert len(tables.valid_gcp_regions()) == 40
    with pytest.raises(UnknownLocation) as caught:
        tables.gcp_region_intensity("europe-west99")
    assert "europe-west9" in caught.value.suggestions
    assert "valid_gcp_regions()" in str(caught.value)


def test_every_gcp_region_matches_the_source_csv():
    with open(SOURCE / "cloud" / "impact.csv", encoding="utf-8-sig", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["provider"] == "gcp"]
    for row in rows:
        region = "me-central1" if row["region"] == "me-cenrtal1" else row["region"]
        figure = tables.gcp_region_intensity(region)
        assert figure.intensity_g_per_kwh == float(row["impact"])
        assert figure.country_iso3 == row["countryIsoCode"]


def test_key_ignores_case_accents_and_punctuation():
    assert tables._key("  Côte-d'Ivoire!! ") == tables._key("cote divoire")
    assert tables._key("Réunion") == "reunion"
    assert tables._key("St. Kitts & Nevis") == tables._key("Saint Kitts and Nevis")
