"""carbon_magic against CodeCarbon 3.3.x, measured side by side in one run on this machine.

    python benchmarks/vs_codecarbon.py            # the full run (``make bench``), ~12 minutes
    python benchmarks/vs_codecarbon.py --quick    # a short run, printed only
    python benchmarks/vs_codecarbon.py --idle-only  # CPU while idle only (~7 min; with --quick
                                                    # ~1 min), printed only
    python benchmarks/vs_codecarbon.py --from-json benchmarks/vs_codecarbon.json --write
                                                  # rewrite the reports from saved results

CodeCarbon is installed once into its own virtual environment under .bench/ (git-ignored;
see versus/codecarbon_env.py). Every measurement runs in a fresh subprocess of the tool's
own interpreter (versus/probe.py), in an empty folder with its own HOME, tools alternating,
and hands back JSON. Measured, for both tools:

- the time a tracked trivial cell adds in a real IPython shell, first and warm (CodeCarbon:
  a tracker's start() and stop() around the cell's code; as a stopped CodeCarbon tracker
  cannot be restarted, each warm cell constructs a new one), and script-style start/stop;
- CPU used while idle by a started tracker sampling at 1 Hz and 10 Hz;
- import + load time; memory growth over 10,000 tracked cells (fewer for a tool whose cells
  would not fit the time budget: the report gives the number);
- CPU energy of windows from 20 ms to 20 s on one fake RAPL tree driven by a writer process
  from a known power profile, CodeCarbon at its default measure_power_secs=15;
- kg CO2 and litres from the same energy, place, PUE and WUE (several countries, US states,
  Canadian provinces, a Nordic zone, a Chinese province, cloud regions).

Writes benchmarks/RESULTS.md (figures, machine, versions, method), the raw JSON beside it
(benchmarks/vs_codecarbon.json) and the "How it compares" table of README.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from common import REPO, byte_compile_package

sys.path.insert(0, str(Path(__file__).resolve().parent / "versus"))
import codecarbon_env  # noqa: E402
import document  # noqa: E402
import report  # noqa: E402

from tests.fakes.powercap import RaplWriter, make_tree  # noqa: E402
from tests.fakes.profiles import Square  # noqa: E402

HERE = Path(__file__).resolve().parent
PROBE = HERE / "versus" / "probe.py"
RESULTS_MD = HERE / "RESULTS.md"
RESULTS_JSON = HERE / "vs_codecarbon.json"
README = REPO / "README.md"
TOOLS = (report.OURS, report.THEIRS)

MEMORY_CELLS = 10_000
CANADA = ("CodeCarbon 3.3.2 weighs a Canadian province's generation mix by coal, petroleum and "
          "gas only (every other source counts 0 g/kWh); carbon_magic weighs every source by its "
          "lifecycle factor, as both tools do for the Nordic zones (carbon_magic/data/SOURCES.md).")
NO_CLOUD_TABLE = ("CodeCarbon's cloud table has Google Cloud regions only; for this region it falls "
                  "back to the location given, here none, so the world average (475 g/kWh). "
                  "carbon_magic places the region ({place}) and uses that place's figure.")
CASES = [
    {"label": "France", "params": {"country_iso_code": "FRA"}},
    {"label": "Germany", "params": {"country_iso_code": "DEU"}},
    {"label": "India", "params": {"country_iso_code": "IND"}},
    {"label": "Brazil", "params": {"country_iso_code": "BRA"}},
    {"label": "United States", "params": {"country_iso_code": "USA"}},
    {"label": "US state: California", "params": {"country_iso_code": "USA", "region": "california"}},
    {"label": "US state: Texas", "params": {"country_iso_code": "USA", "region": "texas"}},
    {"label": "Nordic zone SE3", "params": {"country_iso_code": "SWE", "region": "SE3"}},
    {"label": "China: Guangdong", "params": {"country_iso_code": "CHN", "region": "guangdong"}},
    {"label": "Canada: Ontario", "params": {"country_iso_code": "CAN", "region": "ontario"}, "why_different": CANADA},
    {"label": "Canada: Quebec", "params": {"country_iso_code": "CAN", "region": "quebec"}, "why_different": CANADA},
    {"label": "GCP europe-west9", "params": {"cloud_provider": "gcp", "cloud_region": "europe-west9"}},
    {"label": "GCP us-central1", "params": {"cloud_provider": "gcp", "cloud_region": "us-central1"}},
    {"label": "AWS us-east-1", "params": {"cloud_provider": "aws", "cloud_region": "us-east-1"},
     "why_different": NO_CLOUD_TABLE.format(place="N. Virginia: the Virginia eGRID figure")},
    {"label": "Azure westeurope", "params": {"cloud_provider": "azure", "cloud_region": "westeurope"},
     "why_different": NO_CLOUD_TABLE.format(place="the Netherlands: its country figure")},
    {"label": "AWS us-east-1 with country USA", "params": {"cloud_provider": "aws", "cloud_region": "us-east-1", "country_iso_code": "USA"},
     "why_different": ("CodeCarbon has no AWS table and uses the country given (United States); "
                       "carbon_magic places the region in Virginia and uses the Virginia eGRID figure.")},
]
ARITHMETIC = {"energy_kwh": 2.5, "pue": 1.3, "wue": 1.8}


class ProbeFailed(RuntimeError):
    pass


class Plan:
    """How much of everything to measure (``--quick`` for a short run)."""

    def __init__(self, quick: bool):
        self.quick = quick
        self.processes = 2 if quick else 5
        self.warm_cells = {report.OURS: 300, report.THEIRS: 60} if quick else {report.OURS: 2000, report.THEIRS: 300}
        self.idle_s, self.idle_repeats = (5.0, 1) if quick else (20.0, 3)
        self.memory_budget_s = 20.0 if quick else 240.0
        self.accuracy = [[0.02, 10], [0.2, 10], [2.0, 2]] if quick else [[0.02, 30], [0.2, 20], [2.0, 6], [20.0, 2]]

    def describe(self) -> dict[str, Any]:
        return {"quick": self.quick, "processes": self.processes, "warm_cells": self.warm_cells,
                "idle_s": self.idle_s, "idle_repeats": self.idle_repeats,
                "memory_budget_s": self.memory_budget_s, "accuracy_plan": self.accuracy}


class Probes:
    """Runs probe.py for a tool with its interpreter in a fresh folder; returns its JSON."""

    def __init__(self, pythons: dict[str, str]):
        self.pythons = pythons

    def run(self, tool: str, measurement: str, timeout_s: float = 900, **params: Any) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix=f"vs_{tool}_{measurement}_") as folder:
            env = {k: v for k, v in os.environ.items() if not k.upper().startswith("CODECARBON_") and k != "PYTHONPATH"}
            env.update(HOME=folder, IPYTHONDIR=os.path.join(folder, ".ipython"), XDG_CACHE_HOME=os.path.join(folder, ".cache"))
            out = Path(folder) / "result.json"
            command = [self.pythons[tool], str(PROBE), measurement, tool, json.dumps(params), str(out)]
            done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=timeout_s)
            if done.returncode != 0 or not out.exists():
                raise ProbeFailed(f"{tool} {measurement} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
            return json.loads(out.read_text())


def step(title: str) -> None:
    print(f"  .. {title}", flush=True)


def measure_cells(probes: Probes, plan: Plan) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {tool: [] for tool in TOOLS}
    for index in range(plan.processes):
        step(f"cells, fresh process {index + 1} of {plan.processes}")
        for tool in TOOLS:
            runs[tool].append(probes.run(tool, "cells", warm_cells=plan.warm_cells[tool]))
    return runs


def measure_idle(probes: Probes, plan: Plan) -> dict[str, dict[str, list[dict[str, Any]]]]:
    runs = {tool: {"baseline": [], "1": [], "10": []} for tool in TOOLS}
    for repeat in range(plan.idle_repeats):
        step(f"idle CPU, round {repeat + 1} of {plan.idle_repeats} ({plan.idle_s:.0f} s per configuration)")
        for rate in ("baseline", "1", "10"):
            interval = None if rate == "baseline" else 1.0 / int(rate)
            for tool in TOOLS:
                runs[tool][rate].append(probes.run(tool, "idle", interval_s=interval, seconds=plan.idle_s))
    return runs


def memory_cells(warm_cell_us: float, budget_s: float) -> int:
    """10,000 cells, or as many as fit the time budget at the tool's warm cell cost (x1.5)."""
    feasible = int(budget_s / (warm_cell_us * 1e-6 * 1.5))
    return MEMORY_CELLS if feasible >= MEMORY_CELLS else max(feasible // 100 * 100, 100)


def measure_memory(probes: Probes, plan: Plan, cells: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    runs = {}
    for tool in TOOLS:
        warm_us = report.median([r["warm_cell_us"] for r in cells[tool]])
        count = memory_cells(warm_us, plan.memory_budget_s)
        step(f"memory, {tool}: {count} tracked cells")
        runs[tool] = probes.run(tool, "memory", timeout_s=plan.memory_budget_s * 3 + 300, count=count)
    return runs


def measure_accuracy(probes: Probes, plan: Plan, tools: tuple[str, ...] = TOOLS) -> dict[str, Any]:
    """The tools on one fake RAPL tree (one writer process, tools one after the other)."""
    with tempfile.TemporaryDirectory(prefix="vs_powercap_") as tree:
        domains = make_tree(Path(tree))
        profile = Square(high_w=95.0, low_w=25.0, half_period_s=0.37, origin=time.monotonic())
        runs: dict[str, Any] = {"profile": {"kind": "square wave", "high_w": profile.high_w, "low_w": profile.low_w,
                                            "half_period_s": profile.half_period_s, "update_ms": 1.0}}
        with RaplWriter({"package": (domains["package-0"], profile)}, update_s=0.001):
            for tool in tools:
                step(f"accuracy, {tool}")
                result = probes.run(tool, "accuracy", tree=tree, plan=plan.accuracy)
                for window in result["windows"]:
                    window["truth_j"] = profile.energy_j(window["t_start"], window["t_stop"])
                runs[tool] = result
    return runs


def measure_arithmetic(probes: Probes) -> dict[str, Any]:
    step("emissions arithmetic")
    answers = {tool: probes.run(tool, "arithmetic", cases=CASES, **ARITHMETIC)["cases"] for tool in TOOLS}
    cases = [dict(case, **{tool: answers[tool][i] for tool in TOOLS}) for i, case in enumerate(CASES)]
    return dict(ARITHMETIC, cases=cases)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    def field(path: str, key: str) -> str:
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith(key):
                    return line.split(":", 1)[1].strip() if ":" in line else line.split("=", 1)[1].strip('"')
        except OSError:
            pass
        return "?"

    memory_kb = field("/proc/meminfo", "MemTotal").split()[0]
    return {
        "cpu_model": field("/proc/cpuinfo", "model name"),
        "cpu_count": os.cpu_count(),
        "ram_gb": round(int(memory_kb) / 1024**2, 1) if memory_kb.isdigit() else None,
        "os": f"{field('/etc/os-release', 'PRETTY_NAME')}, kernel {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "rapl": "yes" if Path("/sys/class/powercap/intel-rapl:0/energy_uj").exists() else "no (fake tree for accuracy)",
        "load_start": load_average(),
    }


def load_average() -> list[float]:
    """The machine's 1, 5 and 15 minute load averages: other work running beside the benchmark."""
    return [round(value, 2) for value in os.getloadavg()]


def tool_pythons() -> dict[str, str]:
    return {report.OURS: sys.executable, report.THEIRS: str(codecarbon_env.ensure(REPO))}


def measure_idle_only(plan: Plan) -> int:
    """The CPU while idle of both tools, printed with each tool's CPU per sample; writes nothing."""
    print("carbon_magic vs CodeCarbon, CPU while idle only" + (" (quick)" if plan.quick else ""), flush=True)
    idle = measure_idle(Probes(tool_pythons()), plan)
    figures = {tool: report.idle_figures(idle[tool]) for tool in TOOLS}
    print(report.console(report.idle_rows(figures)))
    for tool in TOOLS:
        per_sample = ", ".join(f"{rate} Hz {figures[tool][f'{rate}hz_pct'] / 100 / rate * 1e6:.0f} µs" for rate in (1, 10))
        print(f"  {tool}: CPU per sample above baseline: {per_sample} (load average now {load_average()})")
    return 0


def measure(plan: Plan) -> dict[str, Any]:
    """Every measurement of both tools; the raw results (saved as vs_codecarbon.json)."""
    print("carbon_magic vs CodeCarbon, same run, same machine" + (" (quick)" if plan.quick else ""), flush=True)
    probes = Probes(tool_pythons())
    byte_compile_package()  # both tools as installed: pip byte-compiled CodeCarbon's
    started = time.monotonic()
    results: dict[str, Any] = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(), "plan": plan.describe(), "ipython": metadata.version("ipython"),
    }
    results["cells"] = measure_cells(probes, plan)
    results["idle"] = measure_idle(probes, plan)
    results["memory"] = measure_memory(probes, plan, results["cells"])
    results["accuracy"] = measure_accuracy(probes, plan)
    results["arithmetic"] = measure_arithmetic(probes)
    results["versions"] = {tool: results["cells"][tool][0]["tool_version"] for tool in TOOLS}
    results["minutes"] = round((time.monotonic() - started) / 60, 1)
    results["machine"]["load_end"] = load_average()
    return results


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run; printed, not written")
    parser.add_argument("--write", action="store_true", help="write RESULTS.md and README.md even with --quick")
    parser.add_argument("--from-json", metavar="PATH", help="measure nothing: report the results saved in PATH")
    parser.add_argument("--idle-only", action="store_true", help="measure only the CPU while idle; printed, not written")
    args = parser.parse_args(argv)
    if args.idle_only:
        return measure_idle_only(Plan(args.quick))
    if args.from_json:
        results = json.loads(Path(args.from_json).read_text())
    else:
        results = measure(Plan(args.quick))
    figures = report.summarise(results)
    rows = report.headline(figures)
    print(f"carbon_magic {results['versions'][report.OURS]} vs CodeCarbon {results['versions'][report.THEIRS]} "
          f"({results['minutes']} min)")
    print(report.console(rows))
    if args.write or not (args.quick or args.from_json):
        if not args.from_json:
            RESULTS_JSON.write_text(json.dumps(results, indent=1) + "\n")
        existing = RESULTS_MD.read_text() if RESULTS_MD.exists() else ""
        RESULTS_MD.write_text(document.results_markdown(results, figures, rows, existing))
        README.write_text(report.put_block(README.read_text(), document.README_BLOCK, document.readme_table(results, rows)))
        print(f"  written: {RESULTS_MD.relative_to(REPO)}, {RESULTS_JSON.relative_to(REPO)}, README.md (How it compares)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
