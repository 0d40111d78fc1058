"""The live panel in a real JupyterLab: numbers grow while a cell runs, then freeze on the record.

Screenshots (light and dark theme, mid-run and after, and the session panel) are saved to
tests/artifacts/.
"""

from __future__ import annotations

import re
import time

from .lab import (
    hide_side_panels, open_notebook, output_text, prompt, run_cell, screenshot, set_theme, wait_cell_done,
)

SIX_SECONDS = (
    "%%carbon --name training\n"
    "import time\n"
    "started = time.time()\n"
    "while time.time() - started < 6:\n"
    "    sum(i * i for i in range(20_000))\n"
    "    time.sleep(0.01)\n"
)
LIVE = ".carbon-magic-live-panel"
FROZEN = ".carbon-magic-panel"


def figure_value(cell, figure: str, scope: str) -> float:
    element = cell.locator(f'{scope} [data-figure="{figure}"]').first
    element.wait_for(state="attached", timeout=30_000)
    return float(element.get_attribute("data-value"))


def chart_points(cell) -> int:
    """How many instants the live plotly chart draws now (plotly keeps them on its element)."""
    return cell.locator(f"{LIVE} .js-plotly-plot").first.evaluate("plot => plot.data[0].x.length")


def wait_for_widgets(page) -> None:
    """Until the kernel, idle after loading, has its widgets ready and the front end answered."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        cell = run_cell(page, "%carbon status")
        if "front end renders them" in output_text(cell):
            return
        time.sleep(1)
    raise AssertionError(f"the widget probe was never answered:\n{output_text(cell)}")


def test_live_panel_grows_while_the_cell_runs_then_equals_the_record(lab, page):
    path = lab.new_notebook("live_panel.ipynb")
    open_notebook(page, lab, path)
    hide_side_panels(page)
    run_cell(page, "%load_ext carbon_magic")
    wait_for_widgets(page)

    cell = run_cell(page, SIX_SECONDS, wait=False)
    cell.locator(f"{LIVE} .js-plotly-plot").first.wait_for(timeout=15_000)
    first_wh, first_points = figure_value(cell, "energy", LIVE), chart_points(cell)
    deadline = time.monotonic() + 4
    second_wh = first_wh
    while second_wh == first_wh and time.monotonic() < deadline:
        time.sleep(0.2)
        second_wh = figure_value(cell, "energy", LIVE)
    assert prompt(cell) == "[*]:", "both readings were taken while the cell ran"
    assert 0 < first_wh < second_wh
    assert chart_points(cell) > first_points >= 2
    assert figure_value(cell, "co2", LIVE) > 0
    screenshot(cell, "panel-light-mid")

    wait_cell_done(cell, timeout_ms=30_000)
    cell.locator(f'{FROZEN} [data-state="ok"]').wait_for(timeout=10_000)
    assert cell.locator(LIVE).count() == 0 and cell.locator(".carbon-magic-summary").count() == 1
    final = {name: figure_value(cell, name, FROZEN) for name in ("energy", "co2")}
    assert final["energy"] > second_wh
    assert cell.locator(f'{FROZEN} [data-figure="water"]').count() == 0  # no WUE: no water figure
    screenshot(cell, "panel-light-after")

    report = run_cell(page, "df = %carbon report\nrow = df.iloc[-1]\n"
                            "print(row['label'], *(repr(float(row[c])) for c in ('energy_wh', 'co2_g')))")
    label, energy_wh, co2_g = output_text(report).split()
    assert label == "training"
    assert final == {"energy": float(energy_wh), "co2": float(co2_g)}

    # the frozen panel is what the notebook keeps: static HTML, no widget to miss without a kernel
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        saved = lab.api("GET", f"/api/contents/{path}")["content"]["cells"]
        outputs = [o for c in saved if c["source"].startswith("%%carbon") for o in c["outputs"]]
        if outputs:
            break
        time.sleep(0.3)
    assert [sorted(o["data"]) for o in outputs] == [["text/html", "text/plain"]]
    assert "carbon-magic-panel" in outputs[0]["data"]["text/html"] and "training" in "".join(outputs[0]["data"]["text/plain"])


def test_panel_follows_the_dark_theme_and_the_session_panel_grows(lab, page):
    path = lab.new_notebook("dark_panel.ipynb")
    open_notebook(page, lab, path)
    hide_side_panels(page)
    set_theme(page, dark=True)
    try:
        run_cell(page, "%load_ext carbon_magic")
        wait_for_widgets(page)
        assert "dark theme" in output_text(run_cell(page, "%carbon status"))
        session = run_cell(page, "%carbon panel")
        session.locator(".carbon-magic-session-panel .js-plotly-plot").first.wait_for(timeout=15_000)
        assert figure_value(session, "runs", ".carbon-magic-session-panel") == 0.0

        cell = run_cell(page, SIX_SECONDS.replace("< 6", "< 4").replace("training", "dark"), wait=False)
        cell.locator(f"{LIVE} .js-plotly-plot").first.wait_for(timeout=15_000)
        time.sleep(1.5)
        background = cell.locator(f"{LIVE} .main-svg").first.evaluate("svg => getComputedStyle(svg).backgroundColor")
        assert background in ("rgba(0, 0, 0, 0)", "transparent")  # the chart lets the dark page through
        screenshot(cell, "panel-dark-mid")
        wait_cell_done(cell, timeout_ms=30_000)
        cell.locator(f'{FROZEN} [data-state="ok"]').wait_for(timeout=10_000)
        colour = cell.locator(f'{FROZEN} [data-figure="energy"] .cm-value').evaluate("e => getComputedStyle(e).color")
        assert sum(int(c) for c in colour[colour.index("(") + 1:-1].split(",")[:3]) > 3 * 160  # light text on dark
        screenshot(cell, "panel-dark-after")

        run_cell(page, "%%carbon --name quick --quiet\nx = sum(range(1000))")
        deadline = time.monotonic() + 10
        while figure_value(session, "runs", ".carbon-magic-session-panel") < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert figure_value(session, "runs", ".carbon-magic-session-panel") == 2.0  # grew as cells finished
        bars = session.locator(".carbon-magic-session-panel .js-plotly-plot").first.evaluate("plot => plot.data[0].x")
        assert [re.sub(r"^\[\d+\] ", "", bar) for bar in bars] == ["dark", "quick"]
        session.scroll_into_view_if_needed()
        screenshot(session, "session-panel-dark")
    finally:
        set_theme(page, dark=False)


FOUR_SECONDS = SIX_SECONDS.replace("< 6", "< 4.5")


def console_errors(page) -> list[str]:
    """Every error the page logs from now on (console errors and uncaught exceptions)."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def chart_reach(cell, shot: str) -> float:
    """The largest ratio, while the cell ran, of the live chart's last instant to the elapsed
    time in the panel's header (both in seconds under 3 minutes); a screenshot ``shot`` late
    in the run."""
    plot = cell.locator(f"{LIVE} .js-plotly-plot").first
    plot.wait_for(timeout=15_000)
    best = 0.0
    while prompt(cell) == "[*]:":
        try:
            elapsed = float(cell.locator(f"{LIVE} .cm-duration").first.get_attribute("data-value", timeout=1_000))
            last_x = plot.evaluate("p => p.data[0].x.length ? p.data[0].x[p.data[0].x.length - 1] : 0", timeout=1_000)
        except Exception:  # the panel froze between the two reads
            break
        if elapsed >= 2.0:
            best = max(best, last_x / elapsed)
        if elapsed >= 3.5 and shot:
            screenshot(cell, shot)
            shot = ""
        time.sleep(0.25)
    return best


def test_every_panel_of_a_kernel_draws_its_chart_to_the_end(lab, page):
    errors = console_errors(page)
    path = lab.new_notebook("three_panels.ipynb")
    open_notebook(page, lab, path)
    hide_side_panels(page)
    run_cell(page, "%load_ext carbon_magic")
    wait_for_widgets(page)
    for number in range(3):
        cell = run_cell(page, FOUR_SECONDS.replace("training", f"run{number}"), wait=False)
        reach = chart_reach(cell, f"panel-light-cell{number + 1}-mid")
        assert reach >= 0.75, f"panel {number + 1}: the chart reached {reach:.0%} of the elapsed time"
        wait_cell_done(cell, timeout_ms=30_000)
        cell.locator(f'{FROZEN} [data-state="ok"]').wait_for(timeout=10_000)
    assert errors == []
