"""What the live panel shows, as HTML and SVG: the same look live (widgets) and frozen (static).

Pure functions of a Snapshot (a record, running or final, plus the power now and the
series); no widget library is imported here. Colours come from JupyterLab's ``--jp-*`` CSS
variables (with fallbacks), so the panel follows the light or dark theme, live and after
the kernel is gone. Figures carry their exact values in ``data-*`` attributes (the units of
``%carbon report``: Wh, g, mL, s) for tools and tests.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping

from ..core.ledger import kind_of
from ..core.units import j_to_kwh
from . import display
from .equivalents import equivalents
from .series import PowerSeries

if TYPE_CHECKING:
    from ..core.record import EmissionsData

GROUP_COLOURS = {"cpu": "#1f77b4", "ram": "#ff7f0e", "gpu": "#2ca02c", "gpu:0": "#2ca02c", "gpu:1": "#17becf"}
CO2_COLOUR = "#8e6bb8"
STATE_COLOURS = {"running": "#3a8d4f", "ok": "#6b7b8c", "failed": "#c0392b", "interrupted": "#d68910"}
MUTED = "color:var(--jp-ui-font-color2,#777)"
FONT = "font-family:var(--jp-ui-font-family,system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif)"
TEXT_STYLE = f"{FONT};font-size:12px;line-height:1.4;color:var(--jp-ui-font-color1,#222)"
BOX_STYLE = (
    f"{TEXT_STYLE};border:1px solid var(--jp-border-color2,#ddd);border-radius:8px;"
    "background:var(--jp-layout-color1,transparent);padding:10px 14px 8px;margin:4px 0;max-width:960px;box-sizing:border-box"
)


@dataclass(frozen=True)
class Palette:
    """The charts' colours on one theme's background (the live chart and the frozen PNG)."""

    background: str
    text: str
    co2_text: str  # the CO2 axis's labels, in a purple that reads on this background
    grid: str


# every text at least 4.5:1 against its background (WCAG AA); tests/test_panel_parts.py checks
PALETTES = {
    "light": Palette("#ffffff", "#454545", "#6a4c93", "#e3e3e3"),  # JupyterLab Light's --jp-layout-color1
    "dark": Palette("#212121", "#cfcfcf", "#b9a0dc", "#3a3a3a"),  # JupyterLab Dark's --jp-layout-color1
}


def palette_of(theme: str | None) -> Palette:
    """The palette of JupyterLab's 'light' or 'dark' theme (light while not known yet)."""
    return PALETTES.get(theme or "light", PALETTES["light"])


def group_name(group: str) -> str:
    """'cpu' -> 'CPU', 'gpu:1' -> 'GPU 1'."""
    kind, _, index = group.partition(":")
    return f"{kind.upper()} {index}".strip()


def group_colour(group: str) -> str:
    return GROUP_COLOURS.get(group, GROUP_COLOURS.get(kind_of(group), "#7f7f7f"))


@dataclass(frozen=True)
class Snapshot:
    """Everything one view of the panel shows.

    ``state``: 'running', or how the window ended ('ok', 'failed', 'interrupted').
    ``data``: the record so far (running) or the final one. ``power_now_w``: per component.
    ``measured``: the components a hardware counter measures (``Reading.measured``); the
    others are modelled, and the panel says which.
    """

    label: str
    state: str
    data: "EmissionsData"
    power_now_w: Mapping[str, float]
    series: PowerSeries
    show_equivalents: bool = True
    energy_by_component_j: Mapping[str, float] = field(default_factory=dict)
    measured: frozenset[str] = frozenset()

    @property
    def machine_wide(self) -> bool:
        """Whether the figures are the whole machine's (``tracking_mode="machine"``), not this
        kernel's share."""
        return self.data.tracking_mode != "process"

    @property
    def provisional(self) -> bool:
        return self.state != "running" and self.data.provisional


