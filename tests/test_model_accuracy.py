"""benchmarks/model_accuracy.py without CodeCarbon: its figures, its Markdown and where it records them.
(CodeCarbon's side runs only in the benchmark, in CodeCarbon's own environment.)"""

from __future__ import annotations

import numpy as np
import pytest

from tests.test_vs_codecarbon import BENCHMARKS


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS / "versus"))
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import model_accuracy

    return model_accuracy


def made_up(bench, ours_median):
    errors = np.array([[ours_median, -ours_median] * 5 + [0.5 * ours_median]] * 4 + [[0.4] * 11])
    theirs = np.array([[-0.6] * 11] * 5)
    return {"date": "2026-12-03", "cost_us": {"power_w": 2.5, "estimate_power_w": 120.0}, "servers": 5, "cpu_models": 3, "cpu_names": 4, "folds": 10,
            "later": {"from_year": 2019, "servers": 2, "cpu_models": 1,
                      "carbon_magic": bench.figures(errors[:2]), "codecarbon": bench.figures(theirs[:2])},
            "carbon_magic": bench.figures(errors) | {"names_found": 4},
            "codecarbon": bench.figures(theirs) | {"names_found": 3, "version": "3.3.2"}}


def test_figures_are_over_every_server_and_level(bench):
    errors = np.array([np.linspace(-0.5, 0.5, 11), np.linspace(0.0, 0.2, 11)])  # 2 servers x 11 levels
    result = bench.figures(errors)
    assert result["median_abs"] == pytest.approx(np.median(np.abs(errors)))
    assert result["median_signed"] == pytest.approx(np.median(errors))
    assert result["p90_abs"] == pytest.approx(np.percentile(np.abs(errors), 90))
    assert result["median_abs_by_level"] == pytest.approx({"idle": 0.25, "50 %": 0.05, "100 %": 0.35})


def test_markdown_shows_a_missed_median_with_its_reason_and_a_met_one_without(bench):
    missed = bench.markdown(made_up(bench, 0.12))
    assert "| median absolute error | 12.0 % | 60.0 % | <= 10 %: **missed** |" in missed
    assert "| median signed error (+ = overestimate) | " in missed and "-60.0 % | - |" in missed
    assert "misses its target by 2.0 points" in missed
    assert "| CPU names of the data found in the CPU table | 4 of 4 | 3 of 4 | all |" in missed
    assert "the 2 servers of the 1 CPU models launched in 2019 or later" in missed
    assert "2.5 µs per evaluation at a boundary" in missed and "120 µs per one-call" in missed
    met = bench.markdown(made_up(bench, 0.08))
    assert "<= 10 %: met" in met and "misses its target" not in met


def test_cost_is_measured_for_both_calls(bench):
    cost = bench.cost_us()  # figures only: their size is the benchmark's business, not a test's
    assert set(cost) == {"power_w", "estimate_power_w"} and all(value > 0 for value in cost.values())


def test_record_puts_the_block_before_reproduce_then_replaces_it(bench, tmp_path, monkeypatch):
    results = tmp_path / "RESULTS.md"
    results.write_text("# title\n\n## The NVIDIA GPU path\n\ntext\n\n## Reproduce\n\nhow\n")
    readme = tmp_path / "README.md"
    readme.write_text("## How it compares\n\n<!-- model-accuracy:start -->\nold\n<!-- model-accuracy:end -->\n\nmore\n")
    monkeypatch.setattr(bench, "RESULTS_MD", results)
    monkeypatch.setattr(bench, "README_MD", readme)
    bench.record("first")
    text = results.read_text()
    assert text.index("<!-- model-accuracy:start -->\nfirst\n<!-- model-accuracy:end -->") < text.index("## Reproduce")
    assert "old" in readme.read_text()  # no table in the text: the README's block is left as it is
    bench.record("second\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nafter")
    text = results.read_text()
    assert "second" in text and "first" not in text and text.count("## Wall power without counters") == 1
    # the README gets the headline table only, in its block
    assert "<!-- model-accuracy:start -->\n| a | b |\n|---|---|\n| 1 | 2 |\n<!-- model-accuracy:end -->\n\nmore" in readme.read_text()
