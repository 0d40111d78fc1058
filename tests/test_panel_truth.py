"""What the live panel and its frozen record claim, in a real InteractiveShell: whose figures
they are (the machine or this kernel), which components a counter measures and which are
modelled, no water figure without a WUE; the panel never touches a module that the user's
code is still importing; Colab's widget manager is on before the first widget; JupyterLite gets one sentence."""

from __future__ import annotations

import re
import sys
import threading
import types

import pytest

pytest.importorskip("IPython")
pytest.importorskip("ipywidgets")

from carbon_magic.core.problems import problems  # noqa: E402
from carbon_magic.ipython.extension import get_session  # noqa: E402
from carbon_magic.runtime import current_runtime  # noqa: E402

from .fakes.powercap import make_tree  # noqa: E402
from .panel_support import WIDGET_MIME  # noqa: E402
from .test_panel import LONG_CELL, run  # noqa: E402


def frozen_html(ip) -> str:
    """The frozen panel's HTML (the last display update of the live panel)."""
    [frozen] = [p for p in ip.recorder.published if p["update"] and WIDGET_MIME not in p["data"]][-1:]
    return frozen["data"]["text/html"]


def measured_marks(html_text: str) -> dict[str, str]:
    return dict(re.findall(r'data-component="([^"]+)" data-measured="(true|false)"', html_text))


def test_frozen_panel_says_machine_wide_and_modelled_and_shows_no_water_without_wue_or_the_grids(ip):
    options = "--name modelled --offsite-water false"
    assert run(ip, LONG_CELL.format(period=0.3, options=options, seconds=1.0)).success
    html_text = frozen_html(ip)
    # no RAPL here: CPU, RAM and the rest of the machine all modelled
    assert measured_marks(html_text) == {"cpu": "false", "ram": "false", "platform": "false"}
    assert "CPU modelled" in html_text and "whole machine" in html_text and "Energy · machine" in html_text
    assert 'data-figure="water"' not in html_text and "water not counted (set wue or offsite_water)" in html_text
    summary = [p for p in ip.recorder.published if p["update"]][-1]["data"]["text/plain"]
    assert "water" not in summary  # a structural zero is not a measurement

    options = "--name wet --wue 1.8 --offsite-water false"
    assert run(ip, LONG_CELL.format(period=0.3, options=options, seconds=1.0)).success
    html_text = frozen_html(ip)
    record = get_session(ip).records[-1]
    assert record.water_l > 0 and 'data-figure="water"' in html_text and "WUE 1.8 L/kWh" in html_text


def test_frozen_panel_shows_the_grids_water_with_its_split_and_embodied_co2_as_its_own_figure(ip):
    assert run(ip, LONG_CELL.format(period=0.3, options="--name grid --country-iso-code DEU", seconds=1.0)).success
    html_text = frozen_html(ip)
    record = get_session(ip).records[-1]
    assert record.water_l == 0 and record.water_offsite_l > 0  # CodeCarbon's column untouched, no wue
    water_figure = html_text[html_text.index('data-figure="water"'):]
    assert "off-site " in water_figure and "on-site 0 L" in water_figure
    assert " modelled) · on-site" in water_figure  # the grid's water is modelled: its band beside it
    assert "water: Germany grid, on-site none</div>" in html_text
    embodied_figure = html_text[html_text.index('data-figure="embodied"'):]
    assert "Embodied CO₂e" in embodied_figure and " modelled</div>" in embodied_figure
    assert 'data-figure="co2"' in html_text  # operational CO2 stays its own figure


def test_a_counter_measured_cpu_is_marked_measured_and_process_mode_says_this_kernel(ip, tmp_path):
    make_tree(tmp_path)
    options = f"--powercap-root {tmp_path} --tracking-mode process"
    assert run(ip, LONG_CELL.format(period=0.3, options=options, seconds=1.0)).success
    html_text = frozen_html(ip)
    assert measured_marks(html_text) == {"cpu": "true", "ram": "false", "platform": "false"}  # RAPL: the CPU only
    assert "CPU measured (counter)" in html_text and "this kernel" in html_text
    assert "Energy · this kernel" in html_text and "Energy · machine" not in html_text


