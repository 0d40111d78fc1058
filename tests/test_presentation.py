"""One look for every view (``carbon_magic/ipython/panel/presentation.py``): a figure reads the
same in the summary, ``%carbon panel``, ``%carbon plot``, the report and the sidebar, and the
number formats hold at their boundaries."""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("IPython")
pytest.importorskip("plotly")

from carbon_magic.ipython import display  # noqa: E402
from carbon_magic.ipython.extension import get_session  # noqa: E402
from carbon_magic.ipython.panel import presentation  # noqa: E402
from carbon_magic.ipython.panel.presentation import CO2, ENERGY, PALETTES, WATER  # noqa: E402
from carbon_magic.ipython.sidebar import protocol  # noqa: E402

from .ipython_helpers import loaded_shell  # noqa: E402
from .test_panel_parts import contrast  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FORMAT_JS = REPO / "lib" / "format.js"  # the sidebar's formats, built from labextension/src/format.ts


@pytest.fixture
def ip(isolated, monkeypatch):
    shell = loaded_shell(monkeypatch)
    yield shell
    shell.extension_manager.unload_extension("carbon_magic")


def test_a_figure_reads_the_same_in_the_summary_the_session_panel_the_plot_and_the_report(ip):
    from IPython.utils.capture import capture_output

    ip.run_line_magic("config", "CarbonMagic.panel_widgets = 'never'")
    ip.run_cell("%%carbon --quiet --wue 1.8\nx = sum(range(200_000))", store_history=True)
    [record] = get_session(ip).records
    # the water a view shows is the total: on-site (wue, CodeCarbon's water) + the grid's off-site water
    energy, co2, water = (presentation.energy(record.energy_kwh), presentation.co2_mass(record.emissions_kg),
                          presentation.water(record.water_total_l))
    assert re.fullmatch(r"[\d.]+ [µmk]?Wh", energy) and record.water_total_l > record.water_l > 0
    assert f"water {water} (" in display.summary_text(record)

    summary = display.summary_text(record)
    assert f"| {energy} (" in summary and " modelled) |" in summary  # the band of the modelled components and f"| {co2} CO2e |" in summary and f"water {water}" in summary
    assert energy in display.summary_html(record)
    # the CO2 is as modelled as the energy: it carries the same band, in the text and the HTML
    co2_band = presentation.band_of(record.emissions_kg, record.emissions_low_kg, record.emissions_high_kg)
    co2_text = presentation.banded(record.emissions_kg, co2_band, presentation.co2)
    assert co2_band is not None and f"| {co2_text} |" in summary
    assert html.escape(co2_text) in display.summary_html(record)

    with capture_output() as captured:
        ip.run_line_magic("carbon", "panel")
    panel = captured.outputs[-1].data["text/html"]
    tiles = dict(re.findall(r'data-figure="(\w+)"[^>]*>.*?class="cm-value"[^>]*>([^<]+)<', panel))
    assert tiles["energy"] == energy and tiles["co2"] == co2 and tiles["water"] == water
    exact = dict(re.findall(r'data-figure="(\w+)" data-value="([^"]+)" data-unit', panel))
    assert float(exact["energy"]) == pytest.approx(ENERGY.of(record.energy_kwh))

    figure = ip.run_line_magic("carbon", "plot")
    number, unit = energy.split(" ")
    assert figure.layout.yaxis.title.text == unit  # the summary's unit on the plot's axis
    bars = [t for t in figure.data if t.yaxis == "y"]
    assert f"{sum(t.y[0] for t in bars):.3g}" == f"{float(number):.3g}"

    frame = ip.run_line_magic("carbon", "report")
    assert frame["energy_wh"].iloc[0] == pytest.approx(ENERGY.of(record.energy_kwh))
    assert frame["co2_g"].iloc[0] == pytest.approx(CO2.of(record.emissions_kg))
    entry = protocol.cell_entry(record, protocol.ClusterDetail())  # what the sidebar receives: the report's units
    assert entry["energy_wh"] == pytest.approx(frame["energy_wh"].iloc[0], rel=1e-4)
    assert entry["water_ml"] == pytest.approx(WATER.of(record.water_l), rel=1e-4)
    assert entry["footprint"]["water_total_ml"] == pytest.approx(frame["water_total_ml"].iloc[0], rel=1e-4)
    assert frame["water_total_ml"].iloc[0] == pytest.approx(WATER.of(record.water_total_l))


