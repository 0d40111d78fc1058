"""Grid carbon intensity and country lookups in the packaged tables.

Tables: ``carbon_magic/data/grid.json`` (g CO2e/kWh by country, US state, Canadian province,
Chinese province, Nordic bidding zone, GCP region, per generation source; built by
``scripts/build_tables.py``), ``carbon_magic/data/countries.csv`` (ISO 3166-1 codes,
English names and aliases) and ``carbon_magic/data/cloud_regions.csv`` (where each AWS and
Azure region is: they publish no intensities, so their regions resolve through their place).
Their sources and licences: ``carbon_magic/data/SOURCES.md``.

Importing this module reads nothing; each file is read on first use and kept. Stdlib only.
Every figure is a :class:`GridFigure`; every failed lookup raises :class:`UnknownLocation`
with the closest valid values and how to list them all.
"""

from __future__ import annotations

import csv
import functools
import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable

from .package_data import data_text

GRID_FILE = "grid.json"
COUNTRIES_FILE = "countries.csv"
CLOUD_REGIONS_FILE = "cloud_regions.csv"
CLOUD_PROVIDERS = ("gcp", "aws", "azure")
MAX_SUGGESTIONS = 5

_APOSTROPHES = re.compile(r"['\u2018\u2019`\u00b4]")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_CHINA_SUFFIX = re.compile(r"\s+(province|municipality|autonomous region|sar)$")
_CLOUD_REGION_SPACES = re.compile(r"[\s_]+")

COUNTRY_SOURCE = "Our World in Data / Ember country mix"
COUNTRY_MIX_SOURCE = "Our World in Data / Ember country mix x per-source factors"
WORLD_SOURCE = "IEA world average"
US_SOURCE = "EPA eGRID state CO2e output rate"
CANADA_SOURCE = "Canada Energy Regulator provincial mix x per-source factors"
CHINA_SOURCE = "China MEE/NBS provincial CO2 factor"
NORDIC_SOURCE = "ENTSO-E bidding-zone mix x per-source factors"
GCP_SOURCE = "Google Cloud region carbon data"

NORDIC_COUNTRY_PREFIX = {"SWE": "SE", "NOR": "NO", "FIN": "FI"}


@dataclass(frozen=True)
class GridFigure:
    """A grid carbon intensity and where it comes from.

    ``source`` names the data set in words (without the year), ``year`` is the figure's year
    (None where the source gives none), ``label`` the place in words ("France",
    "California, USA", "SE3", "gcp europe-west1 (Belgium)"), and ``country_iso3`` the country
    the figure belongs to (None for the world average).
    """

    intensity_g_per_kwh: float
    source: str
    year: int | None
    label: str
    country_iso3: str | None = None


class UnknownLocation(LookupError):
    """A country, region or cloud region that the tables do not know.

    ``value`` is what was looked up, ``suggestions`` the closest valid values (at most 5).
    """

    def __init__(self, what: str, value: str, suggestions: list[str], how_to_list: str, why: str = ""):
        self.value = value
        self.suggestions = suggestions
        reason = why or f"unknown {what} {value!r}"
        closest = f"; closest: {', '.join(suggestions)}" if suggestions else ""
        super().__init__(f"{reason}{closest}; all valid values: {how_to_list}")


@dataclass(frozen=True)
class _Country:
    iso3: str
    iso2: str
    name: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class _CountryIndex:
    by_iso3: dict[str, _Country]
    by_iso2: dict[str, str]
    by_key: dict[str, str]


def _key(text: str) -> str:
    """A comparable form of a place name: no case, accents, punctuation, "the" or "St"."""
    text = _APOSTROPHES.sub("", text)
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = _NON_ALNUM.sub(" ", plain.lower().replace("&", " and ")).split()
    words = ["saint" if word == "st" else word for word in words]
    if words[:1] == ["the"]:
        words = words[1:]
    return " ".join(words)


@functools.lru_cache(maxsize=1)
def _grid() -> dict[str, Any]:
    """grid.json, read once."""
    grid: dict[str, Any] = json.loads(data_text(GRID_FILE))
    return grid