def test_the_panel_waits_for_a_module_the_users_code_is_still_importing(ip, tmp_path, monkeypatch):
    """Widget libraries look into modules the user may be importing (plotly, which the panel
    once drew with, reads ``pandas.Series`` whenever pandas is in sys.modules): a panel starting
    while the user's code imports pandas (here a module of that name that takes 2 s) waits."""
    package = tmp_path / "slow" / "pandas"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("import time\ntime.sleep(2.0)\nclass Series: pass\nclass Index: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path / "slow"))
    real = {name: module for name, module in sys.modules.items() if name == "pandas" or name.startswith("pandas.")}
    for name in real:
        del sys.modules[name]
    cell = "%%carbon --panel-widgets always --panel-update-secs 0.2 --name importing\nimport pandas\nimport time\ntime.sleep(1.0)\n"
    try:
        assert run(ip, cell).success
        assert current_runtime().lanes.lane("panel").drain(10.0)
        assert sys.modules["pandas"].__file__.startswith(str(tmp_path))
    finally:
        sys.modules.pop("pandas", None)
        sys.modules.update(real)
    assert [p for p in problems.all() if "panel" in p.where] == []
    shown = [p for p in ip.recorder.published if WIDGET_MIME in p["data"]]
    assert len(shown) == 1  # the panel was shown once the import was done


def test_in_colab_the_custom_widget_manager_is_turned_on_before_the_first_widget(ip, monkeypatch):
    """Colab's widget manager renders ipywidgets 8 and anywidget only once turned on: anywidget
    does it as its first widget is made, and the panel's first widget is the probe (an anywidget)."""
    calls: list[str] = []
    colab = types.ModuleType("google.colab")
    colab.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append("enabled"))
    google = types.ModuleType("google")
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab.output", colab.output)
    from carbon_magic.ipython.panel import panel_widgets

    opened = panel_widgets.open_probe
    monkeypatch.setattr(panel_widgets, "open_probe", lambda answer: (opened(answer), calls.append("probe made"))[0])
    assert run(ip, LONG_CELL.format(period=0.2, options="", seconds=0.8)).success
    assert current_runtime().lanes.lane("panel").drain(10.0)
    assert calls == ["enabled", "probe made"]


def test_jupyterlite_gets_one_sentence_not_a_traceback(monkeypatch, capsys):
    """Pyodide: sys.platform 'emscripten', no threads (starting one raises)."""
    from IPython.core.interactiveshell import InteractiveShell

    def no_threads(self):
        raise RuntimeError("can't start new thread")

    shell = InteractiveShell.instance()
    monkeypatch.setattr(sys, "platform", "emscripten")
    monkeypatch.setattr(threading.Thread, "start", no_threads)
    try:
        shell.run_line_magic("load_ext", "carbon_magic")
    finally:
        monkeypatch.undo()
        shell.extension_manager.unload_extension("carbon_magic")  # IPython counts it as loaded
    out, err = capsys.readouterr()
    assert err == "" and out.count("\n") == 1 and "JupyterLite" in out and "Traceback" not in out
    assert "carbon" not in shell.magics_manager.magics["cell"]



def power_sub(html_text: str) -> str:
    """The text under the panel's power figure (its total's band, then each part)."""
    figure = html_text[html_text.index('data-figure="power"'):]
    subs = re.findall(r"<div[^>]*>(.*?)</div>", figure.split("</div></div>", 1)[0] + "</div>", re.S)
    return re.sub(r"<[^>]+>", "", subs[-1])


def test_the_power_figure_carries_the_band_of_its_modelled_parts_live_and_frozen(ip, monkeypatch, tmp_path):
    """Issue 18: every modelled figure carries its band. Live (power now) and frozen (average
    power), the panel's power figure gives each modelled part its band and the total the band
    of its parts; a part a counter measures (the CPU, by RAPL) has none."""
    from carbon_magic.ipython.panel.presentation import band_range, banded, power, sum_band

    from .test_panel import Watcher

    watcher = Watcher(monkeypatch)
    assert run(ip, LONG_CELL.format(period=0.3, options="--name modelled", seconds=1.5)).success
    record = get_session(ip).records[-1]
    bands = dict(record.bands)
    assert set(bands) == {"cpu", "ram", "platform"}  # no counter here: all modelled, each with its band
    cell, reading, header, _ = [u for u in watcher.updates if u[2] is not None][-1]
    power_now = {component: reading.power_w[component] for component in cell.tracker.components}  # machine mode
    live = power_sub(header)
    assert live.startswith(band_range(sum(power_now.values()), sum_band(power_now, bands), power) + " ·"), live
    for component, watts in power_now.items():
        assert f"{component.upper()} {banded(watts, bands[component], power)}" in live, live
    frozen = power_sub(frozen_html(ip))
    for kind, watts in (("cpu", record.cpu_power_w), ("ram", record.ram_power_w), ("platform", record.platform_power_w)):
        assert f"{kind.upper()} {banded(watts, bands[kind], power)}" in frozen, frozen
    assert " modelled ·" in frozen

    make_tree(tmp_path)
    assert run(ip, LONG_CELL.format(period=0.3, options=f"--name counted --powercap-root {tmp_path}", seconds=1.0)).success
    record = get_session(ip).records[-1]
    frozen = power_sub(frozen_html(ip))
    assert f"CPU {power(record.cpu_power_w)} " in frozen + " " and f"CPU {power(record.cpu_power_w)} (" not in frozen
    assert f"RAM {banded(record.ram_power_w, dict(record.bands)['ram'], power)}" in frozen, frozen
