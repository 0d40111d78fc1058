"""The browser-test machinery itself: a notebook opens in the real lab and runs cells."""

from __future__ import annotations

from .lab import hide_side_panels, open_notebook, output_text, prompt, run_cell, screenshot, set_theme, wait_cell_done


def test_a_notebook_runs_cells_in_the_lab(lab, page):
    path = lab.new_notebook("smoke.ipynb")
    open_notebook(page, lab, path)
    hide_side_panels(page)
    first = run_cell(page, "import os\nprint(os.environ['CODECARBON_COUNTRY_ISO_CODE'], 6 * 7)")
    assert output_text(first).strip() == "FRA 42"
    second = run_cell(page, "import time\ntime.sleep(1.5)\n'slept'", wait=False)
    assert prompt(second) in ("[*]:", "[ ]:", "[2]:")  # queued or running, or already done
    wait_cell_done(second)
    assert "'slept'" in output_text(second)
    set_theme(page, dark=True)
    set_theme(page, dark=False)
    assert screenshot(page, "lab-smoke").stat().st_size > 10_000
