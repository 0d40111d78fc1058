"""Build carbon_magic's packaged data tables from CodeCarbon 3.3.2's data files.

    python scripts/build_tables.py [SOURCE_DIR] [--out OUT_DIR]

SOURCE_DIR defaults to ``data-sources/codecarbon-3.3.2`` in the repository;
OUT_DIR defaults to ``carbon_magic/data``. Writes ``grid.json`` and ``cpu_tdp.csv`` (with the
CPU models of ``data-sources/specpower/specpower_ssj2008.csv`` that CodeCarbon's table lacks);
``countries.csv`` (hand-maintained ISO 3166-1 table) is read from the package, never written.
Output is deterministic: sorted keys, rounded floats, LF line endings. Stdlib only.
See ``carbon_magic/data/SOURCES.md`` for what each figure is and how it was derived.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import io
import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE_DIR = REPO_ROOT / "data-sources" / "codecarbon-3.3.2"
# SPEC power_ssj2008 results (cloud-energy's parse): CPU models CodeCarbon's table lacks come from here.
SPECPOWER_CSV = REPO_ROOT / "data-sources" / "specpower" / "specpower_ssj2008.csv"
PACKAGE_DATA_DIR = REPO_ROOT / "carbon_magic" / "data"

G_PER_KWH_PER_LB_PER_MWH = 0.453592  # 1 lb/MWh = 453.592 g / 1000 kWh
DECIMALS = 3

# Where a source names a generation type differently from carbon_intensity_per_source.json.
# Types absent here and from that file (Canada's "other", "tidal") count at 0 g/kWh.
CANADA_SOURCE_FACTOR = {"naturalGas": "natural_gas", "hydro": "hydroelectricity"}
OWID_MIX_FACTOR = {
    "coal_TWh": "coal",
    "gas_TWh": "natural_gas",
    "oil_TWh": "petroleum",
    "nuclear_TWh": "nuclear",
    "hydroelectricity_TWh": "hydroelectricity",
    "solar_TWh": "solar",
    "wind_TWh": "wind",
    "biofuel_TWh": "biofuel",
    "other_renewable_exc_biofuel_TWh": "geothermal",
}
CANADA_PROVINCE_CODE = {
    "alberta": "AB",
    "british columbia": "BC",
    "manitoba": "MB",
    "new brunswick": "NB",
    "newfoundland and labrador": "NL",
    "northwest territories": "NT",
    "nova scotia": "NS",
    "nunavut": "NU",
    "ontario": "ON",
    "prince edward island": "PE",
    "quebec": "QC",
    "saskatchewan": "SK",
    "yukon": "YT",
}
CANADA_YEAR = 2023  # CodeCarbon files the mix under private_infra/2023; the file has no year.
GCP_REGION_FIXES = {"me-cenrtal1": "me-central1"}  # typo in CodeCarbon 3.3.2's impact.csv

SOURCES = {
    "countries": {
        "name": "Our World in Data, carbon intensity of electricity (Ember; Energy Institute "
        "Statistical Review of World Energy)",
        "url": "https://ourworldindata.org/grapher/carbon-intensity-electricity",
        "licence": "CC BY 4.0",
        "year": None,
    },
    "world_average": {
        "name": "IEA Global Energy & CO2 Status Report 2019",
        "url": "https://www.iea.org/reports/global-energy-co2-status-report-2019/emissions",
        "licence": "IEA figure, cited",
        "year": 2019,
    },
    "per_source": {
        "name": "CodeCarbon 3.3.2 carbon_intensity_per_source.json (figures from "
        "responsibleproblemsolving/energy-usage, EPA eGRID, World Nuclear Association, "
        "IPCC AR5 WG3 Annex III)",
        "url": "https://github.com/mlco2/codecarbon",
        "licence": "MIT (CodeCarbon); underlying figures as cited there",
        "year": None,
    },
    "us_states": {
        "name": "EPA eGRID2023, state annual CO2e total output emission rate (STC2ERTA)",
        "url": "https://www.epa.gov/egrid/download-data",
        "licence": "public domain (US government work)",
        "year": 2023,
    },
    "canada_provinces": {
        "name": "Canada Energy Regulator, provincial generation mix (%), x per-source factors",
        "url": "https://www.cer-rec.gc.ca/en/data-analysis/energy-markets/"
        "provincial-territorial-energy-profiles/",
        "licence": "Open Government Licence - Canada",
        "year": CANADA_YEAR,
    },
    "china_provinces": {
        "name": "China MEE and NBS, Announcement 2025 No. 47, provincial average electricity "
        "CO2 emission factors (CO2 only)",
        "url": "https://www.mee.gov.cn/xxgk2018/xxgk/xxgk01/202512/t20251231_1139517.html",
        "licence": "official government publication",
        "year": 2023,
    },
    "nordic_zones": {
        "name": "ENTSO-E Transparency Platform, actual generation per production type (A75) "
        "per bidding zone, x per-source factors (via CodeCarbon 3.3.2)",
        "url": "https://transparency.entsoe.eu/",
        "licence": "ENTSO-E Transparency Platform terms (reuse with attribution)",
        "year": 2025,
    },
    "gcp_regions": {
        "name": "Google Cloud region carbon data (grid carbon intensity per region)",
        "url": "https://cloud.google.com/sustainability/region-carbon#data",
        "licence": "published by Google Cloud",
        "year": None,
    },
    "cpu_tdp": {
        "name": ("CodeCarbon 3.3.2 hardware/cpu_power.csv (Intel ARK, AMD product specifications); the CPU models "
                 "of SPEC power_ssj2008 results it lacks, with their TDP (cloud-energy's parse, MIT)"),
        "url": "https://github.com/mlco2/codecarbon",
        "licence": "MIT (CodeCarbon); TDPs are manufacturer specifications",
        "year": None,
    },
}


def rounded(value: float) -> float:
    """A float rounded to the tables' precision, so output is stable and compact."""
    return round(float(value), DECIMALS)


