"""Off-site water per kWh from the generation mix, on-site WUE, and the water table's build.

Expected figures are computed by hand here from the cited factors (Macknick et al. 2012,
gal/MWh) and the packaged mixes (data-sources/codecarbon-3.3.2), not read from water.json.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from carbon_magic.core import water
from carbon_magic.core.tables import UnknownLocation

REPO = Path(__file__).resolve().parents[1]
MIX = REPO / "data-sources" / "codecarbon-3.3.2" / "private_infra"
L_PER_KWH_PER_GAL_PER_MWH = 3.785411784 / 1000  # 1 US gal = 3.785411784 L; 1 MWh = 1000 kWh

# Macknick et al. 2012, Table 1, consumption (gal/MWh): the central figure per source
COAL, GAS_CC, OIL_STEAM, NUCLEAR, HYDRO, BIO, GEO, PV, WIND = 687, 205, 826, 672, 4491, 553, 15, 1, 0
HYDRO_LOW, HYDRO_HIGH = 1425, 18000  # the review's minimum and maximum reservoir evaporation


# OWID mix column -> central factor (gal/MWh); "other renewables excluding biofuel" is geothermal
COLUMN_FACTOR = {"coal_TWh": COAL, "gas_TWh": GAS_CC, "oil_TWh": OIL_STEAM, "nuclear_TWh": NUCLEAR,
                 "hydroelectricity_TWh": HYDRO, "biofuel_TWh": BIO, "other_renewable_exc_biofuel_TWh": GEO,
                 "solar_TWh": PV, "wind_TWh": WIND}


def source_mix() -> dict:
    return json.loads((MIX / "global_energy_mix.json").read_text(encoding="utf-8"))


# The TWh below are those of the packaged mix (checked in the test), in COLUMN_FACTOR's order.
@pytest.mark.parametrize("country, iso3, twh, expected_l_per_kwh", [
    # (2.16 x 687 + 31.43 x 205 + 9.71 x 826 + 335.65 x 672 + 53.19 x 4491 + 9.5 x 553
    #  + 0.6 x 15 + 23.26 x 1 + 48.61 x 0) / 514.11 = 944.7 gal/MWh x 0.0037854 = 3.576 L/kWh
    ("France", "FRA", [2.16, 31.43, 9.71, 335.65, 53.19, 9.5, 0.6, 23.26, 48.61], 3.576),
    # (135.35 x 687 + 76.0 x 205 + 20.13 x 826 + 8.75 x 672 + 19.48 x 4491 + 46.02 x 553
    #  + 0.21 x 15 + 61.56 x 1 + 137.29 x 0) / 504.79 = 483.4 gal/MWh = 1.830 L/kWh
    ("DE", "DEU", [135.35, 76.0, 20.13, 8.75, 19.48, 46.02, 0.21, 61.56, 137.29], 1.830),
    # (675.26 x 687 + 1802.06 x 205 + 33.0 x 826 + 775.35 x 672 + 233.96 x 4491 + 47.46 x 553
    #  + 18.61 x 15 + 238.12 x 1 + 425.23 x 0) / 4249.05 = 578.9 gal/MWh = 2.191 L/kWh
    ("United States", "USA", [675.26, 1802.06, 33.0, 775.35, 233.96, 47.46, 18.61, 238.12, 425.23], 2.191),
])
def test_a_country_is_its_mix_times_the_factors(country, iso3, twh, expected_l_per_kwh):
    entry = source_mix()[iso3]
    mix = dict(zip(COLUMN_FACTOR, twh))
    assert {column: entry[column] for column in COLUMN_FACTOR} == mix
    gal = sum(mix[column] * COLUMN_FACTOR[column] for column in COLUMN_FACTOR) / sum(twh)
    figure = water.offsite_water_intensity(country)
    assert figure.l_per_kwh == pytest.approx(gal * L_PER_KWH_PER_GAL_PER_MWH, abs=6e-4)
    assert figure.l_per_kwh == pytest.approx(expected_l_per_kwh, abs=1e-3)
    assert (figure.scope, figure.country_iso3, figure.year) == ("country", iso3, entry["year"])
    assert "Macknick" in figure.source


def test_a_us_state_uses_the_national_mix_and_says_so():
    usa = water.offsite_water_intensity("USA")
    # The packaged US-state data (EPA eGRID) has emission rates only, no generation mix.
    california = water.offsite_water_intensity("US", "CA")
    assert california.l_per_kwh == usa.l_per_kwh == pytest.approx(2.191, abs=1e-3)
    assert california.scope == "country (no generation mix packaged for region 'CA')"
    assert california.label == "United States"


def test_quebec_is_its_provincial_mix_with_its_hydro_band():
    mix = json.loads((MIX / "2023" / "canada_energy_mix.json").read_text(encoding="utf-8"))["quebec"]
    assert mix == {"naturalGas": 0.2, "nuclear": 0.0, "petroleum": 0.3, "biomass": 0.7, "coal": 0.0,
                   "other": 0.0, "solar": 0.01, "tidal": 0.0, "total": 100.01, "wind": 6.7, "hydro": 92.1}
    # central: (0.2 x 205 + 0.3 x 826 + 0.7 x 553 + 0.01 x 1 + 6.7 x 0 + 92.1 x 4491) / 100.01
    #        = 4142.5 gal/MWh = 15.681 L/kWh
    central = (0.2 * GAS_CC + 0.3 * OIL_STEAM + 0.7 * BIO + 0.01 * PV + 6.7 * WIND + 92.1 * HYDRO) / 100.01
    # high: gas steam 826, oil 826, biopower 553, hydro 18000
    high = (0.2 * 826 + 0.3 * 826 + 0.7 * 553 + 0.01 * PV + 92.1 * HYDRO_HIGH) / 100.01
    # low: gas combined-cycle dry 2, oil once-through 240, biogas dry 35, hydro 1425
    low = (0.2 * 2 + 0.3 * 240 + 0.7 * 35 + 0.01 * PV + 92.1 * HYDRO_LOW) / 100.01
    quebec = water.offsite_water_intensity("Canada", "Québec")
    assert quebec.l_per_kwh == pytest.approx(central * L_PER_KWH_PER_GAL_PER_MWH, abs=6e-4)
    assert quebec.high_l_per_kwh == pytest.approx(high * L_PER_KWH_PER_GAL_PER_MWH, abs=6e-4)
    assert quebec.low_l_per_kwh == pytest.approx(low * L_PER_KWH_PER_GAL_PER_MWH, abs=6e-4)
    assert (quebec.label, quebec.scope, quebec.country_iso3) == ("Quebec, Canada", "region", "CAN")
    assert water.offsite_water_intensity("CAN", "QC") == quebec


def test_every_figure_lies_within_its_bounds():
    places = [water.offsite_water_intensity(c) for c in ("FRA", "DEU", "USA", "BRA", "NOR", "IND")]
    places += [water.offsite_water_intensity("CAN", p) for p in ("ON", "AB", "BC")]
    for figure in places:
        assert 0 < figure.low_l_per_kwh < figure.l_per_kwh < figure.high_l_per_kwh, figure


def test_world_fallback_is_the_summed_world_mix():
    mix = source_mix()
    twh = {column: sum(entry[column] for entry in mix.values()) for column in COLUMN_FACTOR}
    gal = sum(twh[c] * COLUMN_FACTOR[c] for c in COLUMN_FACTOR) / sum(twh.values())
    world = water.offsite_water_intensity()
    assert world.l_per_kwh == pytest.approx(gal * L_PER_KWH_PER_GAL_PER_MWH, abs=6e-4)
    assert world.scope == "world" and world.country_iso3 is None
    assert world.label == "world (213 countries, 2009-2023)"


def test_a_country_without_a_mix_gets_the_world_figure_and_says_why():
    antarctica = water.offsite_water_intensity("Antarctica")
    assert antarctica.l_per_kwh == water.offsite_water_intensity().l_per_kwh
    assert antarctica.scope == "world (no generation mix packaged for Antarctica)"


def test_unknown_places_fail_with_the_closest_valid_ones():
    with pytest.raises(UnknownLocation, match="Frnace.*closest: FRA"):
        water.offsite_water_intensity("Frnace")
    with pytest.raises(UnknownLocation, match="unknown region 'Quebek'.*quebec"):
        water.offsite_water_intensity("CAN", "Quebek")


def test_per_source_factors_are_the_cited_ones_in_litres():
    factors = water.per_source_factors()
    assert factors["hydroelectricity"]["central_gal_per_mwh"] == HYDRO
    assert factors["hydroelectricity"]["high_l_per_kwh"] == pytest.approx(18000 * L_PER_KWH_PER_GAL_PER_MWH)
    assert factors["nuclear"]["central_l_per_kwh"] == pytest.approx(2.544, abs=1e-3)  # 672 x 0.0037854
    factors["nuclear"]["central_l_per_kwh"] = 0
    assert water.per_source_factors()["nuclear"]["central_l_per_kwh"] > 0  # a copy, not the table


def test_build_reproduces_the_committed_water_table(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "build_water_table.py"), "--out", str(tmp_path)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    committed = REPO / "carbon_magic" / "data" / "water.json"
    assert (tmp_path / "water.json").read_bytes() == committed.read_bytes()


# --- on-site WUE ------------------------------------------------------------------------------


def test_the_users_wue_wins_even_zero():
    for provider in (None, "aws", "gcp"):
        found = water.onsite_wue_l_per_kwh(provider, 0.0)
        assert (found.l_per_kwh, found.source) == (0.0, "wue parameter")
    assert water.onsite_wue_l_per_kwh("azure", "1.8").l_per_kwh == 1.8


@pytest.mark.parametrize("provider, l_per_kwh, year", [
    ("aws", 0.25, 2021),
    ("Azure", 0.30, 2024),
    # Google publishes volumes: 6.1e9 US gal over 24e9 kWh in 2023 = 0.962 L/kWh
    (" gcp ", round(6.1e9 * 3.785411784 / 24e9, 3), 2023),
])
def test_an_unset_wue_takes_the_providers_fleet_figure(provider, l_per_kwh, year):
    found = water.onsite_wue_l_per_kwh(provider, None)
    assert (found.l_per_kwh, found.source, found.year) == (l_per_kwh, "provider fleet", year)
    assert "report" in found.detail.lower() or "sustainable by design" in found.detail.lower() \
        or "commitment" in found.detail.lower()


def test_no_provider_and_no_wue_is_none():
    found = water.onsite_wue_l_per_kwh(None, None)
    assert (found.l_per_kwh, found.source) == (0.0, "none")


@pytest.mark.parametrize("bad", [-0.1, math.nan, math.inf, "lots"])
def test_a_bad_wue_is_refused_naming_it(bad):
    with pytest.raises(ValueError, match=r"wue must be a .*number of litres per kWh >= 0, got"):
        water.onsite_wue_l_per_kwh("aws", bad)


def test_an_unknown_provider_is_refused_with_the_accepted_ones():
    with pytest.raises(ValueError, match="cloud_provider must be one of gcp, aws, azure, got 'ovh'"):
        water.onsite_wue_l_per_kwh("ovh", None)
