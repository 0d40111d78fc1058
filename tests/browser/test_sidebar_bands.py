"""The sidebar's modelled figures in a real JupyterLab in headless Chromium, at 900 px.

This VM has no energy counter, so everything is modelled (issue 18): the kernel-total tiles
(Energy, CO2e, and Water, which is always modelled) carry their band, as each cell row's energy,
CO2e and water do (under each figure), and
the power rows name every component (CPU, RAM, PLATFORM) in full with its measured/modelled tag
and its power's band, not cut by an ellipsis, readable in the light and the dark theme.
Screenshots: tests/artifacts/sidebar-bands-{light,dark}-900.png (the tiles and power rows) and
tests/artifacts/sidebar-cell-bands-{light,dark}-900.png (the last cells).
"""

from __future__ import annotations

import pytest

from .lab import LOW_CONTRAST_JS, run_cell, screenshot, set_theme
from .test_sidebar import SIDEBAR, load_in_new_notebook, sidebar_in_each_theme

WIDTH_PX = 900

# The tiles' figures and bands, and every text of the tiles and power rows whose content is
# wider than its box (clipped, or cut with an ellipsis).
_READ = """(root) => {
    const tile = (name) => {
        const value = root.querySelector(`.cm-Total-${name} .cm-Tile-value`);
        const band = root.querySelector(`.cm-Total-${name} .cm-Tile-band`);
        return {value: Number(value.dataset.value), text: band ? band.textContent : null,
                low: band ? Number(band.dataset.low) : null, high: band ? Number(band.dataset.high) : null};
    };
    const cellBand = (figure, band) => {
        const row = root.querySelector('.cm-Cell');
        const node = row.querySelector(`.cm-Cell-${band}`);
        return {figure: row.querySelector(`.cm-Cell-${figure}`).textContent, text: node ? node.textContent : null,
                low: node ? Number(node.dataset.low) : null, high: node ? Number(node.dataset.high) : null};
    };
    const clipped = [];
    for (const node of root.querySelectorAll(
            '.cm-Tile-label, .cm-Tile-value, .cm-Tile-band, .cm-Power-row .cm-Row-label, .cm-Power-row .cm-How-tag,'
            + ' .cm-Power-row .cm-Row-figure, .cm-Power-row .cm-Row-band, .cm-Cell-figures > span')) {
        if (node.scrollWidth > node.clientWidth || node.textContent.includes('…')) {
            clipped.push({text: node.textContent, scroll: node.scrollWidth, client: node.clientWidth});
        }
    }
    const rows = Array.from(root.querySelectorAll('.cm-Power-row')).map((row) => {
        const label = row.querySelector('.cm-Row-label').getBoundingClientRect();
        const bar = row.querySelector('.cm-Bar').getBoundingClientRect();
        const band = row.querySelector('.cm-Row-band');
        return {component: row.dataset.component, label: row.querySelector('.cm-Row-label').innerText,
                overlap: label.right > bar.left + 0.5, bar: bar.width, band: band ? band.textContent : null};
    });
    return {energy: tile('energy'), co2: tile('co2'), water: tile('water'), clipped, rows,
            cell: {energy: cellBand('energy', 'energy-band'), co2: cellBand('co2', 'co2-band'),
                   water: cellBand('water', 'water-band')}};
}"""