def read_json(path: Path) -> dict:
    """A JSON file as a dict."""
    return json.loads(path.read_text(encoding="utf-8"))


def read_csv(path: Path) -> list[dict[str, str]]:
    """A CSV file's rows as dicts; a UTF-8 byte order mark is ignored."""
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def load_cpu_catalog():
    """``carbon_magic.core.cpu_catalog`` of this repository (stdlib only, as the whole of ``core``),
    installed or not."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    return importlib.import_module("carbon_magic.core.cpu_catalog")


def per_source_factors(raw: dict) -> dict[str, float]:
    """g CO2e/kWh per generation type: the numeric entries other than the world average."""
    return {
        name: rounded(value)
        for name, value in raw.items()
        if isinstance(value, (int, float)) and not name.startswith("world_average")
    }


def mix_intensity_g_per_kwh(shares: dict[str, float], total: float, factors: dict[str, float]) -> float:
    """Share-weighted mean of per-source factors; sources with no factor count as 0 g/kWh."""
    weighted = sum(share * factors.get(source, 0.0) for source, share in shares.items())
    return rounded(weighted / total)


def country_rows(mix: dict, countries: dict[str, dict], factors: dict[str, float]) -> dict:
    """ISO3 -> name, ISO2, intensity and year from the OWID country table.

    A country whose published intensity is 0 while it generates electricity (only the Central
    African Republic, all hydro) gets the intensity of its mix instead, flagged ``from_mix``.
    """
    rows = {}
    for iso3, entry in mix.items():
        if iso3 not in countries:
            raise SystemExit(f"{iso3} ({entry['country_name']}) is missing from countries.csv")
        row = {
            "name": countries[iso3]["name"],
            "iso2": countries[iso3]["iso2"],
            "intensity_g_per_kwh": rounded(entry["carbon_intensity"]),
            "year": entry["year"],
        }
        if entry["carbon_intensity"] <= 0 and entry["total_TWh"] > 0:
            shares = {OWID_MIX_FACTOR[k]: entry[k] for k in OWID_MIX_FACTOR}
            row["intensity_g_per_kwh"] = mix_intensity_g_per_kwh(shares, entry["total_TWh"], factors)
            row["from_mix"] = True
        rows[iso3] = row
    return rows


def us_state_rows(raw: dict) -> dict:
    """Lower-case state name -> 2-letter code and g CO2e/kWh converted from lbs/MWh."""
    year = raw["_source"]["year"]
    return {
        name: {
            "code": entry["regionCode"],
            "intensity_g_per_kwh": rounded(entry["emissions"] * G_PER_KWH_PER_LB_PER_MWH),
            "year": year,
        }
        for name, entry in raw.items()
        if not name.startswith("_") and name != "usa"
    }


def canada_province_rows(raw: dict, factors: dict[str, float]) -> dict:
    """Lower-case province name -> postal code and the intensity of its % generation mix."""
    rows = {}
    for name, mix in raw.items():
        shares = {CANADA_SOURCE_FACTOR.get(k, k): v for k, v in mix.items() if k != "total"}
        rows[name] = {
            "code": CANADA_PROVINCE_CODE[name],
            "intensity_g_per_kwh": mix_intensity_g_per_kwh(shares, mix["total"], factors),
            "year": CANADA_YEAR,
        }
    return rows


def china_province_rows(raw: dict) -> dict:
    """Lower-case province name -> ISO 3166-2 code, other names, g CO2/kWh and year."""
    rows = {}
    for code, entry in raw["data"].items():
        if entry["unit"] != "gCO2/kWh":
            raise SystemExit(f"unexpected unit for {code}: {entry['unit']}")
        name = entry["description"].lower()
        rows[name] = {
            "code": code,
            "aliases": sorted(set(entry["names"]) - {name}),
            "intensity_g_per_kwh": rounded(entry["emission_factor"]),
            "year": entry["year"],
        }
    return rows


def nordic_zone_rows(raw: dict) -> dict:
    """Bidding zone -> g CO2e/kWh, year and description."""
    rows = {}
    for zone, entry in raw["data"].items():
        if entry["unit"] != "gCO2eq/kWh":
            raise SystemExit(f"unexpected unit for {zone}: {entry['unit']}")
        rows[zone] = {
            "intensity_g_per_kwh": rounded(entry["emission_factor"]),
            "year": entry["year"],
            "description": entry["description"],
        }
    return rows


def gcp_region_rows(impact: list[dict[str, str]], countries: dict[str, dict]) -> dict:
    """GCP region id -> g CO2e/kWh, country ISO3 and name, city."""
    rows = {}
    for entry in impact:
        if entry["provider"] != "gcp":
            continue
        region = GCP_REGION_FIXES.get(entry["region"], entry["region"])
        iso3 = entry["countryIsoCode"]
        rows[region] = {
            "intensity_g_per_kwh": rounded(entry["impact"]),
            "country_iso3": iso3,
            "country_name": countries[iso3]["name"],
            "city": entry["city"],
        }
    return rows


def build_grid(source_dir: Path, countries: dict[str, dict]) -> dict:
    """The whole grid.json document."""
    infra = source_dir / "private_infra"
    per_source_raw = read_json(infra / "carbon_intensity_per_source.json")
    factors = per_source_factors(per_source_raw)
    return {
        "world_average_g_per_kwh": rounded(per_source_raw["world_average"]),
        "per_source_g_per_kwh": factors,
        "countries": country_rows(read_json(infra / "global_energy_mix.json"), countries, factors),
        "us_states": us_state_rows(read_json(infra / "2023" / "usa_emissions.json")),
        "canada_provinces": canada_province_rows(read_json(infra / "2023" / "canada_energy_mix.json"), factors),
        "china_provinces": china_province_rows(read_json(infra / "2023" / "china_provincial_emissions.json")),
        "nordic_zones": nordic_zone_rows(read_json(infra / "nordic_emissions.json")),
        "gcp_regions": gcp_region_rows(read_csv(source_dir / "cloud" / "impact.csv"), countries),
        "sources": SOURCES,
    }


def parse_tdp_w(text: str) -> float | None:
    """A positive TDP in watts, or None for a malformed ("27.29.5") or zero entry."""
    try:
        tdp_w = float(text)
    except ValueError:
        return None
    return tdp_w if tdp_w > 0 else None


def cpu_rows(raw_rows: list[dict[str, str]], normalise) -> list[tuple[str, float, str]]:
    """(display name, TDP W, normalised name) with one row per normalised name, sorted by name.

    Display names keep their words; only runs of whitespace (including no-break spaces) become
    one space. Rows without a usable TDP are dropped. Where rows share a normalised name, the
    highest TDP is kept (the conservative figure; e.g. "Phenom II X4 945 (95W)" and "(125W)"
    give 125 W), then the longest name (it names the vendor), then the first in sort order.
    """
    best: dict[str, tuple[float, int, str]] = {}
    for raw in raw_rows:
        name = " ".join(raw["Name"].split())
        tdp_w = parse_tdp_w(raw["TDP"])
        key = normalise(name)
        if tdp_w is None or not key:
            continue
        candidate = (-tdp_w, -len(name), name)
        if key not in best or candidate < best[key]:
            best[key] = candidate
    return sorted((name, -negative_tdp, key) for key, (negative_tdp, _, name) in best.items())


def display_name(vendor: str, key: str) -> str:
    """"AMD Opteron 8381 HE" for vendor "amd" and key "opteron 8381 he"."""
    words = [word.upper() if any(c.isdigit() for c in word) or len(word) <= 2 else word.capitalize()
             for word in key.split()]
    return " ".join([{"amd": "AMD", "intel": "Intel"}.get(vendor, vendor.capitalize())] + words)


def specpower_cpu_rows(spec_rows: list[dict[str, str]], table_rows: list[tuple[str, float, str]],
                       catalog) -> list[dict[str, str]]:
    """The CPU models of the SPEC results that no table row names (same model number, same
    family), as cpu_power.csv rows with the TDP the results give."""
    by_model: dict[frozenset[str], list[frozenset[str]]] = {}
    for _, _, key in table_rows:
        tokens = frozenset(key.split())
        by_model.setdefault(catalog._model_tokens(tokens), []).append(tokens)
    rows = []
    for spec in spec_rows:
        key = catalog.normalise_cpu_name(spec["cpu_name"])
        tokens = frozenset(key.split())
        models = catalog._model_tokens(tokens)
        if not spec["tdp_w_per_chip"] or not models:
            continue
        if any(catalog._shares_family(tokens, row) for row in by_model.get(models, ())):
            continue
        rows.append({"Name": display_name(spec["cpu_vendor"], key), "TDP": spec["tdp_w_per_chip"]})
    return rows


def format_tdp(tdp_w: float) -> str:
    """A TDP as its shortest exact decimal: 95.0 -> "95", 2.4 -> "2.4"."""
    text = f"{tdp_w:g}"
    if float(text) != tdp_w:
        raise SystemExit(f"TDP {tdp_w!r} does not survive formatting as {text!r}")
    return text


def cpu_csv_text(rows: list[tuple[str, float, str]]) -> str:
    """cpu_tdp.csv's text: header ``name,tdp_w,key``, LF line endings.

    ``key`` is the normalised name, so that loading the table needs no normalising.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "tdp_w", "key"])
    writer.writerows((name, format_tdp(tdp_w), key) for name, tdp_w, key in rows)
    return out.getvalue()


