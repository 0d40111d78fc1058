"""Location parameters (normalisation and errors) and every row of the intensity order.

Expected figures come from carbon_magic.core.tables (tested against the source data in
test_tables.py); here what matters is which row wins and what the record says about it.
"""

from __future__ import annotations

import time

import pytest

from carbon_magic import EmissionsTracker, OfflineEmissionsTracker
from carbon_magic.core import tables
from carbon_magic.core.config import ConfigError, resolve_config
from carbon_magic.core.location.intensity import (
    CLOUD, COUNTRY, FORCED, LIVE, REGION, WORLD, IntensitySignal, LiveState, Location, choose_intensity,
)
from carbon_magic.core.location.parameters import parameter_location

MEASURED = {"powercap_root": "/nonexistent", "force_cpu_power": 40.0, "force_ram_power": 10.0, "save_to_file": False}


def located(**params) -> Location | None:
    return parameter_location(resolve_config(params))


# --- normalisation ---------------------------------------------------------------------------


@pytest.mark.parametrize("given", ["FRA", "fr", "France", "french republic"])
def test_country_in_any_spelling_becomes_iso3(given):
    location = located(country_iso_code=given)
    assert (location.country_iso_code, location.country_name) == ("FRA", "France")
    assert "country_iso_code (from argument)" in location.found_by


@pytest.mark.parametrize(
    ("params", "country", "region", "label"),
    [
        ({"country_iso_code": "US", "region": "CA"}, "USA", "CA", "California, USA"),
        ({"country_iso_code": "usa", "region": "new york"}, "USA", "new york", "New York, USA"),
        ({"country_iso_code": "Canada", "region": "Québec"}, "CAN", "Québec", "Quebec, Canada"),
        ({"region": "SE3"}, "SWE", "SE3", "SE3"),  # a region naming one country's zone needs no country
        ({"region": "no4"}, "NOR", "no4", "NO4"),
        ({"region": "California"}, "USA", "California", "California, USA"),
        ({"country_iso_code": "CHN", "region": "Inner Mongolia"}, "CHN", "Inner Mongolia", "Inner Mongolia, China"),
    ],
)
def test_regions_by_name_or_code(params, country, region, label):
    location = located(**params)
    assert location.country_iso_code == country and location.region == region
    intensity = choose_intensity(location)
    assert intensity.kind == REGION
    assert intensity.source.startswith(f"{REGION}: ") and label in intensity.source
    assert intensity.g_per_kwh == tables.region_intensity(country, region).intensity_g_per_kwh


@pytest.mark.parametrize(
    ("provider", "region", "canonical"),
    [("gcp", "europe-west1", "europe-west1"), ("AWS", "EU-WEST-3", "eu-west-3"),
     ("azure", "West Europe", "westeurope"), (None, "us-east-1", "us-east-1"), (None, "westus2", "westus2")],
)
def test_cloud_regions_normalised_and_provider_inferred(provider, region, canonical):
    location = located(cloud_provider=provider, cloud_region=region)
    assert location.cloud_region == canonical
    assert location.cloud_provider in ("gcp", "aws", "azure")
    assert location.on_cloud


# --- errors list the closest valid values ------------------------------------------------------


def error_of(**params) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        located(**params)
    return caught.value


def test_unknown_country_lists_closest():
    error = error_of(country_iso_code="Frnace")
    assert "closest: FRA (France)" in str(error) and "country_iso_code from argument" in str(error)
    assert error.name == "country_iso_code"


def test_unknown_region_lists_closest_of_that_country():
    error = error_of(country_iso_code="USA", region="Califrnia")
    assert "closest: california" in str(error) and error.name == "region"


def test_region_of_a_country_without_regional_data():
    assert "no regional data" in str(error_of(country_iso_code="FRA", region="Paris"))


def test_ambiguous_region_needs_a_country():
    error = error_of(region="SC")  # South Carolina (US-SC) or Sichuan (CN-SC)
    assert "USA" in str(error) and "CHN" in str(error) and "set country_iso_code" in str(error)


def test_unknown_cloud_region_lists_closest():
    error = error_of(cloud_provider="aws", cloud_region="us-est-1")
    assert "closest: " in str(error) and "us-east-1" in str(error) and error.name == "cloud_region"


def test_unknown_cloud_provider_lists_accepted():
    with pytest.raises(ConfigError, match="'gcp', 'aws', 'azure'"):
        resolve_config({"cloud_provider": "ovh"})


def test_cloud_provider_without_region_and_region_without_provider():
    assert "needs cloud_region" in str(error_of(cloud_provider="gcp"))
    assert "needs cloud_provider" in str(error_of(cloud_region="mars-north1"))


def test_country_contradicting_the_cloud_region():
    assert "contradicts" in str(error_of(country_iso_code="FRA", cloud_provider="aws", cloud_region="us-east-1"))


def test_tracker_construction_fails_early_on_bad_location():
    with pytest.raises(ConfigError, match="closest"):
        OfflineEmissionsTracker(country_iso_code="CAN", region="Quebek", **MEASURED)
    with pytest.raises(ConfigError, match="cloud_region"):
        EmissionsTracker(cloud_provider="azure", cloud_region="westeurop", **MEASURED)


@pytest.mark.parametrize(("name", "value", "accepted"), [("pue", 0.99, ">= 1"), ("wue", -0.1, ">= 0")])
def test_pue_and_wue_bounds(name, value, accepted):
    with pytest.raises(ConfigError) as caught:
        EmissionsTracker(**{name: value}, **MEASURED)
    assert caught.value.name == name and accepted in str(caught.value)


# --- every row of the intensity order ------------------------------------------------------------

GCP_BELGIUM = Location("BEL", "Belgium", None, "gcp", "europe-west1", found_by="test")
CALIFORNIA = Location("USA", "United States", "california", found_by="test")


