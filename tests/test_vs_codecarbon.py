"""benchmarks/vs_codecarbon.py without CodeCarbon: carbon_magic's side of its probes run for
real (fresh subprocesses, a real IPython shell, a fake RAPL tree driven by a writer process),
and the report built from made-up results of both tools (figures, verdicts, Markdown blocks).
CodeCarbon itself is a benchmark-only dependency and is never installed for the tests."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def vs(monkeypatch):
    """The runner module, imported the way ``make bench`` runs it (benchmarks/ on the path)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS / "versus"))
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import vs_codecarbon

    return vs_codecarbon


@pytest.fixture
def ours_only(vs):
    """Probes that run carbon_magic's side with this interpreter (no CodeCarbon)."""
    return vs.Probes({vs.report.OURS: sys.executable})


# -- carbon_magic's probes, for real -------------------------------------------------------------

def test_cells_probe_times_a_real_ipython_shell_with_the_extension_loaded(vs, ours_only):
    result = ours_only.run(vs.report.OURS, "cells", warm_cells=20)
    assert result["tool_version"]
    assert 0 < result["import_ms"] <= result["load_ms"]
    assert result["warm_cells"] == 20
    # Both medians are positive; their order is not fixed: the rows of a tracked cell are waited
    # for as the next cell starts, so part of a tracked cell's cost lands in the untracked cell
    # that follows it in this interleaved probe (20 cells: noise of the same size as the rest).
    assert result["untracked_us"] > 0 and result["warm_cell_us"] > 0
    assert result["first_cell_ms"] * 1e3 > result["warm_cell_us"] * 0.5
    assert all(result["script"][part] > 0 for part in ("construct_ms", "start_ms", "stop_ms"))


def test_idle_probe_reports_cpu_and_wall_time_with_a_started_tracker(vs, ours_only):
    result = ours_only.run(vs.report.OURS, "idle", interval_s=0.1, seconds=1.0)
    assert 0.95 <= result["wall_s"] < 2.0
    assert 0 <= result["cpu_s"] < result["wall_s"]
    assert result["threads"] >= 2  # the sampler thread is running


def test_accuracy_probe_measures_windows_of_a_fake_rapl_tree_against_its_known_profile(vs, ours_only):
    plan = type("Plan", (), {"accuracy": [[0.2, 3]]})()
    runs = vs.measure_accuracy(ours_only, plan, tools=(vs.report.OURS,))
    result = runs[vs.report.OURS]
    assert "rapl" in result["cpu_method"].lower()
    windows = result["windows"]
    assert len(windows) == 3
    for window in windows:
        assert window["t_before"] <= window["t_start"] < window["t_stop"] <= window["t_after"]
        assert window["truth_j"] > 0.2 * 20  # at least the profile's low power over the window
    figures = vs.report.accuracy_figures(windows)[0.2]
    assert figures["n"] == 3
    assert figures["median_abs_pct"] <= 1.0


def test_arithmetic_probe_applies_pue_and_wue_to_the_same_energy(vs, ours_only):
    cases = [{"label": "France", "params": {"country_iso_code": "FRA"}},
             {"label": "Texas", "params": {"country_iso_code": "USA", "region": "texas"}}]
    result = ours_only.run(vs.report.OURS, "arithmetic", cases=cases, energy_kwh=2.0, pue=1.5, wue=1.8)
    france, texas = result["cases"]
    for case in (france, texas):
        assert case["energy_kwh"] == pytest.approx(3.0)
        assert case["kg"] == pytest.approx(3.0 * case["g_per_kwh"] / 1000)
        assert case["litres"] == pytest.approx(3.0 * 1.8)
    assert texas["g_per_kwh"] > 3 * france["g_per_kwh"]  # a gas-and-coal grid against a nuclear one


# -- the report, on made-up results ---------------------------------------------------------------

def cells_run(first_added_ms: float, warm_added_us: float, load_ms: float = 50.0) -> dict:
    return {"import_ms": load_ms / 2, "load_ms": load_ms, "first_added_ms": first_added_ms,
            "untracked_us": 100.0, "warm_added_us": warm_added_us, "warm_cells": 10,
            "script": {"construct_ms": 1.0, "start_ms": 0.5, "stop_ms": 0.5}, "tool_version": "x"}


def idle_run(cpu_s: float) -> dict:
    return {"cpu_s": cpu_s, "wall_s": 10.0, "threads": 2}


def window(length_s: float, energy_j: float, truth_j: float) -> dict:
    return {"window_s": length_s, "t_before": 0.0, "t_start": 0.001, "t_stop": 0.001 + length_s,
            "t_after": 0.002 + length_s, "energy_j": energy_j, "truth_j": truth_j}