@functools.lru_cache(maxsize=1)
def _countries() -> _CountryIndex:
    """countries.csv, read once and indexed by ISO3, ISO2 and name/alias key."""
    by_iso3: dict[str, _Country] = {}
    by_key: dict[str, str] = {}
    for row in csv.DictReader(data_text(COUNTRIES_FILE).splitlines()):
        aliases = tuple(a for a in (row.get("aliases") or "").split(";") if a)
        country = _Country(row["iso3"], row["iso2"], row["name"], aliases)
        by_iso3[country.iso3] = country
        for name in (country.name, *aliases):
            by_key.setdefault(_key(name), country.iso3)
    by_iso2 = {c.iso2: c.iso3 for c in by_iso3.values()}
    return _CountryIndex(by_iso3=by_iso3, by_iso2=by_iso2, by_key=by_key)


def _closest(value: str, choices: dict[str, str]) -> list[str]:
    """Up to 5 distinct display values whose keys are closest to value's key.

    ``choices`` maps comparable keys to display values; several keys may share a display.
    Always suggests something: if nothing is close, the least distant values.
    """
    import difflib  # a bad value only: not at load

    key = _key(value)
    pool = list(choices)
    matches = difflib.get_close_matches(key, pool, n=4 * MAX_SUGGESTIONS, cutoff=0.6)
    matches = matches or difflib.get_close_matches(key, pool, n=4 * MAX_SUGGESTIONS, cutoff=0.0)
    return list(dict.fromkeys(choices[m] for m in matches))[:MAX_SUGGESTIONS]


def _country_choices() -> dict[str, str]:
    """Every accepted country key (codes, names, aliases) -> "ISO3 (Name)"."""
    index = _countries()
    shown = {iso3: f"{iso3} ({c.name})" for iso3, c in index.by_iso3.items()}
    choices = {key: shown[iso3] for key, iso3 in index.by_key.items()}
    for iso3, country in index.by_iso3.items():
        choices[iso3.lower()] = shown[iso3]
        choices[country.iso2.lower()] = shown[iso3]
    return choices


def normalise_country(text: str) -> str:
    """The ISO3 code for an ISO3 code, ISO2 code or English name/alias.

    Case-, accent- and punctuation-insensitive: "FRA", "fr", "France", " france " and
    "Côte d'Ivoire" / "cote divoire" all work. Raises UnknownLocation otherwise.
    """
    index = _countries()
    code = text.strip().upper()
    if code in index.by_iso3:
        return code
    if code in index.by_iso2:
        return index.by_iso2[code]
    iso3 = index.by_key.get(_key(text))
    if iso3 is None:
        raise UnknownLocation("country", text, _closest(text, _country_choices()),
                              "carbon_magic.core.tables.valid_countries()")
    return iso3


def country_name(iso3: str) -> str:
    """The country's common English name ("United States", "South Korea")."""
    return _countries().by_iso3[normalise_country(iso3)].name


def country_iso2(iso3: str) -> str | None:
    """The country's ISO 3166-1 alpha-2 code, or None if it has none."""
    return _countries().by_iso3[normalise_country(iso3)].iso2 or None


def country_intensity(iso3: str) -> GridFigure:
    """The country's average grid intensity (OWID/Ember); UnknownLocation if it has none."""
    code = normalise_country(iso3)
    row = _grid()["countries"].get(code)
    if row is None:
        raise UnknownLocation(
            "country", iso3, [], "carbon_magic.core.tables.valid_countries(with_intensity=True)",
            why=f"{country_name(code)} ({code}) has no grid intensity in the country table "
            "(use the world average)",
        )
    source = COUNTRY_MIX_SOURCE if row.get("from_mix") else COUNTRY_SOURCE
    return GridFigure(row["intensity_g_per_kwh"], source, row["year"], row["name"], code)


def _coded_region_keys(iso2: str) -> Callable[[str, dict[str, Any]], list[str]]:
    """Keys of a state or province: its name, its code ("ca") and ISO 3166-2 code ("us ca")."""

    def keys(name: str, row: dict[str, Any]) -> list[str]:
        code = row["code"].lower()
        return [name, code, f"{iso2} {code}"]

    return keys


def _china_region_keys(name: str, row: dict[str, Any]) -> list[str]:
    """Keys of a Chinese province: its names, ISO 3166-2 code ("cn bj") and short code ("bj")."""
    short = row["code"].split("-")[1].lower()
    return [name, *row["aliases"], _key(row["code"]), short]


def _zone_keys(name: str, row: dict[str, Any]) -> list[str]:
    """Keys of a bidding zone: its code ("se3")."""
    return [name.lower()]


@dataclass(frozen=True)
class _RegionTable:
    """Where a country's regions are in grid.json, how they are named and labelled."""

    table: str
    source: str
    keys: Callable[[str, dict[str, Any]], list[str]]
    label: Callable[[str], str]
    canonical: Callable[[str], bool] = lambda name: True


