"""The live panel and ``%carbon panel`` in a real InteractiveShell: values follow the ledger,
updates are throttled, the final state is exact, and without a widget front end only the
static summary is shown. (Real kernels: test_panel_kernel.py; a real browser: tests/browser.)"""

from __future__ import annotations

import re
import threading
import time

import pytest

pytest.importorskip("IPython")
pytest.importorskip("ipywidgets")

from carbon_magic.core.problems import problems  # noqa: E402
from carbon_magic.ipython import display  # noqa: E402
from carbon_magic.ipython.extension import get_session  # noqa: E402
from carbon_magic.runtime import current_runtime  # noqa: E402

from .panel_support import WIDGET_MIME  # noqa: E402
from .polling import eventually  # noqa: E402

PLACE = {"text/plain": ""}  # the record's place, kept at the top of the cell's output as it starts


def extension(ip):
    from carbon_magic.ipython.extension import _loaded

    return _loaded[id(ip)]


def live_panel(ip):
    return extension(ip).live_panel


def run(ip, code: str):
    return ip.run_cell(code, store_history=True)


def data_value(html_text: str, figure: str) -> float:
    match = re.search(rf'data-figure="{figure}" data-value="([^"]+)"', html_text)
    assert match, f"no {figure} figure in {html_text[:200]}"
    return float(match.group(1))


class Watcher:
    """Wraps LiveCell.update: each reading the widgets were updated from, and what they showed."""

    def __init__(self, monkeypatch):
        from carbon_magic.ipython.panel.live_panel import LiveCell

        self.updates: list[tuple] = []
        original = LiveCell.update

        def update(cell, reading):
            original(cell, reading)
            if cell.view is not None or cell.state == "live":
                self.updates.append((cell, reading, cell.view.header.value if cell.view else None,
                                     cell.view.chart.chart if cell.view else None))

        monkeypatch.setattr(LiveCell, "update", update)


LONG_CELL = "%%carbon --panel-widgets always --panel-update-secs {period} {options}\nimport time\ntime.sleep({seconds})\n"


def test_widget_values_follow_the_ledger_and_freeze_on_the_exact_record(ip, monkeypatch):
    watcher = Watcher(monkeypatch)
    assert run(ip, LONG_CELL.format(period=0.5, options="--name training", seconds=3.2)).success
    record = get_session(ip).records[-1]
    updates = [u for u in watcher.updates if u[2] is not None]
    assert len(updates) >= 3
    energies = []
    for cell, reading, header, _ in updates:
        start = cell.start
        joules = sum(reading.energy_j[c] - start.energy_j[c] for c in cell.tracker.components)
        shown_wh = data_value(header, "energy")
        assert shown_wh == pytest.approx(joules / 3600.0, rel=1e-9)  # PUE 1: the ledger's joules in Wh
        assert data_value(header, "co2") == pytest.approx(joules / 3.6e6 * record.intensity_g_per_kwh, rel=1e-9)
        energies.append(shown_wh)
    assert energies == sorted(energies) and energies[0] < energies[-1] < record.energy_kwh * 1e3

    published = ip.recorder.published
    [place] = [p for p in published if not p["update"]]
    assert place["data"] == PLACE and place["thread"] == "MainThread" and published[0] is place
    shown = [p for p in published if WIDGET_MIME in p["data"]]
    assert len(shown) == 1 and shown[0]["thread"] == "carbon_magic-outputs-panel"
    assert shown[0]["update"] and shown[0]["display_id"] == place["display_id"]  # the panel fills the place
    frozen = [p for p in published if p["update"] and p["display_id"] == place["display_id"] and p is not shown[0]]
    assert len(frozen) == 1 and WIDGET_MIME not in frozen[0]["data"]
    bundle = frozen[0]["data"]
    assert bundle["text/plain"] == display.summary_text(record)
    assert data_value(bundle["text/html"], "energy") == record.energy_kwh * 1e3
    assert data_value(bundle["text/html"], "co2") == record.emissions_kg * 1e3
    # no WUE: CodeCarbon's water is 0; the water figure is the grid's off-site water, the embodied CO2 its own figure
    assert record.water_l == 0 and record.water_offsite_l and record.embodied_kg
    assert data_value(bundle["text/html"], "water") == pytest.approx(record.water_total_l * 1e3, rel=1e-12)
    assert data_value(bundle["text/html"], "embodied") == pytest.approx(record.embodied_kg * 1e3, rel=1e-12)
    assert 'data-state="ok"' in bundle["text/html"] and 'src="data:image/png;base64,' in bundle["text/html"]
    # the frozen panel is the summary: no second one after it
    assert not [p for p in published if "carbon-magic-summary" in p["data"].get("text/html", "") and not p["update"]]
    report = ip.run_line_magic("carbon", "report")
    assert report["energy_wh"].iloc[-1] == data_value(bundle["text/html"], "energy")