def test_modelled_totals_and_cell_rows_show_their_bands_and_power_rows_name_every_component(lab, page):
    load_in_new_notebook(lab, page, "sidebar-bands.ipynb", WIDTH_PX)
    run_cell(page, "%%carbon --quiet\nsum(range(300_000))", timeout_ms=180_000)  # after the panel's imports
    page.wait_for_selector(f"{SIDEBAR} .cm-Total-energy .cm-Tile-band", state="attached")
    page.wait_for_selector(f'{SIDEBAR} .cm-Power-row[data-component="platform"]', state="attached")
    for theme in sidebar_in_each_theme(page, f"sidebar-bands-{{theme}}-{WIDTH_PX}"):
        found = page.evaluate(_READ, page.query_selector(SIDEBAR))
        for name in ("energy", "co2", "water"):
            tile = found[name]
            assert tile["text"] and tile["text"].endswith(" modelled"), (theme, name, tile)
            assert 0 < tile["low"] < tile["value"] < tile["high"], (theme, name, tile)
        # the cell row: its energy and its CO2e each with its band under it
        screenshot(page.locator(f"{SIDEBAR} .cm-Cells"), f"sidebar-cell-bands-{theme}-{WIDTH_PX}")
        cell = found["cell"]
        assert cell["energy"]["text"].endswith("Wh modelled") and cell["co2"]["text"].endswith("g modelled"), (theme, cell)
        assert cell["co2"]["figure"].endswith("g CO₂e"), (theme, cell)
        # water: the figure, then the grid's water model's band (on-site water: none without a WUE)
        assert cell["water"]["figure"].startswith("water ") and cell["water"]["text"].endswith("L modelled"), cell
        for band in cell.values():
            assert 0 < band["low"] < band["high"], (theme, band)
        assert found["water"]["high"] / found["water"]["low"] == pytest.approx(
            cell["water"]["high"] / cell["water"]["low"], rel=1e-2), (theme, found["water"])  # one grid, one band
        assert cell["co2"]["high"] / cell["co2"]["low"] == pytest.approx(cell["energy"]["high"] / cell["energy"]["low"],
                                                                          rel=1e-3), (theme, cell)  # one intensity
        assert page.locator(f"{SIDEBAR} .cm-Cell-figures").first.evaluate(LOW_CONTRAST_JS) == [], theme
        assert found["clipped"] == [], (theme, found["clipped"])
        rows = {row["component"]: row for row in found["rows"]}
        assert {"cpu", "ram", "platform"} <= set(rows), rows
        for component, row in rows.items():
            assert component.split(":")[0].upper() in row["label"] and "modelled" in row["label"], (theme, row)
            assert not row["overlap"] and row["bar"] > 20, (theme, row)
            assert row["band"] and " .. " in row["band"] and row["band"].endswith(" W"), (theme, row)  # no counter here
    set_theme(page, False)


# A cell that runs until the test has looked at it (at most 3 minutes).
WAITING_CELL = ("%%carbon --quiet\nimport pathlib, time\nt0 = time.time()\n"
                "while not pathlib.Path('stop-running-band').exists() and time.time() - t0 < 180:\n    time.sleep(0.05)")
_READ_RUNNING = """(root) => {
    const band = root.querySelector('.cm-Running-band');
    const box = band.getBoundingClientRect(), side = root.getBoundingClientRect();
    return {text: band.textContent, clipped: band.scrollWidth > band.clientWidth + 0.5 || band.textContent.includes('…'),
            inside: box.left >= side.left - 0.5 && box.right <= side.right + 0.5};
}"""


def test_a_running_cells_energy_shows_its_band_under_its_row(lab, page):
    load_in_new_notebook(lab, page, "sidebar-running-band.ipynb", WIDTH_PX)
    stop = lab.root / "stop-running-band"
    try:
        run_cell(page, WAITING_CELL, wait=False)
        page.wait_for_selector(f"{SIDEBAR} .cm-Running-band", state="attached", timeout=180_000)
        for theme in sidebar_in_each_theme(page, f"sidebar-running-band-{{theme}}-{WIDTH_PX}"):
            screenshot(page.locator(f"{SIDEBAR} .cm-Running"), f"sidebar-running-row-{theme}-{WIDTH_PX}")
            found = page.evaluate(_READ_RUNNING, page.query_selector(SIDEBAR))
            assert found["text"].endswith("Wh modelled") and " .. " in found["text"], (theme, found)
            assert not found["clipped"] and found["inside"], (theme, found)
            assert page.locator(f"{SIDEBAR} .cm-Running").evaluate(LOW_CONTRAST_JS) == [], theme
    finally:
        stop.touch()
        set_theme(page, False)
