"""The live panel's parts on their own: series, equivalents, front-end detection, output routes, views."""

from __future__ import annotations

import contextvars
import re
import struct
import threading
import zlib
from pathlib import Path

import pytest

from carbon_magic.ipython.panel import equivalents as eq
from carbon_magic.ipython.frontend import IDLE_PROOF_S, FrontEnd, front_end_from_environment
from carbon_magic.ipython.panel.chart_png import chart_png
from carbon_magic.ipython.panel.presentation import CO2_COLOUR, PALETTES, axis_range, group_colour, nice_step
from carbon_magic.ipython.route import Route
from carbon_magic.ipython.panel.series import PowerSeries, chart_groups


# -- series ------------------------------------------------------------------------------------


def integrate(series: PowerSeries) -> dict[str, float]:
    times, power = series.power_w()
    return {group: sum(p * (t1 - t0) for p, t0, t1 in zip(values[1:], times, times[1:])) for group, values in power.items()}


def test_series_stays_bounded_and_its_area_is_the_energy():
    series = PowerSeries(["cpu", "ram"], max_points=16)
    cpu_j = ram_j = 0.0
    for step in range(1, 1001):
        t = step * 0.37
        cpu_j += 10.0 + (step % 7)  # a varying power
        ram_j += 3.0
        series.add(t, {"cpu": cpu_j, "ram": ram_j}, co2_g=cpu_j * 1e-4)
        assert len(series.points) <= 16
    assert len(series.points) >= 8
    area = integrate(series)
    assert area["cpu"] == pytest.approx(cpu_j, rel=1e-9) and area["ram"] == pytest.approx(ram_j, rel=1e-9)
    times, co2 = series.co2_g()
    assert times[0] == 0.0 and times[-1] == pytest.approx(1000 * 0.37) and co2[-1] == pytest.approx(cpu_j * 1e-4)


def test_series_groups_many_gpus_into_one_area():
    assert chart_groups(["cpu", "ram", "gpu:0", "gpu:1"]) == ("cpu", "ram", "gpu:0", "gpu:1")
    assert chart_groups(["cpu", "ram", "gpu:0", "gpu:1", "gpu:2"]) == ("cpu", "ram", "gpu")
    assert chart_groups(["cpu", "ram", "platform", "gpu:0"]) == ("cpu", "ram", "gpu:0", "platform")
    series = PowerSeries(["cpu", "ram", "gpu:0", "gpu:1", "gpu:2"])
    series.add(2.0, {"cpu": 20.0, "ram": 6.0, "gpu:0": 100.0, "gpu:1": 200.0, "gpu:2": 300.0}, 0.1)
    _, power = series.power_w()
    assert power == {"cpu": [10.0, 10.0], "ram": [3.0, 3.0], "gpu": [300.0, 300.0]}


def test_series_replaces_a_point_read_at_the_same_instant():
    series = PowerSeries(["cpu"])
    series.add(1.0, {"cpu": 5.0}, 0.1)
    series.add(1.0, {"cpu": 6.0}, 0.2)
    assert [p.t_s for p in series.points] == [0.0, 1.0] and series.points[-1].energy_j == (6.0,)


# -- equivalents -------------------------------------------------------------------------------


def test_equivalents_scale_their_units_from_their_stated_bases():
    def phrases(energy_wh: float, co2_g: float) -> dict[str, str]:
        return {e.key: e.text for e in eq.equivalents(energy_wh / 1000, co2_g / 1000)}

    whole = phrases(eq.PHONE_CHARGE_WH, eq.CAR_G_CO2_PER_KM)
    assert whole["phone"] == "1 phone charge" and whole["car"] == "driving a car 1 km"
    assert phrases(eq.KETTLE_WH_PER_LITRE, 1)["kettle"] == "boiling 1 L of water"
    assert phrases(eq.LED_BULB_W * 2, 1)["bulb"] == f"a {eq.LED_BULB_W:.0f} W LED bulb for 2 h"
    small = phrases(eq.PHONE_CHARGE_WH / 200, eq.CAR_G_CO2_PER_KM / 1e5 * 3)
    assert small["phone"] == "0.5 % of a phone charge" and small["car"] == "driving a car 3 cm"
    assert phrases(eq.LED_BULB_W / 3600 * 12, 1)["bulb"].endswith("for 12 s")
    assert eq.equivalents(0.0, 0.0) == []
    assert all(e.basis for e in eq.equivalents(1.0, 1.0))


