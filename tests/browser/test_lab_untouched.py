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
    # the summary in the place kept at the top of the cell's output (issue 14 point 13), then the
    # print, which the waiting clear left alone
    children = cell.locator(".jp-OutputArea-child")
    assert children.count() == 2
    assert children.nth(0).locator(".carbon-magic-summary").count() == 1
    assert children.nth(1).inner_text().strip() == "keep me" and "keep me" in output_text(cell)
    screenshot(cell, "lab-waiting-clear-kept")