# -- the numbers ------------------------------------------------------------------------------
# The styles of the panel's parts. Static HTML (the frozen panel, fallbacks) carries them
# inline, so it looks right wherever it is shown; the live header names them by class
# (``cm-s-NAME``) and its view carries ``stylesheet()`` once, which keeps every update small.
STYLES = {
    "text": TEXT_STYLE,
    "row": "display:flex;align-items:center;gap:8px;flex-wrap:wrap",
    "title": "font-size:13px",
    "muted": MUTED,
    "brand": f"margin-left:auto;{MUTED};font-size:11px",
    "duration": f"{MUTED};font-variant-numeric:tabular-nums",
    "state": "display:inline-block;width:9px;height:9px;border-radius:50%",
    "grid": "display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:6px 18px;margin:8px 0 4px",
    "figure": "min-width:0",
    "label": f"{MUTED};font-size:11px;letter-spacing:.03em",
    "value": "font-size:19px;font-weight:600;font-variant-numeric:tabular-nums;white-space:nowrap",
    "sub": f"{MUTED};font-size:11px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis",
    "dot": "display:inline-block;width:8px;height:8px;border-radius:50%;margin-right:4px",
    "equivalents": f"{MUTED};margin:2px 0",
    "source": f"{MUTED};font-size:11px;margin-top:2px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis",
}


def attrs(name: str, inline: bool, classes: str = "", style: str = "") -> str:
    """The attributes giving an element the style ``STYLES[name]`` (plus ``style``, inline):
    inline, or as the class ``cm-s-NAME`` that ``stylesheet`` defines."""
    if inline:
        found = f' class="{classes}"' if classes else ""
        return found + f' style="{STYLES[name]}{";" + style if style else ""}"'
    return f' class="{f"cm-s-{name} {classes}".strip()}"' + (f' style="{style}"' if style else "")


def stylesheet(scope: str) -> str:
    """A <style> element defining every ``cm-s-NAME`` class inside ``scope`` (a CSS selector)."""
    return "<style>" + "".join(f"{scope} .cm-s-{name}{{{css}}}" for name, css in STYLES.items()) + "</style>"


def figure_html(key: str, label: str, value: str, exact: float, unit: str, sub: str = "", inline: bool = True) -> str:
    return (
        f'<div{attrs("figure", inline, "cm-figure")} data-figure="{key}" data-value="{exact!r}" data-unit="{unit}">'
        f'<div{attrs("label", inline)}>{label}</div>'
        f'<div{attrs("value", inline, "cm-value")}>{html.escape(value)}</div>'
        f'<div{attrs("sub", inline)}>{sub}</div></div>'
    )


def _dot(colour: str, inline: bool) -> str:
    return f'<span{attrs("dot", inline, style=f"background:{colour}")}></span>'


def _state_text(snapshot: Snapshot) -> str:
    if snapshot.state == "running":
        return "measuring"
    text = {"ok": "finished", "failed": "failed", "interrupted": "interrupted"}.get(snapshot.state, snapshot.state)
    return text + (" · provisional (a GPU counter will settle it)" if snapshot.provisional else "")


def _power_parts(snapshot: Snapshot, inline: bool) -> list[str]:
    return [
        f"{_dot(group_colour(component), inline)}{group_name(component)} {display.power(watts)}"
        for component, watts in snapshot.power_now_w.items()
    ]