def test_docs_state_the_factors_the_code_uses():
    """docs/equivalents.md is where users read the factors and their sources: it must agree."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "equivalents.md").read_text()
    stated = {key: float(value) for key, value in re.findall(r"^\| `(\w+)` \|[^|]*\| ([\d.]+) ", text, re.M)}
    assert stated == {
        "car": pytest.approx(eq.CAR_G_CO2_PER_KM, abs=0.05),
        "phone": pytest.approx(eq.PHONE_CHARGE_WH, abs=0.05),
        "kettle": pytest.approx(eq.KETTLE_WH_PER_LITRE, abs=0.05),
        "bulb": pytest.approx(eq.LED_BULB_W, abs=0.05),
    }
    assert {e.key for e in eq.equivalents(1.0, 1.0)} == set(stated)


# -- front-end detection -----------------------------------------------------------------------


class FakeShell:
    def __init__(self, comms: bool):
        self.kernel = type("Kernel", (), {"comm_manager": object()})() if comms else None


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_widgets_need_a_kernel_and_a_known_front_end(monkeypatch):
    for name in ("JPY_SESSION_NAME", "VSCODE_PID", "COLAB_RELEASE_TAG"):
        monkeypatch.delenv(name, raising=False)
    assert FrontEnd(FakeShell(comms=False)).use_widgets("auto") is False  # terminal IPython
    kernel = FrontEnd(FakeShell(comms=True))
    assert kernel.use_widgets("auto") is False  # nbclient, papermill: no front end known
    assert "nbclient" in kernel.describe("auto")
    assert kernel.use_widgets("always") and not kernel.use_widgets("never")
    monkeypatch.setenv("JPY_SESSION_NAME", "/work/analysis.ipynb")
    assert kernel.use_widgets("auto") and front_end_from_environment().startswith("a Jupyter server session")
    assert front_end_from_environment({"VSCODE_PID": "42"}) == "VS Code"
    assert front_end_from_environment({"COLAB_RELEASE_TAG": "release-colab"}) == "Colab"


def test_an_unanswered_probe_turns_widgets_off_only_after_idle_time(monkeypatch):
    monkeypatch.setenv("JPY_SESSION_NAME", "notebook.ipynb")
    clock = Clock()
    front_end = FrontEnd(FakeShell(comms=True), clock=clock)
    front_end.open_probe(lambda on_answer: "probe")
    front_end.kernel_was_idle(clock.now - 10, clock.now + 0.5)  # idle before the probe, then busy (Run all)
    clock.now += 60
    front_end.kernel_was_idle(clock.now, clock.now + IDLE_PROOF_S / 2)
    assert front_end.use_widgets("auto")
    front_end.kernel_was_idle(clock.now, clock.now + IDLE_PROOF_S + 0.1)
    assert not front_end.use_widgets("auto") and "did not answer" in front_end.describe("auto")
    front_end.on_answer({"event": "front-end", "theme": "dark"})  # a late answer still counts
    assert front_end.use_widgets("auto") and front_end.theme == "dark"
    assert "dark theme" in front_end.describe("auto")


def test_the_probe_is_opened_once(monkeypatch):
    front_end = FrontEnd(FakeShell(comms=True))
    made = []
    for _ in range(3):
        front_end.open_probe(lambda on_answer: made.append(on_answer) or "probe")
    assert len(made) == 1


# -- routes ------------------------------------------------------------------------------------

cell_var: contextvars.ContextVar[str] = contextvars.ContextVar("cell_var")


class ThreadParentShell:
    """The parts of ipykernel 7's shell that a Route uses."""

    def __init__(self):
        self.parent = {"header": {"msg_id": "cell-1"}}
        self.local = threading.local()
        self.calls = []

    def get_parent(self):
        return getattr(self.local, "parent", None) or self.parent

    def set_thread_parent(self, parent):
        previous = getattr(self.local, "parent", None)
        self.local.parent = parent
        return previous

    def reset_thread_parent(self, token):
        self.local.parent = token


