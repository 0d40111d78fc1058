"""The live panel in a real JupyterLab: numbers grow while a cell runs, then freeze on the record.

Screenshots (light and dark theme, mid-run and after, and the session panel) are saved to
tests/artifacts/.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from .lab import (
    LOW_CONTRAST_JS, VIEWPORT, hide_side_panels, open_notebook, output_text, prompt, run_cell, screenshot, set_theme, wait_cell_done,
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


CHART = f"{LIVE} svg.cm-chart[data-points]"


def chart_points(cell) -> int:
    """How many instants the live chart draws now (it keeps the count on its element)."""
    return int(cell.locator(CHART).first.get_attribute("data-points"))


def wait_for_widgets(page) -> None:
    """Until the kernel, idle after loading, has its widgets ready and the front end answered."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        cell = run_cell(page, "%carbon status")
        if "front end renders them" in output_text(cell):
            return
        time.sleep(1)
    raise AssertionError(f"the widget probe was never answered:\n{output_text(cell)}")


def load_with_widgets(page, lab, path: str) -> None:
    """Open ``path``, load the extension and wait until the front end renders its widgets."""
    open_notebook(page, lab, path)
    hide_side_panels(page)
    run_cell(page, "%load_ext carbon_magic")
    wait_for_widgets(page)


def test_live_panel_grows_while_the_cell_runs_then_equals_the_record(lab, page):
    path = lab.new_notebook("live_panel.ipynb")
    load_with_widgets(page, lab, path)

    cell = run_cell(page, SIX_SECONDS, wait=False)
    cell.locator(CHART).first.wait_for(timeout=30_000)
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
    # no WUE: the water figure is the grid's off-site water; the embodied CO2e is a figure of its own
    final = {name: figure_value(cell, name, FROZEN) for name in ("energy", "co2", "water", "embodied")}
    assert final["energy"] > second_wh and final["water"] > 0 and final["embodied"] > 0
    screenshot(cell, "panel-light-after")

    columns = ("energy_wh", "co2_g", "water_total_ml", "embodied_co2_g")
    report = run_cell(page, "df = %carbon report\nrow = df.iloc[-1]\n"
                            f"print(row['label'], *(repr(float(row[c])) for c in {columns!r}))")
    label, *figures = output_text(report).split()
    assert label == "training"
    assert final == dict(zip(("energy", "co2", "water", "embodied"), map(float, figures)))

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
        session.locator(".carbon-magic-session").first.wait_for(timeout=15_000)
        assert figure_value(session, "runs", ".carbon-magic-session") == 0.0

        cell = run_cell(page, SIX_SECONDS.replace("< 6", "< 4").replace("training", "dark"), wait=False)
        cell.locator(CHART).first.wait_for(timeout=30_000)
        time.sleep(1.5)
        background = cell.locator(CHART).first.evaluate("svg => getComputedStyle(svg).backgroundColor")
        assert background in ("rgba(0, 0, 0, 0)", "transparent")  # the chart lets the dark page through
        screenshot(cell, "panel-dark-mid")
        wait_cell_done(cell, timeout_ms=30_000)
        cell.locator(f'{FROZEN} [data-state="ok"]').wait_for(timeout=10_000)
        colour = cell.locator(f'{FROZEN} [data-figure="energy"] .cm-value').evaluate("e => getComputedStyle(e).color")
        assert sum(int(c) for c in colour[colour.index("(") + 1:-1].split(",")[:3]) > 3 * 160  # light text on dark
        screenshot(cell, "panel-dark-after")

        run_cell(page, "%%carbon --name quick --quiet\nx = sum(range(1000))")
        deadline = time.monotonic() + 10
        while figure_value(session, "runs", ".carbon-magic-session") < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert figure_value(session, "runs", ".carbon-magic-session") == 2.0  # grew as cells finished (in place)
        assert session.locator(".carbon-magic-session").count() == 1  # one display, replaced, not a second one
        bars = session.locator(".carbon-magic-session img.cm-bars").first
        assert bars.evaluate("img => img.complete && img.naturalWidth > 0 && img.naturalHeight > 0")
        labels = session.locator(".carbon-magic-session .cm-bar-labels").first.inner_text()
        assert labels.index("dark") < labels.index("quick")  # the bars' labels, oldest first
        session.scroll_into_view_if_needed()
        screenshot(session, "session-panel-dark")
    finally:
        set_theme(page, dark=False)


FOUR_SECONDS = SIX_SECONDS.replace("< 6", "< 4.5")