def arithmetic_case(label: str, ours_kg: float, theirs_kg: float, why: str | None = None) -> dict:
    def answer(kg: float) -> dict:
        return {"kg": kg, "litres": 4.5, "energy_kwh": 3.0, "g_per_kwh": kg / 3.0 * 1000,
                "emissions_class_kg": kg, "source": "-"}

    case = {"label": label, "params": {}, "carbon_magic": answer(ours_kg), "codecarbon": answer(theirs_kg)}
    if why:
        case["why_different"] = why
    return case


def made_up_results(ours_warm_us: float = 20.0, ours_200ms_j: float = 10.01) -> dict:
    ours, theirs = "carbon_magic", "codecarbon"
    return {
        "date": "2026-11-23T09:00:00+00:00", "minutes": 1.0, "ipython": "9.0",
        "machine": {"cpu_model": "Test CPU", "cpu_count": 2, "ram_gb": 8.0, "os": "Linux test, kernel 6",
                    "python": "CPython 3.11", "rapl": "no"},
        "plan": {"quick": True, "processes": 1, "warm_cells": {ours: 10, theirs: 10}, "idle_s": 10.0,
                 "idle_repeats": 1, "memory_budget_s": 20.0, "accuracy_plan": []},
        "versions": {ours: "0.1", theirs: "3.3.2"},
        "cells": {ours: [cells_run(0.5, ours_warm_us)], theirs: [cells_run(60.0, 5000.0)]},
        "idle": {ours: {"baseline": [idle_run(0.01)], "1": [idle_run(0.02)], "10": [idle_run(0.05)]},
                 theirs: {"baseline": [idle_run(0.01)], "1": [idle_run(0.11)], "10": [idle_run(0.51)]}},
        "memory": {ours: {"cells": 10_000, "growth_mb": 5.0, "untracked_growth_mb": 1.0, "seconds": 5.0,
                          "rss_before_mb": 80.0},
                   theirs: {"cells": 2_000, "growth_mb": 4.0, "untracked_growth_mb": 0.2, "seconds": 60.0,
                            "rss_before_mb": 120.0}},
        "accuracy": {
            "profile": {"kind": "square wave", "high_w": 95.0, "low_w": 25.0, "half_period_s": 0.37, "update_ms": 1.0},
            ours: {"cpu_method": "RAPL", "windows": [window(0.2, ours_200ms_j, 10.0), window(0.2, 9.99, 10.0)]},
            theirs: {"cpu_method": "RAPL", "windows": [window(0.2, 11.0, 10.0), window(0.2, 12.0, 10.0)]},
        },
        "arithmetic": {"energy_kwh": 2.0, "pue": 1.5, "wue": 1.5, "cases": [
            arithmetic_case("France", 0.1, 0.10005),
            arithmetic_case("Canada", 0.2, 0.1, why="a different method"),
        ]},
    }


def by_measure(rows) -> dict:
    return {row.measure.split(":")[0].split(",")[0]: row for row in rows}


def test_headline_compares_ratios_with_the_targets_of_the_issue(vs):
    rows = by_measure(vs.report.headline(vs.report.summarise(made_up_results())))
    assert rows["warm tracked cell"].comparison == "250.0x lower" and rows["warm tracked cell"].met
    assert rows["first tracked cell"].comparison == "120.0x lower" and rows["first tracked cell"].met
    assert rows["idle tracker"].met  # 1 Hz: 1.0 % vs 0.1 %; 10 Hz: 5.0 % vs 0.4 %
    accuracy = rows["CPU energy of a 200 ms window"]
    assert (accuracy.ours, accuracy.theirs, accuracy.met) == ("0.100 %", "15.00 %", True)
    arithmetic = rows["kg CO2 and litres for the same energy and place"]
    assert arithmetic.ours == "1 of 2 cases identical" and arithmetic.met
    assert rows["import + load (`%load_ext` / tracker construction)"].met is None  # context, no target


def test_a_missed_target_is_shown_as_missed(vs):
    figures = vs.report.summarise(made_up_results(ours_warm_us=1000.0, ours_200ms_j=10.2))
    rows = by_measure(vs.report.headline(figures))
    assert rows["warm tracked cell"].comparison == "5.0x lower" and rows["warm tracked cell"].met is False
    assert rows["CPU energy of a 200 ms window"].met is False
    assert "**missed**" in vs.report.headline_table(vs.report.headline(figures), "CodeCarbon")


def test_an_unexplained_difference_in_the_arithmetic_fails_its_row(vs):
    results = made_up_results()
    results["arithmetic"]["cases"].append(arithmetic_case("Germany", 0.3, 0.31))
    verdicts = [row["verdict"] for row in vs.report.arithmetic_rows(results["arithmetic"]["cases"])]
    assert verdicts == ["same", "explained", "UNEXPLAINED"]
    rows = by_measure(vs.report.headline(vs.report.summarise(results)))
    assert rows["kg CO2 and litres for the same energy and place"].met is False