def test_updates_are_throttled_to_the_update_period(ip, monkeypatch):
    watcher = Watcher(monkeypatch)
    # the tracker asks the sampler for ticks every 0.1 s: the panel must still update every 0.6 s at most
    code = LONG_CELL.format(period=0.6, options="--measure-power-secs 0.1", seconds=3.3)
    assert run(ip, code).success
    times = [reading.t_mono for _, reading, _, _ in watcher.updates]
    assert len(times) >= 3
    assert all(later - earlier >= 0.6 for earlier, later in zip(times, times[1:]))
    assert len(times) <= 3.3 / 0.6


def test_the_series_stays_bounded_however_long_the_cell(ip, monkeypatch):
    from carbon_magic.ipython.panel import series as series_module

    monkeypatch.setattr(series_module, "MAX_POINTS", 8)
    watcher = Watcher(monkeypatch)
    assert run(ip, LONG_CELL.format(period=0.1, options="", seconds=2.5)).success
    lengths = [len(chart["times"]) for *_, chart in watcher.updates if chart]
    assert max(lengths) <= 9 and len(watcher.updates) > 12  # 8 points (+ the step's first) while updates went on


def test_short_cells_and_no_panel_cells_show_only_the_summary(ip):
    assert run(ip, "%%carbon --panel-widgets always\nx = 1").success
    assert run(ip, LONG_CELL.format(period=0.3, options="--no-panel", seconds=1.0)).success
    assert current_runtime().lanes.lane("panel").drain(5.0)
    place, short, no_panel = ip.recorder.published
    assert place["data"] == PLACE and not place["update"]
    assert short["update"] and short["display_id"] == place["display_id"]  # the summary fills the place
    assert not no_panel["update"]  # no panel, no place: the summary comes after the cell's output
    assert all(WIDGET_MIME not in p["data"] and "carbon-magic-summary" in p["data"]["text/html"] for p in (short, no_panel))


def test_without_a_widget_front_end_the_static_summary_is_the_output(ip):
    """A plain InteractiveShell (like terminal IPython) has no kernel: no widgets, no panel lane work."""
    assert run(ip, "%%carbon --panel-update-secs 0.2\nimport time\ntime.sleep(1.0)").success
    assert current_runtime().lanes.lane("panel").drain(5.0)
    [output] = ip.recorder.published
    assert WIDGET_MIME not in output["data"] and "carbon-magic-summary" in output["data"]["text/html"]
    assert output["data"]["text/plain"] == display.summary_text(get_session(ip).records[-1])
    assert "static summaries (not a Jupyter kernel" in live_panel(ip).describe()


def test_equivalents_can_be_switched_off(ip):
    assert run(ip, LONG_CELL.format(period=0.3, options="--panel-equivalents false", seconds=1.2)).success
    assert run(ip, LONG_CELL.format(period=0.3, options="", seconds=1.2)).success
    frozen = [p["data"]["text/html"] for p in ip.recorder.published if p["update"] and WIDGET_MIME not in p["data"]]
    assert len(frozen) == 2
    assert "cm-equivalents" not in frozen[0] and "driving a car" in frozen[1] and "phone charge" in frozen[1]