def _starts_with(prefix: str, name: str) -> bool:
    return name.startswith(prefix)


def _title(name: str) -> str:
    """A lower-case place name in title case, keeping "of" and "and" lower case."""
    return " ".join(w if w in ("of", "and") else w.capitalize() for w in name.split())


_REGION_TABLES = {
    "USA": _RegionTable("us_states", US_SOURCE, _coded_region_keys("us"),
                        lambda n: f"{_title(n)}, USA"),
    "CAN": _RegionTable("canada_provinces", CANADA_SOURCE, _coded_region_keys("ca"),
                        lambda n: f"{_title(n)}, Canada"),
    "CHN": _RegionTable("china_provinces", CHINA_SOURCE, _china_region_keys,
                        lambda n: f"{_title(n)}, China"),
    **{
        iso3: _RegionTable("nordic_zones", NORDIC_SOURCE, _zone_keys, lambda n: n,
                           canonical=functools.partial(_starts_with, prefix))
        for iso3, prefix in NORDIC_COUNTRY_PREFIX.items()
    },
}


def _region_rows(iso3: str) -> dict[str, dict[str, Any]]:
    """The country's regions: canonical name -> row (empty if it has no regional table)."""
    spec = _REGION_TABLES.get(iso3)
    if spec is None:
        return {}
    return {name: row for name, row in _grid()[spec.table].items() if spec.canonical(name)}


@functools.lru_cache(maxsize=None)
def _region_choices(iso3: str) -> dict[str, str]:
    """Every accepted key of the country's regions -> the region's canonical name."""
    spec = _REGION_TABLES[iso3]
    return {
        _key(key): name
        for name, row in _region_rows(iso3).items()
        for key in spec.keys(name, row)
    }


def _region_key(iso3: str, region: str) -> str:
    """The comparable form of a region name; for China without "province" and the like."""
    key = _key(region)
    if iso3 == "CHN":
        key = _CHINA_SUFFIX.sub("", key)
    return key


def region_name(iso3: str, region: str) -> tuple[str, str]:
    """The country's ISO3 and the canonical name of one of its regions (see region_intensity).

    Raises UnknownLocation for an unknown region (with the closest valid ones) or a country
    with no regional data.
    """
    code = normalise_country(iso3)
    how_to_list = f"carbon_magic.core.tables.valid_regions({code!r})"
    if code not in _REGION_TABLES:
        supported = ", ".join(sorted(_REGION_TABLES))
        raise UnknownLocation("region", region, [], how_to_list,
                              why=f"{country_name(code)} ({code}) has no regional data "
                              f"(regions exist for {supported}); use the country figure")
    choices = _region_choices(code)
    name = choices.get(_region_key(code, region))
    if name is None:
        raise UnknownLocation("region", region, _closest(region, choices), how_to_list,
                              why=f"unknown region {region!r} for {country_name(code)} ({code})")
    return code, name


def region_intensity(iso3: str, region: str) -> GridFigure:
    """The intensity of a region of a country.

    USA: state name or 2-letter code ("california", "CA", "US-CA"); CAN: province name or
    postal code ("Québec", "QC"); CHN: province name, pinyin variant or code ("Inner Mongolia",
    "CN-NM", "NM"); SWE: SE1-SE4; NOR: NO1-NO5; FIN: FI. Raises UnknownLocation for an unknown
    region (with the closest valid ones) or a country with no regional data.
    """
    code, name = region_name(iso3, region)
    spec = _REGION_TABLES[code]
    row = _region_rows(code)[name]
    return GridFigure(row["intensity_g_per_kwh"], spec.source, row.get("year"), spec.label(name), code)


def gcp_region_intensity(region: str) -> GridFigure:
    """The intensity of a Google Cloud region ("europe-west1"); its country is ``country_iso3``.

    The figure's year is None: the source table gives none.
    """
    regions = _grid()["gcp_regions"]
    name = region.strip().lower()
    row = regions.get(name)
    if row is None:
        raise UnknownLocation("GCP region", region, _closest(region, {_key(r): r for r in regions}),
                              "carbon_magic.core.tables.valid_gcp_regions()")
    label = f"gcp {name} ({row['country_name']})"
    return GridFigure(row["intensity_g_per_kwh"], GCP_SOURCE, None, label, row["country_iso3"])


