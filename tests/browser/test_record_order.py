"""Where a tracked cell's record stands among its printed output, in a real JupyterLab and
Notebook 7 (issue 14, point 13): the frozen panel stays where the live panel was shown, before
the cell's printed output (printed before the panel showed or after), in every cell of a
kernel, once the kernel is idle and after the saved notebook is reopened; a cell too short for
a panel has its summary there."""

from __future__ import annotations

import time

from .lab import open_notebook, run_cell, screenshot, wait_cell_done
from .test_live_panel import load_with_widgets, saved_outputs
from .test_notebook7_panel import load_with_widgets as load_with_widgets_7
from .test_notebook7_panel import open_notebook7, type_and_run

FROZEN = ".carbon-magic-panel"
CELLS = 3
# one line per statement (Notebook 7's cells are typed line by line)
PRINTING_CELL = ("%%carbon --name order{number}\nimport time\nprint('before {number}')\nstarted = time.time()\n"
                 "while time.time() - started < 4: sum(i * i for i in range(20_000)); time.sleep(0.01)\n"
                 "print('after {number}')")

SHORT_CELL = "%%carbon --name short\nprint('before short')\nprint('after short')"

# The cell's output areas in DOM order: "record" for the frozen panel or the summary, else the text shown.
OUTPUTS_JS = """(cell) => Array.from(cell.querySelectorAll('.jp-OutputArea-child')).map(child =>
    child.querySelector('.carbon-magic-panel, .carbon-magic-summary') ? 'record' : child.innerText.trim())"""


def output_order(cell) -> list[str]:
    return cell.evaluate(OUTPUTS_JS)


def assert_record_first(order: list[str], number: int | str) -> None:
    """The record, then the cell's prints in the order they were printed; no empty output."""
    assert order[:1] == ["record"] and order.count("record") == 1 and "" not in order, (number, order)
    printed = "\n".join(order[1:])
    assert f"before {number}" in printed and f"after {number}" in printed, (number, order)
    assert printed.index(f"before {number}") < printed.index(f"after {number}"), (number, order)


def test_the_record_stands_before_the_cells_prints_in_jupyterlab(lab, page):
    path = lab.new_notebook("record_order.ipynb")
    load_with_widgets(page, lab, path)
    cells = []
    for number in range(CELLS):
        cell = run_cell(page, PRINTING_CELL.format(number=number), wait=False)
        wait_cell_done(cell, timeout_ms=60_000)
        cell.locator(f'{FROZEN} [data-state="ok"]').wait_for(timeout=10_000)
        assert_record_first(output_order(cell), number)
        cells.append(cell)
    short = run_cell(page, SHORT_CELL)
    short.locator(".carbon-magic-summary").first.wait_for(timeout=10_000)
    time.sleep(1.5)  # later messages (a settled record, the next idle preparation) move nothing
    for number, cell in enumerate(cells):
        assert_record_first(output_order(cell), number)
    assert_record_first(output_order(short), "short")
    screenshot(cells[-1], "record-order-lab")

    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    saved = saved_outputs(lab, path, f"%%carbon --name order{CELLS - 1}")
    assert [o["output_type"] for o in saved][:1] == ["display_data"], saved
    open_notebook(page, lab, path)
    for number in range(CELLS):
        reopened = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").filter(
            has_text=f"--name order{number}").first
        reopened.locator(FROZEN).first.wait_for(state="attached", timeout=15_000)
        assert_record_first(output_order(reopened), number)


def test_the_record_stands_before_the_cells_prints_in_notebook_7(lab, page):
    path = lab.new_notebook("record_order_7.ipynb")
    open_notebook7(page, lab, path)
    load_with_widgets_7(page)
    cells = []
    for number in range(CELLS):
        cell = type_and_run(page, PRINTING_CELL.format(number=number))
        wait_cell_done(cell, timeout_ms=60_000)
        cell.locator(f'{FROZEN} [data-state="ok"]').wait_for(timeout=10_000)
        assert_record_first(output_order(cell), number)
        cells.append(cell)
    time.sleep(1.5)
    for number, cell in enumerate(cells):
        assert_record_first(output_order(cell), number)
    screenshot(cells[-1], "record-order-notebook7")
