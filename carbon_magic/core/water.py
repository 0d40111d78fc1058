"""Water consumed per kWh: off-site (where the electricity is generated) and on-site (the data centre).

Off-site: ``offsite_water_intensity(country, region)`` from ``carbon_magic/data/water.json``
(the generation mix x Macknick et al. 2012 consumption factors per source, built by
``scripts/build_water_table.py``), by Canadian province, country, else the world mix.
On-site: ``onsite_wue_l_per_kwh(cloud_provider, wue_param)``: the user's ``wue`` when set, else
the cloud provider's published fleet WUE (``carbon_magic/data/onsite_wue.csv``), else none.
Sources and their years: ``carbon_magic/data/SOURCES.md``; method and limits: ``docs/footprint.md``.

Importing this module reads nothing; each file is read on first use and kept. Stdlib only.
"""

from __future__ import annotations

import copy
import csv
import functools
import json
import math
from dataclasses import dataclass
from typing import Any

from carbon_magic.core import tables
from carbon_magic.core.package_data import data_text

WATER_FILE = "water.json"
ONSITE_WUE_FILE = "onsite_wue.csv"
MIX_SOURCE = "generation mix x Macknick et al. 2012 water-consumption factors"


@dataclass(frozen=True)
class WaterFigure:
    """Litres of water consumed per kWh generated, with its bounds and where it comes from.

    ``low_l_per_kwh``/``high_l_per_kwh`` are the same mix with the factors' low and high
    bounds (hydro reservoir evaporation dominates the spread). ``scope`` says which table row
    was used and why: "region", "country", "country (no generation mix packaged for region
    ...)", "world" or "world (no generation mix packaged for ...)".
    """

    l_per_kwh: float
    low_l_per_kwh: float
    high_l_per_kwh: float
    source: str
    year: int | None
    label: str
    scope: str
    country_iso3: str | None = None


@dataclass(frozen=True)
class OnsiteWue:
    """On-site water per kWh and which source gave it: "wue parameter", "provider fleet" or "none"."""

    l_per_kwh: float
    source: str
    detail: str
    year: int | None = None


@functools.lru_cache(maxsize=1)
def _water() -> dict[str, Any]:
    """water.json, read once."""
    water: dict[str, Any] = json.loads(data_text(WATER_FILE))
    return water


@functools.lru_cache(maxsize=1)
def _fleet_wue() -> dict[str, dict[str, str]]:
    """onsite_wue.csv as provider -> row, read once."""
    return {row["provider"]: row for row in csv.DictReader(data_text(ONSITE_WUE_FILE).splitlines())}


def _figure(row: dict[str, Any], label: str, scope: str, iso3: str | None, year: int | None) -> WaterFigure:
    return WaterFigure(row["l_per_kwh"], row["low_l_per_kwh"], row["high_l_per_kwh"], MIX_SOURCE, year,
                       label, scope, iso3)


def world_water_intensity(why: str = "") -> WaterFigure:
    """The world mix's figure: every country's generation per source added up."""
    row = _water()["world"]
    return _figure(row, f"world ({row['countries']} countries, {row['first_year']}-{row['last_year']})",
                   f"world ({why})" if why else "world", None, row["last_year"])


def offsite_water_intensity(country: str | None = None, region: str | None = None) -> WaterFigure:
    """Off-site litres per kWh for a place; the most specific row with a known generation mix.

    ``country``: ISO3, ISO2 or name; ``region``: a region of it (Canadian provinces have their
    own mix; US states and other regions have none packaged, so they get their country's figure
    and say so). No country, or a country without a mix: the world figure. Raises
    UnknownLocation for an unknown country or region.
    """
    if not country:
        return world_water_intensity()
    iso3 = tables.normalise_country(country)
    if region:
        _, name = tables.region_name(iso3, region)
        regions = _water()["regions"].get(iso3)
        if regions is not None:
            row = regions[name]
            return _figure(row, tables.region_intensity(iso3, name).label, "region", iso3, row["year"])
    row = _water()["countries"].get(iso3)
    if row is None:
        return world_water_intensity(f"no generation mix packaged for {tables.country_name(iso3)}")
    scope = f"country (no generation mix packaged for region {region!r})" if region else "country"
    return _figure(row, tables.country_name(iso3), scope, iso3, row["year"])


def per_source_factors() -> dict[str, dict[str, Any]]:
    """The consumption factor per generation source: gal/MWh as published, L/kWh, and its basis."""
    return copy.deepcopy(_water()["per_source"])


def fleet_wue(cloud_provider: str) -> OnsiteWue:
    """The published fleet-average WUE of "aws", "azure" or "gcp" (KeyError for others)."""
    row = _fleet_wue()[cloud_provider]
    return OnsiteWue(float(row["wue_l_per_kwh"]), "provider fleet", f"{row['report']} ({row['basis']})",
                     int(row["year"]))


def _checked_wue(wue_param: float) -> float:
    try:
        wue = float(wue_param)
    except (TypeError, ValueError):
        raise ValueError(f"wue must be a number of litres per kWh >= 0, got {wue_param!r}") from None
    if not math.isfinite(wue) or wue < 0:
        raise ValueError(f"wue must be a finite number of litres per kWh >= 0, got {wue_param!r}")
    return wue


def onsite_wue_l_per_kwh(cloud_provider: str | None, wue_param: float | None) -> OnsiteWue:
    """On-site WUE (L/kWh) and its source.

    ``wue_param`` is the user's ``wue`` or None when the user did not set it: a set value
    wins (0 included). Unset, a known ``cloud_provider`` ("aws", "azure", "gcp") gives its
    published fleet figure; no provider gives 0 with source "none". Raises ValueError for a negative or
    non-numeric ``wue`` or an unknown provider, naming the value and what is accepted.
    """
    if wue_param is not None:
        return OnsiteWue(_checked_wue(wue_param), "wue parameter", "set by the user")
    if not cloud_provider:
        return OnsiteWue(0.0, "none", "no wue set and no cloud provider known")
    provider = cloud_provider.strip().lower()
    if provider not in tables.CLOUD_PROVIDERS:
        raise ValueError(f"cloud_provider must be one of {', '.join(tables.CLOUD_PROVIDERS)}, "
                         f"got {cloud_provider!r}")
    return fleet_wue(provider)