def world_average() -> GridFigure:
    """The world average grid intensity (475 g CO2e/kWh, IEA)."""
    grid = _grid()
    year = grid["sources"]["world_average"]["year"]
    return GridFigure(grid["world_average_g_per_kwh"], WORLD_SOURCE, year, "world average")


def per_source_intensity() -> dict[str, float]:
    """g CO2e/kWh per generation source ("coal", "natural_gas", "hydroelectricity", ...)."""
    return dict(_grid()["per_source_g_per_kwh"])


def valid_regions(iso3: str) -> list[str]:
    """The canonical region names of a country (empty if it has no regional data).

    Lower-case names for USA, CAN and CHN (codes are accepted too), zone codes for SWE, NOR
    and FIN.
    """
    return sorted(_region_rows(normalise_country(iso3)))


def valid_countries(with_intensity: bool = False) -> list[str]:
    """ISO3 codes that normalise_country accepts, or only those with a grid intensity."""
    if with_intensity:
        return sorted(_grid()["countries"])
    return sorted(_countries().by_iso3)


def valid_gcp_regions() -> list[str]:
    """Google Cloud region ids with a figure."""
    return sorted(_grid()["gcp_regions"])


# --- cloud regions -------------------------------------------------------------------------


@dataclass(frozen=True)
class CloudRegion:
    """Where a cloud region is.

    ``place`` is the provider's name of the place ("US East (N. Virginia)", "St. Ghislain");
    ``grid_region`` the region of the country's regional table it lies in ("virginia", "SE3")
    where that is published, else None. Only GCP regions have intensity figures of their own
    (``gcp_region_intensity``); AWS and Azure regions resolve through ``grid_region``, then
    ``country_iso3``.
    """

    provider: str
    region: str
    country_iso3: str
    place: str
    grid_region: str | None = None


def _cloud_region_key(region: str) -> str:
    """A comparable cloud region id: no case, no spaces ("West Europe" -> "westeurope")."""
    return _CLOUD_REGION_SPACES.sub("", region.strip().lower())


@functools.lru_cache(maxsize=1)
def _cloud_regions() -> dict[str, dict[str, CloudRegion]]:
    """provider -> region id -> CloudRegion: GCP from grid.json, AWS and Azure from cloud_regions.csv."""
    table: dict[str, dict[str, CloudRegion]] = {provider: {} for provider in CLOUD_PROVIDERS}
    for name, row in _grid()["gcp_regions"].items():
        table["gcp"][name] = CloudRegion("gcp", name, row["country_iso3"], row["city"])
    for row in csv.DictReader(data_text(CLOUD_REGIONS_FILE).splitlines()):
        table[row["provider"]][row["region"]] = CloudRegion(
            row["provider"], row["region"], row["country_iso3"], row["place"], row["grid_region"] or None
        )
    return table


def _check_provider(provider: str) -> str:
    name = provider.strip().lower()
    if name not in CLOUD_PROVIDERS:
        raise UnknownLocation("cloud provider", provider, _closest(provider, {p: p for p in CLOUD_PROVIDERS}),
                              "carbon_magic.core.tables.CLOUD_PROVIDERS")
    return name


def cloud_region(provider: str, region: str) -> CloudRegion:
    """Where ``region`` of ``provider`` ("gcp", "aws", "azure") is; UnknownLocation with the closest ids."""
    name = _check_provider(provider)
    regions = _cloud_regions()[name]
    found = regions.get(_cloud_region_key(region))
    if found is None:
        raise UnknownLocation(f"{name} region", region,
                              _closest(region, {_key(r): r for r in regions}),
                              f"carbon_magic.core.tables.valid_cloud_regions({name!r})")
    return found


def cloud_providers_of(region: str) -> list[str]:
    """The providers that have a region with this id (usually one: their naming styles differ)."""
    key = _cloud_region_key(region)
    return [provider for provider, regions in _cloud_regions().items() if key in regions]


def valid_cloud_regions(provider: str) -> list[str]:
    """The region ids of ``provider`` that the tables place."""
    return sorted(_cloud_regions()[_check_provider(provider)])


def countries_with_region(region: str) -> list[str]:
    """ISO3 codes of the countries whose regional table knows ``region`` (a name or code)."""
    return [iso3 for iso3 in _REGION_TABLES if _region_key(iso3, region) in _region_choices(iso3)]


def has_regions(iso3: str) -> bool:
    """Whether the country has a regional table (USA, CAN, CHN, SWE, NOR, FIN)."""
    return normalise_country(iso3) in _REGION_TABLES
