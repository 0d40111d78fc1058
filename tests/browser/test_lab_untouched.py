"""In the real JupyterLab: a summary never sets off the user's waiting ``clear_output``."""

from __future__ import annotations

from .lab import hide_side_panels, open_notebook, output_text, run_cell, screenshot


def test_a_cell_ending_on_a_waiting_clear_keeps_its_output_and_gets_its_summary(lab, page):
    path = lab.new_notebook("waiting-clear.ipynb")
    open_notebook(page, lab, path)
    hide_side_panels(page)
    run_cell(page, "%load_ext carbon_magic\n%carbon on")
    cell = run_cell(page, "from IPython.display import clear_output\nprint('keep me')\nclear_output(wait=True)")
    cell.locator(".carbon-magic-summary").wait_for(timeout=30_000)
    assert output_text(cell).startswith("keep me")
    assert cell.locator(".jp-OutputArea-child").count() == 2  # the print, then the summary in its place
    screenshot(cell, "lab-waiting-clear-kept")
