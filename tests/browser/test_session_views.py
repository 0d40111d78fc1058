"""``%carbon panel``, ``%carbon plot``, ``%carbon report`` and the load message in a real
JupyterLab, light and dark, 1600 and 900 px wide (screenshots: tests/artifacts/session-*.png)."""

from __future__ import annotations

import time

import pytest

from .lab import (
    IMAGE_CONTRAST_JS, LOW_CONTRAST_JS, hide_side_panels, open_notebook, output_text, run_cell, screenshot, set_theme,
)

_PLOT_BACKGROUND = """(cell) => {
    const svg = cell.querySelector('.main-svg');
    return svg ? getComputedStyle(svg).backgroundColor : null;
}"""


@pytest.mark.parametrize("width", [1600, 900])
def test_session_views_read_well_in_both_themes(lab, page, width):
    path = lab.new_notebook(f"views-{width}.ipynb", ["%load_ext carbon_magic"])
    page.set_viewport_size({"width": width, "height": 1200})
    open_notebook(page, lab, path)
    hide_side_panels(page)
    loaded = run_cell(page, "%load_ext carbon_magic", timeout_ms=120_000)
    assert "carbon_magic" in output_text(loaded) and loaded.locator(".carbon-magic-loaded code").count() == 3
    for n in range(3):
        run_cell(page, f"%%carbon --quiet --name step\nsum(range({n + 1}_000_000))", timeout_ms=180_000)
    panel = run_cell(page, "%carbon panel")
    plot = run_cell(page, "%carbon plot", timeout_ms=120_000)
    report = run_cell(page, "%carbon report")
    plot.locator(".main-svg").first.wait_for(timeout=60_000)
    for dark in (False, True):
        set_theme(page, dark)
        theme = "dark" if dark else "light"
        for name, cell in (("load", loaded), ("panel", panel), ("plot", plot), ("report", report)):
            cell.scroll_into_view_if_needed()
            screenshot(cell, f"session-{name}-{theme}-{width}")
        assert "Error displaying widget" not in output_text(panel)
        assert "3 tracked runs" in output_text(panel) and "Water not estimated" not in output_text(panel)
        assert "Embodied CO₂e" in output_text(panel) and "off-site " in output_text(panel)  # the grid's water
        assert page.evaluate(_PLOT_BACKGROUND, plot.element_handle()) == "rgba(0, 0, 0, 0)"  # no white block
        assert "label" in output_text(report).split("status")[0]
    set_theme(page, False)


def test_session_panel_reads_untrusted_after_saving(lab, page):
    """Issue 14, points 2 and 4: saved and reopened as a colleague's (untrusted) copy, the session
    panel's chart is still an image with a non-zero size (JupyterLab's sanitizer drops inline
    SVG) and its figures and labels are text (screenshots: session-untrusted-*.png)."""
    import json

    from .test_live_panel import saved_outputs

    path = lab.new_notebook("session_to_share.ipynb", ["%load_ext carbon_magic"])
    open_notebook(page, lab, path)
    hide_side_panels(page)
    run_cell(page, "%load_ext carbon_magic", timeout_ms=120_000)
    for name in ("prepare", "train"):
        run_cell(page, f"%%carbon --quiet --name {name}\nsum(range(1_000_000))", timeout_ms=180_000)
    run_cell(page, "%carbon panel")
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    assert saved_outputs(lab, path, "%carbon panel")
    notebook = lab.api("GET", f"/api/contents/{path}")["content"]
    notebook["metadata"]["copied_from"] = "a colleague"  # other content: no signature of it here
    (lab.root / "session_copy.ipynb").write_text(json.dumps(notebook))
    for dark in (False, True):
        set_theme(page, dark)
        open_notebook(page, lab, "session_copy.ipynb")
        hide_side_panels(page)
        index = page.evaluate("""() => window.jupyterapp.shell.currentWidget.content.widgets.findIndex(
            cell => cell.model.sharedModel.getSource().startsWith('%carbon panel'))""")
        assert page.evaluate(
            "(index) => window.jupyterapp.shell.currentWidget.content.widgets[index].model.trusted", index) is False
        copy = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").nth(index)
        image = copy.locator(".jp-OutputArea-output img").first
        image.wait_for(timeout=15_000)
        page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle())
        box = image.bounding_box()
        assert box["width"] > 300 and box["height"] > 80
        assert copy.locator(".jp-OutputArea-output svg").count() == 0
        text = output_text(copy)
        assert "2 tracked runs" in text and "prepare" in text and "train" in text
        assert "this kernel's tracked runs only" in text and "CPU modelled" in text
        screenshot(copy, f"session-untrusted-{'dark' if dark else 'light'}")
    set_theme(page, False)


def _views_follow(panel, plot) -> dict:
    """What %carbon panel and %carbon plot show now: their texts below 4.5:1, and their images'
    text and background as read from the pixels."""
    images = panel.locator(".jp-OutputArea-output img")
    return {
        "panel text": panel.locator(".jp-OutputArea-output").first.evaluate(LOW_CONTRAST_JS),
        "plot text": plot.locator(".jp-OutputArea-output").first.evaluate(LOW_CONTRAST_JS),
        "panel images": [images.nth(i).evaluate(IMAGE_CONTRAST_JS) for i in range(images.count())],
    }


def _readable(found: dict) -> bool:
    return (not found["panel text"] and not found["plot text"] and len(found["panel images"]) == 1
            and all(image["page"] < 1.5 and image["inks"] and all(ink["ratio"] >= 4.5 for ink in image["inks"])
                    for image in found["panel images"]))


def test_panel_and_plot_text_reads_in_both_themes_at_900_px(lab, page):
    """Issue 14, points 10 and 11: every text of %carbon panel and %carbon plot, in light and in
    JupyterLab Dark, at 900 px, at least 4.5:1 against what is rendered behind it; the panel's
    chart (a PNG) is drawn on the theme's background with readable labels (read from its
    pixels), and both views follow a change of theme (screenshots: session-*-contrast-*.png)."""
    page.set_viewport_size({"width": 900, "height": 1200})
    path = lab.new_notebook("views-contrast.ipynb", ["%load_ext carbon_magic"])
    open_notebook(page, lab, path)
    hide_side_panels(page)
    run_cell(page, "%load_ext carbon_magic", timeout_ms=120_000)
    for n in range(3):
        run_cell(page, f"%%carbon --quiet --name step\nsum(range({n + 1}_000_000))", timeout_ms=180_000)
    panel = run_cell(page, "%carbon panel")
    plot = run_cell(page, "%carbon plot", timeout_ms=120_000)
    plot.locator(".main-svg").first.wait_for(timeout=60_000)
    try:
        for dark in (False, True, False):
            set_theme(page, dark)
            theme = "dark" if dark else "light"
            deadline, found = time.monotonic() + 30, _views_follow(panel, plot)
            while not _readable(found) and time.monotonic() < deadline:  # the kernel redraws them
                time.sleep(0.5)
                found = _views_follow(panel, plot)
            for name, cell in (("panel", panel), ("plot", plot)):
                cell.scroll_into_view_if_needed()
                screenshot(cell, f"session-{name}-contrast-{theme}-900")
            assert found["panel text"] == [] and found["plot text"] == [], (theme, found)
            assert len(found["panel images"]) == 1, found
            image = found["panel images"][0]
            assert image["page"] < 1.5, (theme, "the chart keeps another theme's background", image)
            assert image["inks"] and min(ink["ratio"] for ink in image["inks"]) >= 4.5, (theme, image)
            assert plot.locator(".main-svg text").count() > 10  # the axes' and legend's text was checked
    finally:
        set_theme(page, False)
