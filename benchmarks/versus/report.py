"""From the probes' raw results to figures, ratios against the targets, and Markdown.

Pure functions (no I/O, no tool imported): ``tests/test_vs_codecarbon_report.py`` checks
them on made-up results, without CodeCarbon.
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass
from typing import Any, Callable

OURS, THEIRS = "carbon_magic", "codecarbon"
SAME_WITHIN = 0.001  # the emissions arithmetic must agree to 0.1 % (or be explained)

# Targets of issue 9: ratios are CodeCarbon's figure / carbon_magic's.
WARM_RATIO, FIRST_RATIO, IDLE_RATIO = 10.0, 30.0, 4.0
ACCURACY_WINDOW_S, ACCURACY_TARGET_PCT = 0.2, 0.5


# -- numbers -------------------------------------------------------------------------------

def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def ratio(theirs: float, ours: float) -> float:
    """How many times lower ours is; inf where ours is zero or below (not measurable)."""
    return theirs / ours if ours > 0 else math.inf


def cell_figures(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the fresh processes of one tool's ``cells`` probes."""
    return {
        "processes": len(runs),
        "import_ms": median([r["import_ms"] for r in runs]),
        "load_ms": median([r["load_ms"] for r in runs]),
        "first_added_ms": median([r["first_added_ms"] for r in runs]),
        "untracked_us": median([r["untracked_us"] for r in runs]),
        "warm_added_us": median([r["warm_added_us"] for r in runs]),
        "warm_cells": sum(r["warm_cells"] for r in runs),
        "script": {part: median([r["script"][part] for r in runs]) for part in runs[0]["script"]},
    }


def busy_pct(run: dict[str, Any]) -> float:
    return run["cpu_s"] / run["wall_s"] * 100