def test_a_failing_widget_update_never_breaks_the_cell(ip, monkeypatch):
    from carbon_magic.ipython.panel.live_panel import LiveCell

    def broken(cell, reading):
        raise RuntimeError("front end went away")

    monkeypatch.setattr(LiveCell, "update", broken)
    result = run(ip, LONG_CELL.format(period=0.2, options="", seconds=1.0) + "'done'\n")
    assert result.success and result.result == "done"
    assert current_runtime().lanes.lane("panel").drain(5.0)
    assert any(p.where == "live panel update" for p in problems.all())


def test_gpu_panel_is_redrawn_when_the_provisional_record_settles(ip, monkeypatch):
    from carbon_magic.core.sampler import settler
    from carbon_magic.runtime import current_runtime
    from tests.fakes.fake_pynvml import FakeGpu, install
    from tests.fakes.profiles import Constant

    ip.extension_manager.unload_extension("carbon_magic")
    current_runtime().samplers.close()
    # a counter updated every 0.5 s: the record made as the cell ends is provisional even when a busy
    # machine builds it late
    install(monkeypatch, [FakeGpu(Constant(300.0), update_s=0.5)])
    ip.run_line_magic("load_ext", "carbon_magic")
    time.sleep(settler.GPU_LEARN_S)
    assert run(ip, LONG_CELL.format(period=0.3, options="", seconds=1.2)).success
    provisional = get_session(ip).records[-1]
    eventually(lambda: not get_session(ip).records[-1].provisional, timeout_s=5)
    final = get_session(ip).records[-1]
    assert provisional.provisional and not final.provisional
    def updates_shown():
        return [p for p in ip.recorder.published if p["update"] and WIDGET_MIME not in p["data"]]

    eventually(lambda: len(updates_shown()) >= 2, timeout_s=5)
    updates = updates_shown()
    first, settled = updates
    assert "provisional" in first["data"]["text/html"] and first["thread"] == "MainThread"
    assert settled["thread"] == "carbon_magic-gpu-poller" and settled["display_id"] == first["display_id"]
    assert "provisional" not in settled["data"]["text/html"]
    assert data_value(settled["data"]["text/html"], "energy") == final.energy_kwh * 1e3
    assert "GPU" in settled["data"]["text/html"]


# -- %carbon panel ---------------------------------------------------------------------------


def test_session_panel_static_without_widgets(ip):
    ip.run_line_magic("carbon", "panel")
    [empty] = ip.recorder.published
    assert "0 tracked runs" in empty["data"]["text/plain"] and "No tracked cell yet" in empty["data"]["text/html"]
    for name in ("a", "b"):
        assert run(ip, f"%%carbon --quiet --name {name}\nx = sum(range(100000))").success
    ip.run_line_magic("carbon", "panel")
    panel = ip.recorder.published[-1]["data"]
    records = get_session(ip).records
    assert WIDGET_MIME not in panel
    assert panel["text/plain"].startswith("carbon_magic session: 2 tracked runs")
    assert data_value(panel["text/html"], "energy") == pytest.approx(sum(r.energy_kwh for r in records) * 1e3, rel=1e-12)
    assert panel["text/html"].count('<img class="cm-bars" src="data:image/png;base64,') == 1
    assert all(f"[{r.execution_count}] {r.label}" in panel["text/html"] for r in records)


def test_session_panel_is_one_static_display_replaced_as_cells_finish(ip):
    """No widget model to go missing in a saved notebook: the display holds the last state."""
    ip.run_line_magic("config", "CarbonMagic.panel_widgets = 'always'")
    assert run(ip, "%%carbon --quiet --name first\nx = 1").success
    ip.run_line_magic("carbon", "panel")
    shown = ip.recorder.published[-1]
    assert WIDGET_MIME not in shown["data"] and shown["display_id"] and not shown["update"]
    for name in ("second", "third"):
        assert run(ip, f"%%carbon --quiet --name {name}\nx = 1").success
    assert current_runtime().lanes.lane("panel").drain(5.0)
    updates = [p for p in ip.recorder.published if p["display_id"] == shown["display_id"] and p["update"]]
    latest = updates[-1]
    assert WIDGET_MIME not in latest["data"] and latest["thread"] != threading.main_thread().name
    records = get_session(ip).records
    assert data_value(latest["data"]["text/html"], "runs") == 3.0
    assert all(f"[{r.execution_count}] {r.label}" in latest["data"]["text/html"] for r in records)
    assert latest["data"]["text/plain"].startswith("carbon_magic session: 3 tracked runs")


