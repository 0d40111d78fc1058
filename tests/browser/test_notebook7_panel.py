"""The live panel in Notebook 7 (the same server, its /notebooks/ page), driven by the keyboard
as a user would: it grows while the cell runs, then freezes on the record's figures."""

from __future__ import annotations

import re
import time

from .lab import output_text, prompt, screenshot, wait_cell_done

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


def test_live_panel_in_notebook_7(lab, page):
    path = lab.new_notebook("notebook7.ipynb")
    page.goto(lab.login_url(f"/notebooks/{path}"), wait_until="domcontentloaded")
    page.locator(".jp-Notebook .jp-Cell .cm-content").first.wait_for(timeout=60_000)
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