def test_a_status_has_one_colour_in_the_summary_and_the_panel(ip):
    ip.run_line_magic("config", "CarbonMagic.panel_widgets = 'never'")
    ip.run_cell("%%carbon --quiet\nraise ValueError('x')", store_history=True)
    [record] = get_session(ip).records
    assert record.status == "failed"
    assert f"border-left-color:{presentation.STATUS_COLOURS['failed']}" in display.summary_html(record)
    assert len(set(presentation.STATUS_COLOURS.values())) == len(presentation.STATUS_COLOURS)


# Boundaries where a prefix or a unit changes: 3 significant digits are rounded first, so that
# 0.9997 Wh reads '1 Wh' (not '1e+03 mWh') and 0.99995 s '1 s' (not '1e+03 ms').
ENERGY_WH = (0.0, 2.5e-7, 0.0214, 0.9997, 1.0, 999.7, 1234.5, 2.5e6)
SECONDS = (0.0, 0.000123, 0.85, 0.99995, 2.314, 59.99, 192.5, 3725.0)


def test_formats_at_their_boundaries():
    assert [presentation.energy(wh / 1e3) for wh in ENERGY_WH] == [
        "0 Wh", "250 nWh", "21.4 mWh", "1 Wh", "1 Wh", "1 kWh", "1.23 kWh", "2.5 MWh"]
    assert [presentation.duration(s) for s in SECONDS] == [
        "0 ms", "0.123 ms", "850 ms", "1 s", "2.31 s", "1 min 00 s", "3 min 12 s", "1 h 02 min"]
    assert presentation.co2(0.000376) == "376 mg CO2e" and presentation.water(0.025) == "25 mL"
    assert presentation.power(12.34) == "12.3 W" and presentation.power(712.4) == "712 W"


def test_the_sidebar_writes_the_protocols_figures_as_the_kernel_does():
    """The sidebar formats the protocol's figures (Wh, g, mL, s, W) in TypeScript: the same text
    as the kernel's views for every case (labextension/src/format.ts, built to lib/)."""
    cases = {"energy": ENERGY_WH, "co2": [wh * 17 for wh in ENERGY_WH], "water": [wh * 1e3 for wh in ENERGY_WH],
             "duration": SECONDS, "power": (0.5, 12.34, 99.94, 712.4)}
    script = (f"import * as f from {json.dumps(str(FORMAT_JS))};\n"
              f"const cases = {json.dumps(cases)};\n"
              "console.log(JSON.stringify({energy: cases.energy.map((v) => f.energy(v)),"
              " co2: cases.co2.map((v) => f.scaled(v, 'g')), water: cases.water.map((v) => f.water(v)),"
              " duration: cases.duration.map((v) => f.duration(v)), power: cases.power.map((v) => f.power(v))}));")
    done = subprocess.run(["node", "--no-warnings", "--input-type=module", "-e", script],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    sidebar = json.loads(done.stdout)
    kernel = {
        "energy": [presentation.energy(v / ENERGY.factor) for v in cases["energy"]],
        "co2": [presentation.co2_mass(v / CO2.factor) for v in cases["co2"]],
        "water": [presentation.water(v / WATER.factor) for v in cases["water"]],
        "duration": [presentation.duration(v) for v in cases["duration"]],
        "power": [presentation.power(v) for v in cases["power"]],
    }
    assert sidebar == kernel


@pytest.mark.parametrize("theme", sorted(PALETTES))
def test_every_palette_text_reads_on_its_background(theme):
    palette = PALETTES[theme]
    assert contrast(palette.text, palette.background) >= 4.5
    assert contrast(palette.co2_text, palette.background) >= 4.5
    assert contrast(palette.grid, palette.background) < 1.6  # grid lines stay quiet


def test_a_modelled_figure_shows_its_band_and_a_measured_one_shows_none():
    assert presentation.banded(8.6, (0.5, 2.0), presentation.power) == "8.6 W (4.3 .. 17.2 W modelled)"
    assert presentation.banded(8.6, None, presentation.power) == "8.6 W"
    assert presentation.banded(0.0123, (0.77, 1.42), presentation.energy) == "12.3 Wh (9.47 .. 17.5 Wh modelled)"
    assert presentation.banded(0.0012, (0.5, 1.0), presentation.energy) == "1.2 Wh (600 mWh .. 1.2 Wh modelled)"
