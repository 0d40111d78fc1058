"""The live panel in Notebook 7 (the same server, its /notebooks/ page), driven by the keyboard
as a user would: it grows while the cell runs, then freezes on the record's figures."""

from __future__ import annotations

import json
import re
import time

from .lab import output_text, prompt, screenshot, wait_cell_done
from .test_live_panel import chart_reach, console_errors, saved_outputs

LIVE = ".carbon-magic-live-panel"
FROZEN = ".carbon-magic-panel"


def type_and_run(page, code: str):
    """Type ``code`` into the last cell (Notebook 7 has no ``window.jupyterapp``) and press
    Shift+Enter; the cell, once it runs. Until the page has connected to its kernel, a cell run
    does nothing: it is run again then."""
    cells = page.locator(".jp-Notebook .jp-Cell")
    cell = cells.nth(cells.count() - 1)
    cell.locator(".cm-content").click()
    for number, line in enumerate(code.split("\n")):
        if number:
            page.keyboard.press("Enter")
        page.keyboard.insert_text(line)  # as pasted: no auto-closed brackets
    started = cell.locator(".jp-InputPrompt").filter(has_text=re.compile(r"\[(\*|\d+)\]"))
    deadline = time.monotonic() + 60
    while True:
        page.keyboard.press("Shift+Enter")
        try:
            started.wait_for(timeout=3_000)
            return cell
        except Exception:
            if time.monotonic() > deadline:
                raise
        cell.locator(".cm-content").click()


def energy_wh(cell, scope: str) -> float:
    element = cell.locator(f'{scope} [data-figure="energy"]').first
    element.wait_for(state="attached", timeout=15_000)
    return float(element.get_attribute("data-value"))


# one line per statement: typed line by line, an indented block would be indented twice
BUSY_CELL = ("%%carbon --name {name}\nimport time\nstarted = time.time()\n"
             "while time.time() - started < 4.5: sum(i * i for i in range(20_000)); time.sleep(0.01)")


def open_notebook7(page, lab, path: str) -> None:
    page.goto(lab.login_url(f"/notebooks/{path}"), wait_until="domcontentloaded")
    page.locator(".jp-Notebook .jp-Cell .cm-content").first.wait_for(timeout=60_000)


def load_with_widgets(page) -> None:
    loaded = type_and_run(page, "%load_ext carbon_magic")
    wait_cell_done(loaded)
    assert "carbon_magic" in output_text(loaded)
    deadline = time.monotonic() + 60
    while True:  # the idle kernel prepares its widgets, then the front end answers the probe
        status = type_and_run(page, "%carbon status")
        wait_cell_done(status)
        if "front end renders them" in output_text(status) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert "front end renders them" in output_text(status)


def test_live_panel_in_notebook_7(lab, page):
    open_notebook7(page, lab, lab.new_notebook("notebook7.ipynb"))
    load_with_widgets(page)
    cell = type_and_run(page, "%%carbon --name notebook7\nimport time; time.sleep(6)")
    first = second = energy_wh(cell, LIVE)
    deadline = time.monotonic() + 4
    while second == first and time.monotonic() < deadline:  # the next update (1 s apart; later on a busy machine)
        time.sleep(0.2)
        second = energy_wh(cell, LIVE)
    assert prompt(cell) == "[*]:" and 0 < first < second
    screenshot(cell, "notebook7-panel-mid")
    wait_cell_done(cell, timeout_ms=30_000)
    cell.locator(f'{FROZEN} [data-state="ok"]').wait_for(timeout=10_000)
    final = energy_wh(cell, FROZEN)
    screenshot(cell, "notebook7-panel-after")
    report = type_and_run(page, "df = %carbon report\nprint(repr(float(df['energy_wh'].iloc[-1])))")
    wait_cell_done(report)
    assert final == float(output_text(report).strip()) > second


def test_notebook_7_every_panel_draws_its_chart_to_the_end_and_reads_untrusted(lab, page):
    path = lab.new_notebook("notebook7_three.ipynb")
    open_notebook7(page, lab, path)
    load_with_widgets(page)
    errors = console_errors(page)  # from the panels on (Notebook 7's start-up is not the panel's)
    for number in range(3):
        cell = type_and_run(page, BUSY_CELL.format(name=f"nb7run{number}"))
        reach = chart_reach(cell, f"notebook7-cell{number + 1}-mid")
        assert reach >= 0.75, f"panel {number + 1}: the chart reached {reach:.0%} of the elapsed time"
        wait_cell_done(cell, timeout_ms=30_000)
        cell.locator(f'{FROZEN} [data-state="ok"]').wait_for(timeout=10_000)
    energy_text = cell.locator(f'{FROZEN} [data-figure="energy"] .cm-value').inner_text()
    assert errors == [], "\n".join(errors)
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 15
    while not saved_outputs(lab, path, "%%carbon --name nb7run2") and time.monotonic() < deadline:
        page.keyboard.press("Control+s")
        time.sleep(1)
    notebook = lab.api("GET", f"/api/contents/{path}")["content"]
    notebook["metadata"]["copied_from"] = "a colleague"  # other content: no signature of it here, untrusted
    (lab.root / "notebook7_copy.ipynb").write_text(json.dumps(notebook))
    open_notebook7(page, lab, "notebook7_copy.ipynb")
    copy = page.locator(".jp-Notebook .jp-Cell").filter(has_text="nb7run2").first
    image = copy.locator(".jp-OutputArea-output img").first
    image.wait_for(timeout=15_000)
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    box = image.bounding_box()
    assert box["width"] > 300 and box["height"] > 80
    assert energy_text in output_text(copy) and "CO₂e" in output_text(copy)
    screenshot(copy, "notebook7-frozen-untrusted")


def test_notebook_7_panel_waits_for_an_import_in_progress(lab, page):
    """A cell importing a module plotly looks into (pandas; here one of that name that takes
    2 s, in the notebook's folder) while its panel starts: the panel shows and freezes."""
    package = lab.root / "slow_import" / "pandas"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("import time\ntime.sleep(2.0)\nclass Series: pass\nclass Index: pass\n")
    path = lab.new_notebook("notebook7_import.ipynb")
    open_notebook7(page, lab, path)
    load_with_widgets(page)
    wait_cell_done(type_and_run(page, "import sys; sys.path.insert(0, 'slow_import')"))
    cell = type_and_run(page, "%%carbon --name importing\nimport pandas\nimport time; time.sleep(3)")
    wait_cell_done(cell, timeout_ms=30_000)
    cell.locator(f'{FROZEN} [data-state="ok"]').wait_for(timeout=10_000)
    assert "failed" not in output_text(cell)
    screenshot(cell, "notebook7-import-frozen")
    status = type_and_run(page, "%carbon status")
    wait_cell_done(status)
    assert "live panel" not in output_text(status).split("Errors and warnings")[-1]