def test_status_and_help_tell_about_the_panel(ip, capsys):
    ip.run_line_magic("carbon", "status")
    text = ip.recorder.published[-1]["data"]["text/plain"]
    assert "Live panel:" in text and "static summaries" in text
    doc = ip.find_line_magic("carbon").__doc__
    assert "%carbon panel" in doc and "live panel" in doc and "--no-panel" in doc
    capsys.readouterr()
    ip.run_line_magic("carbon", "--help-all")
    full = capsys.readouterr().out
    assert "--panel-update-secs" in full and "--panel-widgets" in full


def test_each_update_message_stays_small_with_eight_gpus_and_a_day_long_series(widget_libraries):
    """The worst case for message size: many components, long labels, 17-digit figures, a
    series fed for a simulated day at 1 Hz. Every widget message of an update stays < 5 KB."""
    import dataclasses
    import json
    import typing

    from carbon_magic.core.record import EmissionsData
    from carbon_magic.ipython.panel.panel_view import Snapshot
    from carbon_magic.ipython.panel.panel_widgets import LiveView
    from carbon_magic.ipython.panel.series import PowerSeries

    gpus = [f"gpu:{index}" for index in range(8)]
    components = ["cpu", "ram", *gpus]
    long_values = {str: "NVIDIA H100 80GB HBM3 " * 2, float: 1234.5678901234567, int: 8}
    hints = typing.get_type_hints(EmissionsData)
    data = EmissionsData(**{
        f.name: next(v for t, v in long_values.items() if hints[f.name] is t or t in typing.get_args(hints[f.name]))
        for f in dataclasses.fields(EmissionsData) if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }).replace(tracking_mode="machine", intensity_source="country table: Our World in Data / Ember 2023; " * 3)
    series = PowerSeries(components)
    view = LiveView(series.groups, "dark")
    sent: list[int] = []
    for widget in (view.header, view.chart):
        widget.comm.send = lambda data=None, buffers=None, **kw: sent.append(len(json.dumps(data)))
    day_s = 86_400
    for t in range(1, day_s + 1):
        series.add(float(t), {c: 700.123456789 * t for c in components}, co2_g=0.0123456789 * t)
        if t % 3600 == 0 or t < 5:
            snapshot = Snapshot("a long training run " * 3, "running", data,
                                {c: 699.987654321 for c in components}, series, True,
                                {c: 700.123456789 * t for c in components})
            view.show(snapshot)
    assert len(series.points) <= series.max_points
    assert len(sent) >= 2 * 28 and max(sent) < 5_000, max(sent)