def idle_figures(runs: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
    """% of one core above the same interpreter idling without a tracker, per rate (medians)."""
    base = median([busy_pct(r) for r in runs["baseline"]])
    figures = {"baseline_pct": base}
    for rate, samples in runs.items():
        if rate != "baseline":
            figures[f"{rate}hz_pct"] = median([busy_pct(r) for r in samples]) - base
    return figures


def memory_figures(run: dict[str, Any]) -> dict[str, float]:
    cells = run["cells"]
    return {
        "cells": cells, "growth_mb": run["growth_mb"], "per_cell_kb": run["growth_mb"] * 1000 / cells,
        "rss_after_mb": run["rss_before_mb"] + run["growth_mb"],
        "untracked_per_cell_kb": run["untracked_growth_mb"] * 1000 / cells,
        "ms_per_cell": run["seconds"] * 1000 / cells,
    }


def accuracy_figures(windows: list[dict[str, Any]]) -> dict[float, dict[str, float]]:
    """Per window length: errors against the truth of the cell's window (between ``start()``
    returning and ``stop()`` being called), and how long start() and stop() took."""
    by_length: dict[float, list[dict[str, Any]]] = {}
    for window in windows:
        by_length.setdefault(window["window_s"], []).append(window)
    figures = {}
    for length, group in sorted(by_length.items()):
        errors_j = [w["energy_j"] - w["truth_j"] for w in group]
        relative = [e / w["truth_j"] * 100 for e, w in zip(errors_j, group)]
        figures[length] = {
            "n": len(group),
            "median_abs_pct": median([abs(r) for r in relative]),
            "max_abs_pct": max(abs(r) for r in relative),
            "median_signed_pct": median(relative),
            "median_abs_mj": median([abs(e) * 1000 for e in errors_j]),
            "start_ms": median([(w["t_start"] - w["t_before"]) * 1000 for w in group]),
            "stop_ms": median([(w["t_after"] - w["t_stop"]) * 1000 for w in group]),
        }
    return figures


def arithmetic_rows(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each case: both tools' kg and litres, their differences, and a verdict: 'same' (to
    0.1 %), 'explained' (differs, for the reason the case gives) or 'UNEXPLAINED'."""
    rows = []
    for case in cases:
        ours, theirs = case[OURS], case[THEIRS]
        kg_diff = _relative(ours["kg"], theirs["kg"])
        litres_diff = _relative(ours["litres"], theirs["litres"])
        same = abs(kg_diff) <= SAME_WITHIN and abs(litres_diff) <= SAME_WITHIN
        verdict = "same" if same else ("explained" if case.get("why_different") else "UNEXPLAINED")
        rows.append({
            "label": case["label"], "ours": ours, "theirs": theirs, "kg_diff_pct": kg_diff * 100,
            "litres_diff_pct": litres_diff * 100, "verdict": verdict,
            "why": "" if same else case.get("why_different", ""),
            "class_agrees": abs(_relative(theirs["kg"], theirs["emissions_class_kg"])) <= 1e-9,
        })
    return rows


def _relative(value: float, reference: float) -> float:
    if reference == 0:
        return 0.0 if value == 0 else math.inf
    return (value - reference) / reference


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    """Every figure the tables show, from the raw results the runner collected."""
    tools = (OURS, THEIRS)
    return {
        "cells": {t: cell_figures(results["cells"][t]) for t in tools},
        "idle": {t: idle_figures(results["idle"][t]) for t in tools},
        "memory": {t: memory_figures(results["memory"][t]) for t in tools},
        "accuracy": {t: accuracy_figures(results["accuracy"][t]["windows"]) for t in tools},
        "cpu_method": {t: results["accuracy"][t]["cpu_method"] for t in tools},
        "arithmetic": arithmetic_rows(results["arithmetic"]["cases"]),
    }


# -- the headline -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    measure: str
    ours: str
    theirs: str
    comparison: str
    target: str
    met: bool | None  # None: no target, context only


def ratio_row(measure: str, ours: float, theirs: float, unit: Callable[[float], str], target: float | None) -> Row:
    """A row comparing ours with theirs by their ratio (lower is better), against ``target``."""
    times = ratio(theirs, ours)
    if math.isinf(times):
        comparison = "ours not measurable above baseline"
    else:
        comparison = f"{times:.1f}x lower" if times >= 1 else f"{1 / times:.1f}x higher"
    met = None if target is None else times >= target
    return Row(measure, unit(ours), unit(theirs), comparison, f">= {target:g}x lower" if target else "-", met)


def idle_rows(idle: dict[str, dict[str, float]]) -> list[Row]:
    """The CPU of an idle tracker at 1 and 10 Hz (``idle_figures`` of both tools)."""
    return [ratio_row(f"idle tracker, {rate} Hz sampling: CPU (% of one core)", idle[OURS][f"{rate}hz_pct"],
                      idle[THEIRS][f"{rate}hz_pct"], percent, IDLE_RATIO) for rate in (1, 10)]


def headline(figures: dict[str, Any]) -> list[Row]:
    cells, idle, memory, accuracy = (figures[k] for k in ("cells", "idle", "memory", "accuracy"))
    rows = []
    rows.append(ratio_row("warm tracked cell: time added", cells[OURS]["warm_added_us"], cells[THEIRS]["warm_added_us"], micro, WARM_RATIO))
    rows.append(ratio_row("first tracked cell: time added", cells[OURS]["first_added_ms"] * 1e3, cells[THEIRS]["first_added_ms"] * 1e3, micro, FIRST_RATIO))
    rows.extend(idle_rows(idle))
    rows.append(ratio_row("import + load (`%load_ext` / tracker construction)", cells[OURS]["load_ms"] * 1e3, cells[THEIRS]["load_ms"] * 1e3, micro, None))
    counts = {memory[tool]["cells"] for tool in (OURS, THEIRS)}
    cells_text = f"{memory[OURS]['cells']:,}" if len(counts) == 1 else f"{memory[OURS]['cells']:,} / {memory[THEIRS]['cells']:,}"
    rows.append(ratio_row(f"memory (RSS) after {cells_text} tracked cells", memory[OURS]["rss_after_mb"],
                          memory[THEIRS]["rss_after_mb"], megabytes, None))
    rows.append(ratio_row("memory growth per tracked cell", memory[OURS]["per_cell_kb"], memory[THEIRS]["per_cell_kb"], kilobytes, None))
    ours_acc, theirs_acc = accuracy[OURS].get(ACCURACY_WINDOW_S), accuracy[THEIRS].get(ACCURACY_WINDOW_S)
    if ours_acc and theirs_acc:
        rows.append(Row(
            "CPU energy of a 200 ms window, median error (fake RAPL)",
            percent(ours_acc["median_abs_pct"]), percent(theirs_acc["median_abs_pct"]), "-",
            f"ours <= {ACCURACY_TARGET_PCT:g} %", ours_acc["median_abs_pct"] <= ACCURACY_TARGET_PCT,
        ))
    verdicts = [row["verdict"] for row in figures["arithmetic"]]
    rows.append(Row(
        "kg CO2 and litres for the same energy and place", f"{verdicts.count('same')} of {len(verdicts)} cases identical",
        "-", f"{verdicts.count('explained')} differ, explained; {verdicts.count('UNEXPLAINED')} unexplained",
        "same to 0.1 % or explained", "UNEXPLAINED" not in verdicts,
    ))
    return rows


# -- formatting ----------------------------------------------------------------------------------

def micro(us: float) -> str:
    """A duration given in microseconds, in the unit that reads best."""
    if us >= 1e6:
        return f"{us / 1e6:.2f} s"
    if us >= 1e3:
        return f"{us / 1e3:.1f} ms" if us < 1e5 else f"{us / 1e3:.0f} ms"
    return f"{us:.0f} µs"


def percent(value: float) -> str:
    return f"{value:.3f} %" if abs(value) < 1 else f"{value:.2f} %"


def megabytes(value: float) -> str:
    return f"{value:.0f} MB"


def kilobytes(value: float) -> str:
    return f"{value:.2f} KB"


def verdict(met: bool | None) -> str:
    return "-" if met is None else ("met" if met else "**missed**")


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def headline_table(rows: list[Row], theirs_name: str) -> str:
    return table(
        ["measure", "carbon_magic", theirs_name, "comparison", "target", "verdict"],
        [[r.measure, r.ours, r.theirs, r.comparison, r.target, verdict(r.met)] for r in rows],
    )


def console(rows: list[Row]) -> str:
    """The headline as plain text lines, as the other benchmark scripts print theirs."""
    lines = []
    for r in rows:
        lines.append(f"  {r.measure:<58} ours {r.ours:>12}  theirs {r.theirs:>12}  {r.comparison:<22} "
                     f"target {r.target:<18} {verdict(r.met).strip('*')}")
    return "\n".join(lines)


# -- marked blocks in Markdown files ------------------------------------------------------------

def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def get_block(text: str, name: str) -> str | None:
    """The content between the markers of block ``name``, or None if there is none."""
    start, end = markers(name)
    match = re.search(re.escape(start) + r"\n?(.*?)\n?" + re.escape(end), text, re.DOTALL)
    return match.group(1) if match else None


def put_block(text: str, name: str, content: str) -> str:
    """``text`` with block ``name`` holding ``content`` (appended at the end if absent)."""
    start, end = markers(name)
    replacement = f"{start}\n{content}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        return pattern.sub(lambda _: replacement, text, count=1)
    return text.rstrip("\n") + "\n\n" + replacement + "\n"