def test_idle_figures_are_above_the_baseline_of_the_same_interpreter(vs):
    figures = vs.report.idle_figures({"baseline": [idle_run(0.01), idle_run(0.03)], "1": [idle_run(0.05)]})
    assert figures["baseline_pct"] == pytest.approx(0.2)
    assert figures["1hz_pct"] == pytest.approx(0.3)
    assert vs.report.ratio(1.0, 0.0) == math.inf


def test_memory_cells_fall_back_to_what_fits_the_time_budget(vs):
    assert vs.memory_cells(warm_cell_us=100.0, budget_s=240.0) == 10_000
    assert vs.memory_cells(warm_cell_us=50_000.0, budget_s=240.0) == 3_200


def test_blocks_are_replaced_in_place_or_appended(vs):
    text = "intro\n<!-- t:start -->\nold\n<!-- t:end -->\nafter\n"
    replaced = vs.report.put_block(text, "t", "new | table")
    assert replaced == "intro\n<!-- t:start -->\nnew | table\n<!-- t:end -->\nafter\n"
    assert vs.report.get_block(replaced, "t") == "new | table"
    appended = vs.report.put_block("intro\n", "u", "x")
    assert appended == "intro\n\n<!-- u:start -->\nx\n<!-- u:end -->\n"
    assert vs.report.get_block("intro", "t") is None


def test_results_markdown_keeps_a_recorded_gpu_run_and_says_when_none_was_made(vs):
    results = made_up_results()
    figures = vs.report.summarise(results)
    rows = vs.report.headline(figures)
    fresh = vs.document.results_markdown(results, figures, rows, existing="")
    assert "**Not run yet on real hardware.**" in fresh
    assert "python benchmarks/gpu_check.py" in fresh
    assert "Test CPU, 2 cores" in fresh and "2026-11-23" in fresh and "3.3.2" in fresh
    assert "Canada: a different method" in fresh
    assert "CodeCarbon 3.3.2 tracked fewer than 10,000 cells" in fresh
    recorded = vs.report.put_block(fresh, vs.document.GPU_BLOCK, "```\n# gpu_check on H100, driver 550\n```")
    again = vs.document.results_markdown(results, figures, rows, existing=recorded)
    assert "# gpu_check on H100, driver 550" in again
    assert "Not run yet" not in again


def test_results_markdown_keeps_the_power_models_section(vs):
    results = made_up_results()
    figures = vs.report.summarise(results)
    rows = vs.report.headline(figures)
    fresh = vs.document.results_markdown(results, figures, rows, existing="")
    assert "Wall power without counters" not in fresh
    recorded = vs.report.put_block(fresh, vs.document.MODEL_BLOCK, "| median absolute error | 11.1 % |")
    again = vs.document.results_markdown(results, figures, rows, existing=recorded)
    assert "## Wall power without counters (issue 18)" in again
    assert vs.report.get_block(again, vs.document.MODEL_BLOCK) == "| median absolute error | 11.1 % |"
    assert again.index("Wall power without counters") < again.index("## Reproduce")


def test_readme_table_names_the_machine_date_and_versions(vs):
    results = made_up_results()
    rows = vs.report.headline(vs.report.summarise(results))
    block = vs.document.readme_table(results, rows)
    assert "| warm tracked cell: time added | 20 µs | 5.0 ms | 250.0x lower | >= 10x lower: met |" in block
    assert "Test CPU (2 cores" in block and "2026-11-23" in block and "CodeCarbon 3.3.2" in block
    assert "benchmarks/RESULTS.md" in block


def test_memory_rows_give_the_rss_after_the_cells_and_both_counts_when_they_differ(vs):
    rows = vs.report.headline(vs.report.summarise(made_up_results()))
    memory = next(row for row in rows if row.measure.startswith("memory (RSS)"))
    assert memory.measure == "memory (RSS) after 10,000 / 2,000 tracked cells"
    assert (memory.ours, memory.theirs, memory.met) == ("85 MB", "124 MB", None)


def test_each_missed_target_gets_a_paragraph_with_its_figures(vs):
    results = made_up_results(ours_warm_us=1000.0)
    results["idle"]["carbon_magic"]["10"] = [idle_run(0.20)]
    figures = vs.report.summarise(results)
    text = vs.document.results_markdown(results, figures, vs.report.headline(figures), existing="")
    assert "**Missed: idle tracker, 10 Hz sampling: CPU (% of one core)**: carbon_magic 1.90 %" in text
    assert "the wake-up alone" in text
    assert "**Missed: warm tracked cell: time added**: carbon_magic 1.0 ms, CodeCarbon 5.0 ms" in text
    assert "No explanation recorded yet." in text
    assert "**Missed:" not in vs.document.results_markdown(
        made_up_results(), vs.report.summarise(made_up_results()),
        vs.report.headline(vs.report.summarise(made_up_results())), existing="")