def grid_json_text(grid: dict) -> str:
    """grid.json's text: compact, sorted keys, UTF-8, one trailing newline."""
    return json.dumps(grid, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def read_countries(path: Path) -> dict[str, dict]:
    """countries.csv as ISO3 -> row."""
    return {row["iso3"]: row for row in read_csv(path)}


def build(source_dir: Path, out_dir: Path) -> list[Path]:
    """Write grid.json and cpu_tdp.csv into out_dir; return their paths."""
    countries = read_countries(PACKAGE_DATA_DIR / "countries.csv")
    catalog = load_cpu_catalog()
    codecarbon_cpus = read_csv(source_dir / "hardware" / "cpu_power.csv")
    spec_cpus = specpower_cpu_rows(read_csv(SPECPOWER_CSV), cpu_rows(codecarbon_cpus, catalog.normalise_cpu_name),
                                   catalog)
    outputs = {
        out_dir / "grid.json": grid_json_text(build_grid(source_dir, countries)),
        out_dir / "cpu_tdp.csv": cpu_csv_text(cpu_rows(codecarbon_cpus + spec_cpus, catalog.normalise_cpu_name)),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    for path, text in outputs.items():
        path.write_bytes(text.encode("utf-8"))
    return list(outputs)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source_dir", nargs="?", type=Path, default=DEFAULT_SOURCE_DIR,
                        help="CodeCarbon 3.3.2 data folder (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=PACKAGE_DATA_DIR,
                        help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    for path in build(args.source_dir, args.out):
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
