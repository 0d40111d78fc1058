"""``%carbon report``, ``%carbon plot``, ``%carbon panel`` and the sidebar's kernel history in a
real InteractiveShell: the columns people read first, the panel's look and units, totals kept
per record."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("IPython")
pandas = pytest.importorskip("pandas")
pytest.importorskip("plotly")

from carbon_magic.ipython.extension import get_session  # noqa: E402
from carbon_magic.ipython.options import NO_OPTIONS  # noqa: E402
from carbon_magic.ipython.sidebar.history import KernelHistory  # noqa: E402

from .ipython_helpers import loaded_shell  # noqa: E402
from .polling import eventually  # noqa: E402

CELL_ID = "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"


@pytest.fixture
def ip(isolated, monkeypatch):
    shell = loaded_shell(monkeypatch)
    yield shell
    shell.extension_manager.unload_extension("carbon_magic")


def run(ip, code: str, cell_id: str | None = None):
    result = ip.run_cell(code, store_history=True, cell_id=cell_id)
    assert result.success, result
    return result


def test_report_puts_what_people_read_first_and_shortens_cell_ids_only_when_shown(ip):
    run(ip, "%%carbon --name training --quiet\nx = sum(range(10_000))", cell_id=CELL_ID)
    frame = ip.run_line_magic("carbon", "report")
    assert list(frame.columns[:6]) == ["label", "status", "duration_s", "energy_wh", "co2_g", "water_ml"]
    assert frame["cell_id"].iloc[0] == CELL_ID  # the data keep the whole id
    start = frame["start_time"].iloc[0]
    assert start.microsecond == 0 and start.nanosecond == 0
    shown_html = frame._repr_html_()
    assert CELL_ID not in shown_html and CELL_ID[:8] + "…" in shown_html
    assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</td>", shown_html)
    with pandas.option_context("display.max_columns", None, "display.width", 10_000):
        shown_text = repr(frame)
    assert CELL_ID not in shown_text and CELL_ID[:8] + "…" in shown_text
    assert type(frame["label"]).__name__ == "Series" and type(frame.head(1)).__name__ == "DataFrame"


def test_plot_has_the_panels_look_and_scaled_units(ip):
    from carbon_magic.ipython.panel.presentation import axis_unit, group_colour, palette_of

    for n in range(2):
        run(ip, f"%%carbon --quiet\nx{n} = 1")
    records = get_session(ip).records
    factor, unit = axis_unit(max(r.energy_kwh for r in records) * 1e3, "Wh")
    assert unit != "Wh"  # tiny cells: mWh or µWh, never 0.00001 Wh
    figure = ip.run_line_magic("carbon", "plot")
    layout = figure.layout
    assert layout.paper_bgcolor == "rgba(0,0,0,0)" and layout.plot_bgcolor == "rgba(0,0,0,0)"  # no white block
    assert layout.template.layout.paper_bgcolor is None  # not plotly's default template
    assert layout.yaxis.title.text == unit and layout.yaxis2.title.text.endswith("g CO₂e")
    cpu = next(t for t in figure.data if t.name == "CPU" and t.yaxis == "y")
    assert list(cpu.y) == pytest.approx([r.cpu_energy_kwh * 1e3 * factor for r in records])
    assert cpu.marker.color == group_colour("cpu")
    from carbon_magic.ipython.panel.plot import figure as plot_figure

    dark = plot_figure(records, "dark").layout
    assert dark.font.color == palette_of("dark").text  # the live panel's text colour in the dark theme
    assert dark.xaxis.gridcolor == palette_of("dark").grid


def test_session_panel_counts_every_record_once_and_spans_not_twice(ip):
    ip.run_line_magic("config", "CarbonMagic.panel_widgets = 'never'")
    ip.run_line_magic("carbon", "start outer --quiet")
    loop = "for _ in range(300):\n    get_ipython().run_line_magic('carbon', '--name step --quiet _x = 1')"
    run(ip, loop)
    ip.run_line_magic("carbon", "stop outer")
    bundle = panel_bundle(ip)
    records = get_session(ip).records
    counted = [r for r in records if r.kind != "span"]
    assert len(counted) == 300 and len(records) == 301
    assert bundle["text/plain"].startswith("carbon_magic session: 300 tracked runs")
    energy = float(re.search(r'data-figure="energy" data-value="([^"]+)"', bundle["text/html"]).group(1))
    assert energy == pytest.approx(sum(r.energy_kwh for r in counted) * 1e3, rel=1e-9)


def panel_bundle(ip) -> dict:
    from IPython.utils.capture import capture_output

    with capture_output() as captured:
        ip.run_line_magic("carbon", "panel")
    return captured.outputs[-1].data


def test_session_panel_shows_no_water_headline_for_an_unset_wue_and_no_grid_water(ip):
    ip.run_line_magic("config", "CarbonMagic.panel_widgets = 'never'")
    ip.run_line_magic("config", "CarbonMagic.offsite_water = False")
    run(ip, "%%carbon --quiet\nx = 1")
    unset = panel_bundle(ip)
    assert 'data-figure="water"' not in unset["text/html"] and "Water not estimated" in unset["text/html"]
    assert "water not estimated (wue unset, offsite_water off)" in unset["text/plain"]
    run(ip, "%%carbon --quiet --wue 1.8\nx = 2")
    counted = panel_bundle(ip)
    water_ml = float(re.search(r'data-figure="water" data-value="([^"]+)"', counted["text/html"]).group(1))
    assert water_ml == pytest.approx(sum(r.water_l for r in get_session(ip).records) * 1e3) and water_ml > 0
    assert "Water not estimated" not in counted["text/html"]


def test_session_panel_totals_the_grids_water_with_its_split_and_the_embodied_co2(ip):
    ip.run_line_magic("config", "CarbonMagic.panel_widgets = 'never'")
    run(ip, "%%carbon --quiet\nx = 1")
    run(ip, "%%carbon --quiet --country-iso-code DEU\nx = 2")
    bundle = panel_bundle(ip)
    records = get_session(ip).records
    water_ml = float(re.search(r'data-figure="water" data-value="([^"]+)"', bundle["text/html"]).group(1))
    assert water_ml == pytest.approx(sum(r.water_total_l for r in records) * 1e3) and water_ml > 0
    assert sum(r.water_l for r in records) == 0  # CodeCarbon's water: no wue
    embodied_g = float(re.search(r'data-figure="embodied" data-value="([^"]+)"', bundle["text/html"]).group(1))
    assert embodied_g == pytest.approx(sum(r.embodied_kg for r in records) * 1e3) and embodied_g > 0
    assert "off-site " in bundle["text/html"] and " modelled" in bundle["text/html"]
    assert "Water not estimated" not in bundle["text/html"]
    assert "| embodied " in bundle["text/plain"] and "| water " in bundle["text/plain"]
    # the total water's band: the grid's water model's (two grids here), on top of the on-site water
    from carbon_magic.ipython.panel.presentation import water

    high_l = sum(r.water_onsite_l + r.water_offsite_high_l for r in records)
    low_l = sum(r.water_onsite_l + r.water_offsite_low_l for r in records)
    assert 0 < low_l < water_ml / 1e3 < high_l
    tile = re.search(r'data-figure="water".*?</div></div>', bundle["text/html"]).group(0)
    assert f" .. {water(high_l)} modelled · off-site " in tile, tile
    assert f" .. {water(high_l)} modelled)" in bundle["text/plain"], bundle["text/plain"]


def png_of(html_text: str) -> tuple[int, int, int]:
    """(width, height, distinct colours) of the one PNG data URI in ``html_text`` (read back
    from its bytes: signature, IHDR, the inflated RGB rows)."""
    import base64
    import struct
    import zlib

    [encoded] = re.findall(r'<img class="cm-bars" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html_text)
    png = base64.b64decode(encoded)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    idat, offset = b"", 8
    while offset < len(png):
        (length,), kind = struct.unpack(">I", png[offset:offset + 4]), png[offset + 4:offset + 8]
        if kind == b"IDAT":
            idat += png[offset + 8:offset + 8 + length]
        offset += length + 12
    rows = zlib.decompress(idat)
    stride = 1 + 3 * width
    pixels = {rows[row * stride + 1 + 3 * x:row * stride + 4 + 3 * x] for row in range(0, height, 4) for x in range(0, width, 2)}
    return width, height, len(pixels)


def test_session_panel_chart_is_a_png_that_survives_sanitising(ip):
    """JupyterLab's sanitizer strips inline SVG from an untrusted notebook's HTML; an <img> of
    a PNG data URI stays (issue 14, points 2 and 4)."""
    ip.run_line_magic("config", "CarbonMagic.panel_widgets = 'never'")
    for name in ("alpha", "beta", "gamma"):
        run(ip, f"%%carbon --quiet --name {name}\nx = sum(range(200000))")
    bundle = panel_bundle(ip)
    html_text = bundle["text/html"]
    assert "<svg" not in html_text and "<rect" not in html_text
    width, height, colours = png_of(html_text)
    assert width > 0 and height > 0 and colours >= 4  # background, grid, text, bars, CO2 marks
    assert 'width="700" height="210"' in html_text
    labels = re.search(r'<div class="cm-bar-labels"[^>]*>(.*?)</div>', html_text).group(1)
    assert all(f"[{r.execution_count}] {r.label}" in labels for r in get_session(ip).records)
    assert bundle["text/plain"].startswith("carbon_magic session: 3 tracked runs")


def test_session_panel_says_whose_totals_and_what_a_counter_measured(ip, tmp_path):
    """Issue 14, point 7: the totals are this kernel's tracked runs, not the machine's, and each
    component says whether a counter measured it or a model."""
    from .fakes.powercap import make_tree

    ip.run_line_magic("config", "CarbonMagic.panel_widgets = 'never'")
    run(ip, "%%carbon --quiet --name modelled\nx = 1")
    [modelled] = get_session(ip).records
    assert modelled.measured_kinds == frozenset() and modelled.machine_wide  # no RAPL here: CPU and RAM modelled
    bundle = panel_bundle(ip)
    for text in (bundle["text/plain"], bundle["text/html"]):
        assert "this kernel's tracked runs only, not the machine's whole session" in text.replace("&#x27;", "'")
        assert "whole machine's power while it ran" in text.replace("&#x27;", "'")
        assert "CPU modelled" in text and "RAM modelled" in text and "measured (counter)" not in text

    make_tree(tmp_path)
    run(ip, f"%%carbon --quiet --name counted --powercap-root {tmp_path} --tracking-mode process\nx = 1")
    counted = get_session(ip).records[-1]
    assert counted.measured_kinds == frozenset({"cpu"}) and not counted.machine_wide
    text = panel_bundle(ip)["text/plain"]
    assert "CPU measured (counter) in 1 of 2 runs, else modelled" in text and "RAM modelled" in text
    assert "the whole machine's power in 1 of 2 runs, this kernel's share in the others" in text


def test_session_panel_totals_carry_the_band_of_modelled_runs(ip):
    """Issue 18: no counter here, so the totals are modelled and carry their band (the sums of
    the records' bands), in the text and on the Energy and CO2e tiles, like every modelled figure."""
    from carbon_magic.ipython.panel.presentation import band_of, band_range, banded, co2, co2_mass, energy

    ip.run_line_magic("config", "CarbonMagic.panel_widgets = 'never'")
    for name in ("alpha", "beta"):
        run(ip, f"%%carbon --quiet --name {name}\nx = sum(range(200000))")
    records = get_session(ip).records
    energy_kwh, co2_kg = sum(r.energy_kwh for r in records), sum(r.emissions_kg for r in records)
    energy_band = band_of(energy_kwh, sum(r.energy_low_kwh for r in records), sum(r.energy_high_kwh for r in records))
    co2_band = band_of(co2_kg, sum(r.emissions_low_kg for r in records), sum(r.emissions_high_kg for r in records))
    assert energy_band is not None and energy_band[0] < 1 < energy_band[1] and co2_band is not None
    bundle = panel_bundle(ip)
    assert f"| {banded(energy_kwh, energy_band, energy)} | {banded(co2_kg, co2_band, co2)} |" in bundle["text/plain"]
    tiles = {key: sub for key, sub in re.findall(
        r'data-figure="(\w+)".*?<div[^>]*>[^<]*</div><div[^>]*>[^<]*</div><div[^>]*>([^<]*)</div>', bundle["text/html"])}
    assert tiles["energy"].startswith(band_range(energy_kwh, energy_band, energy) + " · CPU ")
    assert tiles["co2"].startswith(band_range(co2_kg, co2_band, co2_mass) + " · ")


def test_a_state_never_drops_a_window_whose_tracker_stopped_before_its_record_came(ip):
    """Between a window's tracker stopping and the session telling its record (the kernel's
    thread closing a cell while the sampler's thread builds a state), the window is still
    listed as running but has no figures so far: a state then would show the totals without
    that cell's energy, less than the state before. No state is made then (the next one is)."""
    session = get_session(ip)
    history = KernelHistory()
    window = session.open("cell", NO_OPTIONS, session.cell)  # as pre_run_cell opens a cell's window
    history.cell_started(window)
    assert eventually(lambda: (history.state({}) or {"totals": {"energy_wh": 0}})["totals"]["energy_wh"] > 0)
    before = history.state({})
    assert before is not None and before["totals"]["energy_wh"] > 0 and before["running"]
    window.tracker.stop(wait=False)  # what Session.close does first, before telling listeners
    during = history.state({})
    assert during is None, during["totals"]
    session.close(window, "ok")  # its tracker already stopped: nothing more is recorded


def test_a_window_whose_record_never_comes_stops_holding_states_back(ip, monkeypatch):
    """A window whose tracker stopped but whose record never came (its tracker failed while
    stopping) holds states back only FINISHING_WAIT_S; then it is no longer running."""
    from carbon_magic.ipython.sidebar import history as history_module

    session = get_session(ip)
    history = KernelHistory()
    window = session.open("cell", NO_OPTIONS, session.cell)
    history.cell_started(window)
    window.tracker.stop(wait=False)
    assert history.state({}) is None
    monkeypatch.setattr(history_module, "FINISHING_WAIT_S", 0.0)
    assert eventually(lambda: history.state({}) is not None)
    assert history.state({})["running"] == []
    session.close(window, "ok")