def header_html(snapshot: Snapshot, inline: bool = True) -> str:
    """The title line, the four figures, the equivalents and where the intensity came from.

    ``inline``: styles in the HTML (static outputs); else by class (see ``stylesheet``)."""
    data = snapshot.data
    colour = STATE_COLOURS.get(snapshot.state, STATE_COLOURS["ok"])
    energy_parts = [
        f"{group_name(c)} {display.energy(j_to_kwh(joules) * data.pue)}"
        for c, joules in snapshot.energy_by_component_j.items() if joules > 0
    ]
    total_w = sum(snapshot.power_now_w.values())
    whose = "machine" if snapshot.machine_wide else "this kernel"
    power_label = "power now" if snapshot.state == "running" else "average power"
    figures = [
        figure_html("energy", f"Energy · {whose}", display.energy(data.energy_consumed), data.energy_consumed * 1e3,
                    "Wh", html.escape(" · ".join(energy_parts[:3])), inline),
        figure_html("co2", "CO₂e", display.co2(data.emissions).replace(" CO2e", ""), data.emissions * 1e3, "g",
                    f"{data.intensity_g_per_kwh:.0f} g/kWh", inline),
    ]
    if data.wue:  # without a WUE, water is a structural zero: not a figure (the source line says so)
        figures.append(figure_html("water", "Water", display.water(data.water_consumed), data.water_consumed * 1e3,
                                   "mL", f"WUE {data.wue:g} L/kWh", inline))
    figures.append(figure_html("power", f"{whose.capitalize()} {power_label}", display.power(total_w), total_w, "W",
                               " ".join(_power_parts(snapshot, inline)), inline))
    state_style = f"background:{colour};box-shadow:0 0 0 3px {colour}33"
    parts = [
        f'<div{attrs("row", inline)}>'
        f'<span{attrs("state", inline, "cm-state", state_style)} data-state="{snapshot.state}"></span>'
        f'<b{attrs("title", inline)}>{html.escape(snapshot.label)}</b>'
        f'<span{attrs("muted", inline)}>{html.escape(_state_text(snapshot))}</span>'
        f'<span{attrs("duration", inline, "cm-duration")} data-value="{data.duration!r}">'
        f"{display.duration(data.duration)}</span>"
        f'<span{attrs("brand", inline)}>carbon_magic</span></div>',
        f'<div{attrs("grid", inline)}>' + "".join(figures) + "</div>",
    ]
    if snapshot.show_equivalents:
        found = equivalents(data.energy_consumed, data.emissions)
        if found:
            items = " · ".join(
                f'<span class="cm-equivalent" data-equivalent="{e.key}" title="{html.escape(e.basis)}">{html.escape(e.text)}</span>'
                for e in found
            )
            parts.append(f'<div{attrs("equivalents", inline, "cm-equivalents")}>≈ {items}</div>')
    parts.append(f'<div{attrs("source", inline, "cm-basis")}>{_basis_html(snapshot)}</div>')
    source = data.intensity_source.split(";", 1)[0]
    water = "" if data.wue else " · water not counted (set wue)"
    parts.append(
        f'<div{attrs("source", inline, "cm-source")} title="{html.escape(data.intensity_source)}">'
        f"{data.intensity_g_per_kwh:.0f} g CO₂e/kWh · {html.escape(source)} · PUE {data.pue:g}{water}</div>"
    )
    return "".join(parts)


def _basis_html(snapshot: Snapshot) -> str:
    """Whose figures these are, and per component whether a counter measures it or a model."""
    return display.basis_html(
        snapshot.machine_wide,
        ((component, group_name(component), component in snapshot.measured) for component in snapshot.power_now_w),
    )


# -- the static chart --------------------------------------------------------------------------
def nice_step(span: float, ticks: int = 4) -> float:
    """A round step (1, 2 or 5 x 10^k) giving about ``ticks`` intervals over ``span``."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def axis_range(largest: float) -> tuple[float, float]:
    """(top, step): a round axis from 0 holding ``largest``."""
    step = nice_step(largest) if largest > 0 else 1.0
    return step * max(math.ceil(largest / step - 1e-9), 1), step


def axis_unit(largest: float, unit: str) -> tuple[float, str]:
    """(factor, label): values times factor read in the label's unit ('mg', 'µg', 'g', ...)."""
    for threshold, prefix in display._PREFIXES:
        if largest >= threshold:
            return 1.0 / threshold, f"{prefix}{unit}"
    threshold, prefix = display._PREFIXES[-1]
    return 1.0 / threshold, f"{prefix}{unit}"


def tick_label(value: float) -> str:
    return f"{value:g}"


def time_axis(seconds: float) -> tuple[float, str]:
    """(divisor, unit) for a window of ``seconds``: s, min or h."""
    if seconds >= 7200:
        return 3600.0, "h"
    if seconds >= 180:
        return 60.0, "min"
    return 1.0, "s"


# -- the frozen panel --------------------------------------------------------------------------
def frozen_bundle(snapshot: Snapshot, summary_text: str, chart_html: str) -> dict[str, str]:
    """The panel as it ends: static HTML (numbers, and ``chart_html``: the chart as an image)
    and the one-line summary as text.

    It replaces the live widgets in the cell's output, so the record survives the kernel:
    JupyterLab without a kernel or untrusted (sanitised), nbconvert and GitHub show it as
    they find it: its figures are text, its chart a PNG.
    """
    body = header_html(snapshot) + chart_html
    return {
        "text/plain": summary_text,
        "text/html": f'<div class="carbon-magic-panel carbon-magic-summary" style="{BOX_STYLE}">{body}</div>',
    }