def console_errors(page) -> list[str]:
    """Every error the page logs from now on (console errors and uncaught exceptions)."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(f"{message.text} (at {message.location.get('url')}:"
                                                     f"{message.location.get('lineNumber')})")
            if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"{error}\n{error.stack}"))
    return errors


def chart_reach(cell, shot: str) -> float:
    """The largest ratio, while the cell ran, of the live chart's last instant to the elapsed
    time in the panel's header (both in seconds under 3 minutes); a screenshot ``shot`` late
    in the run."""
    plot = cell.locator(CHART).first
    plot.wait_for(timeout=30_000)
    best = 0.0
    while prompt(cell) == "[*]:":
        try:
            elapsed = float(cell.locator(f"{LIVE} .cm-duration").first.get_attribute("data-value", timeout=1_000))
            last_x = float(plot.get_attribute("data-end-s", timeout=1_000))
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
    load_with_widgets(page, lab, path)
    for number in range(3):
        cell = run_cell(page, FOUR_SECONDS.replace("training", f"run{number}"), wait=False)
        reach = chart_reach(cell, f"panel-light-cell{number + 1}-mid")
        assert reach >= 0.75, f"panel {number + 1}: the chart reached {reach:.0%} of the elapsed time"
        wait_cell_done(cell, timeout_ms=30_000)
        cell.locator(f'{FROZEN} [data-state="ok"]').wait_for(timeout=10_000)
    assert errors == []


def saved_outputs(lab, path: str, startswith: str) -> list[dict]:
    """The saved outputs of the cells of ``path`` whose source starts with ``startswith``."""
    deadline = time.monotonic() + 10
    while True:
        cells = lab.api("GET", f"/api/contents/{path}")["content"]["cells"]
        outputs = [o for c in cells if c["source"].startswith(startswith) for o in c["outputs"]]
        if outputs or time.monotonic() > deadline:
            return outputs
        time.sleep(0.3)


def test_the_frozen_panel_reads_untrusted_and_in_nbconvert_html(lab, page):
    path = lab.new_notebook("to_share.ipynb")
    load_with_widgets(page, lab, path)
    cell = run_cell(page, FOUR_SECONDS.replace("training", "shared"), wait=False)
    cell.locator(CHART).first.wait_for(timeout=30_000)
    live_height = cell.locator(LIVE).first.bounding_box()["height"]
    wait_cell_done(cell, timeout_ms=30_000)
    cell.locator(f'{FROZEN} [data-state="ok"]').wait_for(timeout=10_000)
    frozen_height = cell.locator(FROZEN).first.bounding_box()["height"]
    assert abs(frozen_height - live_height) <= 0.1 * live_height, (live_height, frozen_height)
    energy_text = cell.locator(f'{FROZEN} [data-figure="energy"] .cm-value').inner_text()
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    outputs = saved_outputs(lab, path, "%%carbon")
    assert len(outputs) == 1

    # a colleague's copy: never signed on this machine, so untrusted
    notebook = lab.api("GET", f"/api/contents/{path}")["content"]
    notebook["metadata"]["copied_from"] = "a colleague"  # other content: no signature of it here
    (lab.root / "copy.ipynb").write_text(json.dumps(notebook))
    for dark in (False, True):
        set_theme(page, dark=dark)
        for width in (1600, 900):
            page.set_viewport_size({"width": width, "height": 900})
            open_notebook(page, lab, "copy.ipynb")
            hide_side_panels(page)
            index = page.evaluate("""() => window.jupyterapp.shell.currentWidget.content.widgets.findIndex(
                cell => cell.model.sharedModel.getSource().startsWith('%%carbon'))""")
            copy = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").nth(index)
            trusted = page.evaluate(
                "(index) => window.jupyterapp.shell.currentWidget.content.widgets[index].model.trusted", index)
            assert trusted is False
            image = copy.locator(".jp-OutputArea-output img").first
            image.wait_for(timeout=15_000)
            page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle())
            box = image.bounding_box()
            assert box["width"] > 300 and box["height"] > 80
            assert box["width"] <= copy.locator(".jp-OutputArea-output").first.bounding_box()["width"] + 1
            text = output_text(copy)
            assert energy_text in text and "CO₂e" in text and "shared" in text
            screenshot(copy, f"frozen-untrusted-{'dark' if dark else 'light'}-{width}")
    set_theme(page, dark=False)
    page.set_viewport_size(VIEWPORT)

    for sanitize in (False, True):
        done = subprocess.run(
            [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--stdout",
             f"--HTMLExporter.sanitize_html={sanitize}", str(lab.root / "copy.ipynb")],
            capture_output=True, text=True, timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert 'src="data:image/png;base64,' in done.stdout and energy_text in done.stdout


def test_every_text_of_the_panel_has_enough_contrast_in_both_themes(lab, page):
    load_with_widgets(page, lab, lab.new_notebook("contrast.ipynb"))
    try:
        for dark, width in ((False, 1600), (True, 900)):
            set_theme(page, dark=dark)
            page.set_viewport_size({"width": width, "height": 900})
            theme = "dark" if dark else "light"
            cell = run_cell(page, FOUR_SECONDS.replace("training", f"contrast-{theme}"), wait=False)
            cell.locator(CHART).first.wait_for(timeout=30_000)
            time.sleep(2.0)
            assert cell.locator(LIVE).first.evaluate(LOW_CONTRAST_JS) == [], f"live panel, {theme} theme"
            chart, panel = cell.locator(CHART).first.bounding_box(), cell.locator(LIVE).first.bounding_box()
            assert chart["x"] + chart["width"] <= panel["x"] + panel["width"]  # fluid: never clipped
            screenshot(cell, f"panel-{theme}-{width}-contrast-live")
            wait_cell_done(cell, timeout_ms=30_000)
            cell.locator(f'{FROZEN} [data-state="ok"]').wait_for(timeout=10_000)
            assert cell.locator(FROZEN).first.evaluate(LOW_CONTRAST_JS) == [], f"frozen panel, {theme} theme"
            screenshot(cell, f"panel-{theme}-{width}-contrast-frozen")
    finally:
        set_theme(page, dark=False)
        page.set_viewport_size(VIEWPORT)
