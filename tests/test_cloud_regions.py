"""The hand-written AWS and Azure region table (carbon_magic/data/cloud_regions.csv)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from carbon_magic.core import tables

TABLE = Path(__file__).resolve().parents[1] / "carbon_magic" / "data" / "cloud_regions.csv"


def rows() -> list[dict[str, str]]:
    with open(TABLE, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_header_order_and_uniqueness():
    table = rows()
    assert list(table[0]) == ["provider", "region", "country_iso3", "grid_region", "place"]
    keys = [(r["provider"], r["region"]) for r in table]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert {r["provider"] for r in table} == {"aws", "azure"}
    assert all(r["region"] == r["region"].strip().lower() and " " not in r["region"] for r in table)


@pytest.mark.parametrize("row", rows(), ids=lambda r: f"{r['provider']}-{r['region']}")
def test_every_region_resolves_to_a_figure(row):
    cloud = tables.cloud_region(row["provider"], row["region"])
    assert cloud.country_iso3 == row["country_iso3"] == tables.normalise_country(row["country_iso3"])
    assert tables.country_intensity(cloud.country_iso3).intensity_g_per_kwh > 0
    if row["grid_region"]:
        assert tables.region_intensity(cloud.country_iso3, row["grid_region"]).country_iso3 == cloud.country_iso3
    assert row["place"]


def test_region_ids_name_one_provider_only():
    gcp = set(tables.valid_gcp_regions())
    for row in rows():
        assert row["region"] not in gcp
        assert tables.cloud_providers_of(row["region"]) == [row["provider"]]


def test_lookups_normalise_and_suggest():
    assert tables.cloud_region("Azure", " North Europe ").region == "northeurope"
    assert tables.cloud_region("gcp", "EUROPE-WEST1").country_iso3 == "BEL"
    with pytest.raises(tables.UnknownLocation) as caught:
        tables.cloud_region("azure", "westeuropa")
    assert caught.value.suggestions[0] == "westeurope"
    with pytest.raises(tables.UnknownLocation) as caught:
        tables.cloud_region("amazon", "us-east-1")
    assert "aws" in caught.value.suggestions and "CLOUD_PROVIDERS" in str(caught.value)