def test_a_route_carries_the_cells_parent_and_context_to_another_thread():
    shell = ThreadParentShell()
    cell_var.set("cell 1")
    route = Route(shell)  # captured on the "kernel thread" as the cell starts
    shell.parent = {"header": {"msg_id": "cell-2"}}  # the kernel moved on to the next request
    cell_var.set("cell 2")
    seen = []

    def work():
        seen.append(route.run(lambda: (shell.get_parent()["header"]["msg_id"], cell_var.get())))
        seen.append(shell.get_parent()["header"]["msg_id"])  # pinned only while the route runs

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [("cell-1", "cell 1"), "cell-2"]


def test_a_route_outside_a_kernel_just_runs():
    route = Route(object())
    assert route.parent is None and route.run(lambda x: x + 1, 41) == 42


# -- views -------------------------------------------------------------------------------------


def test_axis_steps_are_round():
    assert [nice_step(s) for s in (1.0, 7.0, 23.0, 0.0031)] == pytest.approx([0.5, 2.0, 10.0, 0.001])
    assert axis_range(23.0) == (30.0, 10.0) and axis_range(0.0) == (1.0, 1.0)


def png_pixels(png: bytes) -> tuple[int, int, set[tuple[int, int, int]]]:
    """(width, height, colours) of an 8-bit RGB PNG without filters (as chart_png writes)."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height, depth, kind = struct.unpack(">IIBB", png[16:26])
    assert (depth, kind) == (8, 2)
    start = png.index(b"IDAT") + 4
    length = struct.unpack(">I", png[start - 8:start - 4])[0]
    raw = zlib.decompress(png[start:start + length])
    stride = 1 + 3 * width
    assert len(raw) == stride * height
    colours = {tuple(raw[row * stride + 1 + 3 * x: row * stride + 4 + 3 * x]) for row in range(0, height, 2)
               for x in range(0, width, 2)}
    return width, height, colours


def rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def contrast(a: str, b: str) -> float:
    def luminance(colour: str) -> float:
        channels = [c / 255 for c in rgb(colour)]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("theme", ["light", "dark", None])
def test_static_chart_is_a_png_with_each_area_the_co2_line_and_readable_text(theme):
    series = PowerSeries(["cpu", "ram"])
    for step in range(1, 11):
        series.add(step * 1.0, {"cpu": 10.0 * step, "ram": 4.0 * step}, co2_g=0.001 * step)
    width, height, colours = png_pixels(chart_png(series, theme))
    assert (width, height) == (1400, 420)  # 700 x 210 CSS px at 2x
    palette = PALETTES[theme or "light"]
    for colour in (group_colour("cpu"), group_colour("ram"), CO2_COLOUR, palette.text, palette.co2_text):
        assert rgb(colour) in colours, colour
    assert contrast(palette.text, palette.background) >= 4.5
    assert contrast(palette.co2_text, palette.background) >= 4.5
    assert chart_png(PowerSeries(["cpu"]), theme) is None  # nothing measured yet


def test_the_chart_image_font_draws_every_area_name():
    """The PNG chart's bitmap font has a glyph for each letter of every area's legend name."""
    from carbon_magic.ipython.panel.chart_png import _GLYPHS
    from carbon_magic.ipython.panel.presentation import group_name

    for group in chart_groups(["cpu", "ram", "platform", "gpu:0", "gpu:1"]) + ("gpu",):
        assert set(group_name(group)) <= set(_GLYPHS), group