def live(value: float | None, note: str = "") -> LiveState:
    signal = IntensitySignal("test")
    signal.g_per_kwh = value
    return LiveState(signal, value, "Electricity Maps zone X at T", note)


def test_forced_beats_everything():
    intensity = choose_intensity(GCP_BELGIUM, forced_g_per_kwh=123.0, forced_from="env", live=live(50.0))
    assert (intensity.g_per_kwh, intensity.kind, intensity.signal) == (123.0, FORCED, None)
    assert "force_carbon_intensity_g_co2e_kwh = 123 g/kWh (from env)" in intensity.source


def test_gcp_cloud_table_beats_live_and_country():
    intensity = choose_intensity(GCP_BELGIUM, live=live(50.0))
    assert intensity.kind == CLOUD and intensity.signal is None
    assert intensity.g_per_kwh == tables.gcp_region_intensity("europe-west1").intensity_g_per_kwh
    assert intensity.g_per_kwh != tables.country_intensity("BEL").intensity_g_per_kwh
    assert "Google Cloud region carbon data: gcp europe-west1 (Belgium)" in intensity.source


def test_live_beats_region_and_keeps_its_signal():
    state = live(42.0)
    intensity = choose_intensity(CALIFORNIA, live=state)
    assert (intensity.g_per_kwh, intensity.kind) == (42.0, LIVE)
    assert intensity.signal is state.signal
    assert intensity.source.startswith("live API: Electricity Maps zone X at T")


def test_live_without_value_falls_to_the_table_and_says_why():
    state = live(None, "request failed (HTTP 503)")
    intensity = choose_intensity(CALIFORNIA, live=state)
    assert intensity.kind == REGION and intensity.signal is state.signal
    assert "live intensity request failed (HTTP 503)" in intensity.source


def test_region_beats_country():
    intensity = choose_intensity(CALIFORNIA)
    assert intensity.kind == REGION
    assert intensity.g_per_kwh == tables.region_intensity("USA", "california").intensity_g_per_kwh
    assert "EPA eGRID state CO2e output rate 2023: California, USA" in intensity.source


def test_a_region_outside_the_tables_gives_the_country():
    stockholm = Location("SWE", "Sweden", "Stockholm", found_by="IP geolocation")
    intensity = choose_intensity(stockholm)
    assert intensity.kind == COUNTRY
    assert intensity.g_per_kwh == tables.country_intensity("SWE").intensity_g_per_kwh
    assert intensity.source.endswith("location: IP geolocation")


def test_country_table_with_year():
    intensity = choose_intensity(Location("FRA", "France"))
    figure = tables.country_intensity("FRA")
    assert (intensity.g_per_kwh, intensity.kind) == (figure.intensity_g_per_kwh, COUNTRY)
    assert intensity.source == f"country table: {figure.source} {figure.year}: France"


def test_country_without_figure_and_no_location_give_the_world_average():
    andorra = choose_intensity(Location("AND", "Andorra"))
    nowhere = choose_intensity(Location(found_by="IP geolocation failed"))
    for intensity in (andorra, nowhere):
        assert (intensity.g_per_kwh, intensity.kind) == (475.0, WORLD)
        assert "IEA" in intensity.source and "2019" in intensity.source
    assert "Andorra has no figure" in andorra.source
    assert "location unknown" in nowhere.source and "IP geolocation failed" in nowhere.source


@pytest.mark.parametrize(
    ("provider", "region", "country", "kind", "grid_region"),
    [("aws", "us-east-1", "USA", REGION, "virginia"), ("aws", "eu-west-1", "IRL", COUNTRY, None),
     ("azure", "westeurope", "NLD", COUNTRY, None), ("azure", "norwayeast", "NOR", REGION, "NO1")],
)
def test_aws_and_azure_resolve_through_their_place_and_say_so(provider, region, country, kind, grid_region):
    tracker = OfflineEmissionsTracker(cloud_provider=provider, cloud_region=region, **MEASURED)
    tracker.start()
    time.sleep(0.02)
    tracker.stop()
    data = tracker.final_emissions_data
    assert (data.country_iso_code, data.cloud_provider, data.cloud_region, data.on_cloud) == (country, provider, region, "Y")
    assert data.region == grid_region
    assert data.intensity_source.startswith(kind)
    assert f"{provider} {region}" in data.intensity_source and "has no intensity table" in data.intensity_source
    expected = (tables.region_intensity(country, grid_region) if grid_region else tables.country_intensity(country))
    assert data.intensity_g_per_kwh == expected.intensity_g_per_kwh
    assert data.emissions == pytest.approx(data.energy_consumed * expected.intensity_g_per_kwh / 1000, rel=1e-12)


def test_every_record_carries_intensity_source_place_pue_and_wue():
    tracker = OfflineEmissionsTracker(country_iso_code="CAN", region="QC", pue=1.4, wue=1.7, **MEASURED)
    tracker.start()
    time.sleep(0.02)
    tracker.stop()
    data = tracker.final_emissions_data
    figure = tables.region_intensity("CAN", "QC")
    assert (data.country_iso_code, data.country_name, data.region) == ("CAN", "Canada", "QC")
    assert (data.pue, data.wue, data.intensity_g_per_kwh) == (1.4, 1.7, figure.intensity_g_per_kwh)
    assert data.intensity_source.startswith("region table: Canada Energy Regulator")
    assert data.water_consumed == pytest.approx(data.energy_consumed * 1.7, rel=1e-12)
    raw_kwh = (data.cpu_power + data.ram_power + data.platform_power) * data.duration / 3.6e6  # platform counts
    assert data.energy_consumed == pytest.approx(raw_kwh * 1.4, rel=1e-6)