def test_carbon_on_gives_long_cells_a_panel_unless_no_panel(ip):
    ip.run_line_magic("carbon", "on --panel-widgets always --panel-update-secs 0.3")
    try:
        assert run(ip, "import time\ntime.sleep(1.2)").success
        assert current_runtime().lanes.lane("panel").drain(5.0)
        shown = [p for p in ip.recorder.published if WIDGET_MIME in p["data"]]
        assert len(shown) == 1
        frozen = [p for p in ip.recorder.published
                  if p["update"] and p["display_id"] == shown[0]["display_id"] and WIDGET_MIME not in p["data"]]
        assert len(frozen) == 1 and data_value(frozen[0]["data"]["text/html"], "energy") == (
            get_session(ip).records[-1].energy_kwh * 1e3)
        # nothing is measured here: the energy tile says the modelled band of the final figure
        from carbon_magic.ipython.panel.presentation import band_of, band_range, energy

        record = get_session(ip).records[-1]
        band = band_of(record.energy_kwh, record.energy_low_kwh, record.energy_high_kwh)
        assert band is not None and band[0] < 0.8 < 1.3 < band[1]
        assert band_range(record.energy_kwh, band, energy) in frozen[0]["data"]["text/html"]
        from carbon_magic.ipython.panel.presentation import co2_mass  # the CO2e tile: the same band

        co2_band = band_of(record.emissions_kg, record.emissions_low_kg, record.emissions_high_kg)
        assert co2_band == pytest.approx(band)
        assert band_range(record.emissions_kg, co2_band, co2_mass) in frozen[0]["data"]["text/html"]
        assert 'data-component="platform" data-measured="false"' in frozen[0]["data"]["text/html"]
    finally:
        ip.run_line_magic("carbon", "off")
    ip.run_line_magic("carbon", "on --panel-widgets always --panel-update-secs 0.3 --no-panel")
    try:
        before = len(ip.recorder.published)
        assert run(ip, "import time\ntime.sleep(1.2)").success
        assert current_runtime().lanes.lane("panel").drain(5.0)
        assert not [p for p in ip.recorder.published[before:] if WIDGET_MIME in p["data"]]
    finally:
        ip.run_line_magic("carbon", "off")


def test_frozen_panels_the_session_panel_and_plots_are_redrawn_in_place_in_the_new_theme(ip, monkeypatch):
    """Issue 14, points 10 and 11: an image and a plotly figure carry their colours, so when the
    front end reports another theme the frozen live panel, the shown ``%carbon panel`` and
    ``%carbon plot`` are replaced (same display ids), off the kernel's thread, in the new
    theme's palette."""
    import base64

    import plotly.io

    from carbon_magic.ipython.panel.presentation import palette_of

    from .test_panel_parts import png_pixels, rgb

    monkeypatch.setattr(plotly.io.renderers, "default", "plotly_mimetype")  # as in JupyterLab
    frontend = live_panel(ip).frontend
    frontend.on_answer({"event": "front-end", "theme": "light"})
    assert run(ip, LONG_CELL.format(period=0.5, options="--quiet", seconds=1.5)).success
    run(ip, "%%carbon --quiet --no-panel\nx = 1")
    run(ip, "%carbon panel")
    run(ip, "%carbon plot")
    assert current_runtime().lanes.lane("panel").drain(10.0)
    shown = {p["display_id"]: p["data"] for p in ip.recorder.published if p["display_id"]}  # the latest of each
    [frozen_id] = [i for i in shown if i.startswith("carbon-magic-panel-")]
    [panel_id] = [i for i in shown if i.startswith("carbon-magic-session-")]
    [plot_id] = [i for i in shown if i.startswith("carbon-magic-plot-")]

    def look(data: dict) -> set:
        [png] = re.findall(r'<img class="cm-(?:chart|bars)" src="data:image/png;base64,([^"]+)"', data["text/html"])
        return png_pixels(base64.b64decode(png))[2]

    def font(data: dict) -> str:
        return data["application/vnd.plotly.v1+json"]["layout"]["font"]["color"]

    light, dark = palette_of("light"), palette_of("dark")
    assert all(rgb(light.background) in look(shown[i]) for i in (frozen_id, panel_id))
    assert font(shown[plot_id]) == light.text
    ip.recorder.published.clear()
    frontend.on_answer({"event": "front-end", "theme": "dark"})
    assert current_runtime().lanes.lane("panel").drain(10.0)
    updates = {p["display_id"]: p for p in ip.recorder.published if p["update"]}
    assert set(updates) == {frozen_id, panel_id, plot_id}
    assert all(p["thread"] != threading.current_thread().name for p in updates.values())
    for display_id in (frozen_id, panel_id):
        assert rgb(dark.background) in look(updates[display_id]["data"])
        assert rgb(light.background) not in look(updates[display_id]["data"])
    assert font(updates[plot_id]["data"]) == dark.text
    assert updates[frozen_id]["data"]["text/plain"] == shown[frozen_id]["text/plain"]  # the same record
