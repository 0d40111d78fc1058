"""Build carbon_magic's off-site water table (litres consumed per kWh generated) from generation mixes.

    python scripts/build_water_table.py [SOURCE_DIR] [--factors CSV] [--out OUT_DIR]

Water consumed where electricity is generated (cooling of thermal plants, evaporation from
hydro reservoirs) per kWh: the share-weighted mean of per-source consumption factors
(``data-sources/water/consumption_factors.csv``, Macknick et al. 2012, gal/MWh) over each
mix of CodeCarbon 3.3.2's data (``SOURCE_DIR``, default ``data-sources/codecarbon-3.3.2``):
countries (OWID TWh per source), Canadian provinces (% per source) and the world (the sum of
every country's TWh per source). Each figure has a low and a high bound computed the same way
from the factors' low and high columns. Writes ``OUT_DIR/water.json`` (default
``carbon_magic/data``); deterministic output, stdlib only. See ``carbon_magic/data/SOURCES.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_tables  # noqa: E402  (the grid build's readers, mix arithmetic and source mappings)

DEFAULT_FACTORS = build_tables.REPO_ROOT / "data-sources" / "water" / "consumption_factors.csv"
L_PER_GAL = 3.785411784  # US gallon
KWH_PER_MWH = 1000.0
BOUNDS = ("central", "low", "high")
FACTOR_DECIMALS = 6

SOURCES = {
    "factors": {
        "name": "Macknick, Newmark, Heath and Hallett, Operational water consumption and withdrawal "
        "factors for electricity generating technologies: a review of existing literature, "
        "Environmental Research Letters 7 045802 (NREL/TP-6A20-50900), Table 1 consumption medians",
        "url": "https://doi.org/10.1088/1748-9326/7/4/045802",
        "licence": "published figures, cited",
        "year": 2012,
    },
    "countries": {
        "name": "Our World in Data, electricity generation by source (Ember; Energy Institute), "
        "via CodeCarbon 3.3.2 global_energy_mix.json",
        "url": "https://ourworldindata.org/electricity-mix",
        "licence": "CC BY 4.0",
        "year": None,
    },
    "canada_provinces": {
        "name": "Canada Energy Regulator, provincial generation mix (%), via CodeCarbon 3.3.2 "
        "canada_energy_mix.json",
        "url": "https://www.cer-rec.gc.ca/en/data-analysis/energy-markets/"
        "provincial-territorial-energy-profiles/",
        "licence": "Open Government Licence - Canada",
        "year": build_tables.CANADA_YEAR,
    },
    "world": {
        "name": "computed: the sum over every country of global_energy_mix.json of its TWh per "
        "source, x the factors",
        "url": "https://ourworldindata.org/electricity-mix",
        "licence": "CC BY 4.0",
        "year": None,
    },
}


def l_per_kwh(gal_per_mwh: float) -> float:
    """Litres per kWh from US gallons per MWh."""
    return gal_per_mwh * L_PER_GAL / KWH_PER_MWH


def read_factors(path: Path) -> dict[str, dict[str, float]]:
    """bound ("central", "low", "high") -> generation source -> L/kWh, unrounded."""
    rows = build_tables.read_csv(path)
    return {bound: {row["source"]: l_per_kwh(float(row[f"{bound}_gal_per_mwh"])) for row in rows}
            for bound in BOUNDS}


def factor_rows(path: Path) -> dict[str, dict]:
    """The factors as shipped: per source, gal/MWh as published and L/kWh, with the basis."""
    rows = {}
    for row in build_tables.read_csv(path):
        entry = {"basis": row["basis"]}
        for bound in BOUNDS:
            gal = float(row[f"{bound}_gal_per_mwh"])
            entry[f"{bound}_gal_per_mwh"] = gal
            entry[f"{bound}_l_per_kwh"] = round(l_per_kwh(gal), FACTOR_DECIMALS)
        rows[row["source"]] = entry
    return rows


def water_row(shares: dict[str, float], total: float, factors: dict[str, dict[str, float]]) -> dict:
    """L/kWh of a mix (and its low and high bounds); a source without a factor stops the build."""
    missing = set(shares) - set(factors["central"])
    if missing:
        raise SystemExit(f"no water factor for generation source(s) {sorted(missing)}")
    return {
        "l_per_kwh" if bound == "central" else f"{bound}_l_per_kwh":
            build_tables.mix_intensity_g_per_kwh(shares, total, factors[bound])
        for bound in BOUNDS
    }


def owid_shares(entry: dict) -> dict[str, float]:
    """TWh per generation source of one OWID country entry."""
    return {source: entry[column] for column, source in build_tables.OWID_MIX_FACTOR.items()}


def country_rows(mix: dict, factors: dict) -> dict:
    """ISO3 -> L/kWh bounds and the mix's year."""
    return {iso3: {**water_row(owid_shares(entry), entry["total_TWh"], factors), "year": entry["year"]}
            for iso3, entry in mix.items() if entry["total_TWh"] > 0}


def world_row(mix: dict, factors: dict) -> dict:
    """The world: every country's TWh per source added up; the years its countries span."""
    totals: dict[str, float] = {}
    for entry in mix.values():
        for source, twh in owid_shares(entry).items():
            totals[source] = totals.get(source, 0.0) + twh
    years = [entry["year"] for entry in mix.values()]
    return {**water_row(totals, sum(totals.values()), factors),
            "countries": len(mix), "first_year": min(years), "last_year": max(years)}


def canada_rows(raw: dict, factors: dict) -> dict:
    """Lower-case province name -> postal code, L/kWh bounds and year."""
    rows = {}
    for name, mix in raw.items():
        shares = {build_tables.CANADA_SOURCE_FACTOR.get(k, k): v for k, v in mix.items() if k != "total"}
        rows[name] = {"code": build_tables.CANADA_PROVINCE_CODE[name], **water_row(shares, mix["total"], factors),
                      "year": build_tables.CANADA_YEAR}
    return rows


def build_water(source_dir: Path, factors_path: Path) -> dict:
    """The whole water.json document."""
    infra = source_dir / "private_infra"
    factors = read_factors(factors_path)
    mix = build_tables.read_json(infra / "global_energy_mix.json")
    return {
        "per_source": factor_rows(factors_path),
        "countries": country_rows(mix, factors),
        "regions": {"CAN": canada_rows(build_tables.read_json(infra / "2023" / "canada_energy_mix.json"), factors)},
        "world": world_row(mix, factors),
        "sources": SOURCES,
    }


def water_json_text(document: dict) -> str:
    """water.json's text: compact, sorted keys, UTF-8, one trailing newline."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source_dir", nargs="?", type=Path, default=build_tables.DEFAULT_SOURCE_DIR,
                        help="CodeCarbon 3.3.2 data folder (default: %(default)s)")
    parser.add_argument("--factors", type=Path, default=DEFAULT_FACTORS,
                        help="per-source consumption factors (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=build_tables.PACKAGE_DATA_DIR,
                        help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "water.json"
    path.write_bytes(water_json_text(build_water(args.source_dir, args.factors)).encode("utf-8"))
    print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
