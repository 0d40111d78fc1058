"""Build carbon_magic's embodied-emissions table from Boavizta's reference data.

    pip download --no-deps boaviztapi==2.5.0 -d /tmp/boavizta
    python scripts/build_embodied_table.py /tmp/boavizta/boaviztapi-2.5.0-py3-none-any.whl [--out OUT_DIR]

Reads the data files inside the boaviztapi wheel (Boavizta's manufacture factors
``data/factors.yml``, CPU die sizes ``data/crowdsourcing/cpu_specs.csv``, memory densities
``ram_manufacture.csv`` / ``ssd_manufacture.csv``, GPU facts ``gpu_specs.csv`` and the GPU
archetype) and writes ``OUT_DIR/embodied.json`` (default ``carbon_magic/data``): the factors
carbon_magic's ``core/embodied.py`` applies, CPU die areas by core count, and each GPU's
manufacture kg CO2e computed with Boavizta's GPU method (ported below; boaviztapi is not a
dependency). Needs PyYAML (in the development environment). Deterministic output.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import statistics
import sys
import zipfile
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DATA_DIR = REPO_ROOT / "carbon_magic" / "data"
DATA = "boaviztapi/data/"
DECIMALS = 4

# Boavizta's GPU die-yield model (boaviztapi/models/component/gpu.py)
VRAM_DIE_MM2_PER_GB = 15.5
KERF_MM = 0.2
WAFER_DIAMETER_MM = 300.0
WAFER_MM2 = math.pi * (WAFER_DIAMETER_MM / 2) ** 2
GPU_PARTS = {  # gpu_specs.csv column (or archetype field) -> factors.yml gpu part, per kg / mm2 / cm2
    "mass_casing": "casing",
    "mass_heatsink": "heatsink",
    "pwb_surface": "pwb",
    "die_surface": "gpu",
}
ARCHETYPE_FIELD = {"mass_casing": "casing_weight", "mass_heatsink": "heatsink_weight",
                   "pwb_surface": "pwb_surface", "mass": "weight"}
TRANSPORT_KM = {"distance_boat": "transport_boat", "distance_truck": "transport_truck",
                "distance_plane": "transport_plane"}

SOURCE = {
    "name": "Boavizta, boaviztapi 2.5.0 reference data (factors.yml, crowdsourcing/*.csv, "
    "archetypes/components/gpu.csv) and its component methods",
    "url": "https://github.com/Boavizta/boaviztapi",
    "licence": "figures from the cited LCAs as collected by Boavizta (boaviztapi is AGPL-3.0; "
    "no code or file of it is shipped, only figures)",
    "year": 2025,
}
LIFETIME = {
    "default_years": 4,
    "source": "Cloud Carbon Footprint methodology, embodied emissions: servers amortised over a "
    "4-year lifespan (https://www.cloudcarbonfootprint.org/docs/methodology/); Boavizta's "
    "archetypes use 26280 h (3 years)",
}
GPU_BAND = {
    "relative": 0.6,
    "source": "EcoDiag (CNRS EcoInfo): GPU LCA uncertainty 60 %, as quoted in Boavizta's GPU "
    "issue (https://github.com/Boavizta/boaviztapi/issues/65)",
}


def rounded(value: float) -> float:
    return round(float(value), DECIMALS)


def read_text(wheel: zipfile.ZipFile, name: str) -> str:
    return wheel.read(DATA + name).decode("utf-8-sig")


def read_rows(wheel: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(read_text(wheel, name))))


def spread(values: list[float]) -> dict[str, float]:
    """mean, min and max, rounded."""
    return {"mean": rounded(statistics.mean(values)), "min": rounded(min(values)), "max": rounded(max(values))}


def cpu_die_areas(rows: list[dict[str, str]]) -> dict:
    """Mean/min/max total die area (mm2): of all CPUs, and by core count (Boavizta's completion)."""
    by_cores: dict[int, list[float]] = {}
    for row in rows:
        if row["total_die_size"] and row["cores"]:
            by_cores.setdefault(int(float(row["cores"])), []).append(float(row["total_die_size"]))
    every = [area for areas in by_cores.values() for area in areas]
    return {"all": spread(every), "by_cores": {str(c): spread(a) for c, a in sorted(by_cores.items())}}


def effective_wafer_mm2(die_mm2: float) -> float:
    """Wafer area used per good die, kerf and yield included (Boavizta's GPU model)."""
    width = math.sqrt(die_mm2) + KERF_MM
    area = width ** 2
    dies_per_wafer = WAFER_MM2 / area - math.pi * WAFER_DIAMETER_MM / math.sqrt(2 * area)
    effective = area * (WAFER_MM2 / (dies_per_wafer * area))
    return effective / math.exp(-math.sqrt(area / 100 * 0.1))


def gpu_kg(row: dict[str, str], archetype: dict[str, str], factors: dict) -> float:
    """Manufacture, transport and end-of-life kg CO2e of one GPU board (Boavizta's method).

    As in boaviztapi, ``die_surface`` is the effective wafer area (losses included), the VRAM
    area goes through the yield model, and the table's ``unit`` column is not used. Checked
    against boaviztapi 2.5.0's own gpu_impact_embedded: H100 SXM 80GB 575.0979, T4 130.6931,
    A100 SXM4 80GB 567.7229, the "Large GPU" archetype 575.0875 kg.
    """

    def value(column: str) -> float:
        text = row.get(column) or archetype[ARCHETYPE_FIELD[column]]
        return float(text)

    def factor(part: str) -> float:
        phases = factors[part]
        return next(iter(phases.values()))["gwp"]["impact"]

    mass_kg = value("mass")
    total = sum(value(column) * factor(part) for column, part in GPU_PARTS.items())
    vram_dies = float(row["number"])
    vram_die_mm2 = float(row["vram"]) * VRAM_DIE_MM2_PER_GB / vram_dies
    total += effective_wafer_mm2(vram_die_mm2) * vram_dies * factor("vram")
    total += mass_kg * factor("upstream_transport")
    total += sum(float(row[column]) * mass_kg * factor(part) for column, part in TRANSPORT_KM.items())
    total += mass_kg * factor("end_of_life")
    return total


def gpu_rows(wheel: zipfile.ZipFile, factors: dict) -> dict[str, dict]:
    """GPU name -> kg CO2e per board; the archetype's "Large GPU" under "default"."""
    archetype = read_rows(wheel, "archetypes/components/gpu.csv")[0]
    rows = {row["name"]: {"kg": rounded(gpu_kg(row, archetype, factors["gpu"]))}
            for row in read_rows(wheel, "crowdsourcing/gpu_specs.csv")}
    # The archetype gives a raw die area: through the wafer model, as boaviztapi does.
    die_mm2 = effective_wafer_mm2(float(archetype["gpu_surface"]))
    default = {"number": archetype["vram_dies"], "vram": archetype["vram"], "die_surface": str(die_mm2),
               "distance_boat": archetype["transport_boat"],
               "distance_truck": archetype["transport_truck"], "distance_plane": archetype["transport_plane"]}
    rows["default"] = {"kg": rounded(gpu_kg(default, archetype, factors["gpu"])), "name": archetype["name"]}
    return rows


def density(rows: list[dict[str, str]]) -> dict[str, float]:
    return spread([float(row["density"]) for row in rows])


def build_embodied(wheel_path: Path) -> dict:
    """The whole embodied.json document."""
    with zipfile.ZipFile(wheel_path) as wheel:
        factors = yaml.safe_load(read_text(wheel, "factors.yml"))
        ram_archetype = read_rows(wheel, "archetypes/components/ram.csv")[0]
        psu_archetype = read_rows(wheel, "archetypes/components/power_supply.csv")[0]
        psu_kg = [float(x) for x in psu_archetype["unit_weight"].split(";")]
        return {
            "cpu": {"die_kg_per_mm2": factors["cpu"]["gwp"]["die_impact"],
                    "base_kg": factors["cpu"]["gwp"]["impact"],
                    "die_mm2": cpu_die_areas(read_rows(wheel, "crowdsourcing/cpu_specs.csv"))},
            "ram": {"die_kg_per_cm2": factors["ram"]["gwp"]["die_impact"],
                    "base_kg_per_module": factors["ram"]["gwp"]["impact"],
                    "module_gb": float(ram_archetype["capacity"].split(";")[0]),
                    "density_gb_per_cm2": density(read_rows(wheel, "crowdsourcing/ram_manufacture.csv"))},
            "ssd": {"die_kg_per_cm2": factors["ssd"]["gwp"]["die_impact"],
                    "base_kg": factors["ssd"]["gwp"]["impact"],
                    "density_gb_per_cm2": density(read_rows(wheel, "crowdsourcing/ssd_manufacture.csv"))},
            "hdd": {"kg": factors["hdd"]["gwp"]["impact"]},
            "platform": {"motherboard_kg": factors["motherboard"]["gwp"]["impact"],
                         "power_supply_kg_per_kg": factors["power_supply"]["gwp"]["impact"],
                         "power_supply_mass_kg": {"mean": psu_kg[0], "min": psu_kg[1], "max": psu_kg[2]},
                         "rack_case_kg": factors["case"]["gwp"]["rack"]["impact"],
                         "assembly_kg": factors["assembly"]["gwp"]["impact"]},
            "gpu": {"models": gpu_rows(wheel, factors), "band": GPU_BAND},
            "lifetime": LIFETIME,
            "source": SOURCE,
        }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="the boaviztapi wheel (pip download --no-deps boaviztapi)")
    parser.add_argument("--out", type=Path, default=PACKAGE_DATA_DIR, help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "embodied.json"
    text = json.dumps(build_embodied(args.wheel), sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    path.write_bytes(text.encode("utf-8"))
    print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
