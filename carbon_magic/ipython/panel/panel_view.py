"""What the live panel shows, as HTML and SVG: the same look live (widgets) and frozen (static).

Pure functions of a Snapshot (a record, running or final, plus the power now and the
series); no widget library is imported here. Colours, units and number formats are
``presentation``'s: text colours from JupyterLab's ``--jp-*`` CSS variables (with
fallbacks), so the panel follows the light or dark theme, live and after the kernel is gone. Figures carry their exact values in ``data-*`` attributes (the units of
``%carbon report``: Wh, g, mL, s) for tools and tests.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping

from ...core.units import j_to_kwh
from .. import display
from .equivalents import equivalents
from .presentation import (CO2, ENERGY, MUTED, TEXT_STYLE, WATER, band_of, band_range, banded, cluster_parts,
                           co2_mass, duration, energy, group_colour, group_name, place_of, power, source_word,
                           status_colour, sum_band, water)
from .series import PowerSeries

if TYPE_CHECKING:
    from ...core.record import EmissionsData

BOX_STYLE = (
    f"{TEXT_STYLE};border:1px solid var(--jp-border-color2,#ddd);border-radius:8px;"
    "background:var(--jp-layout-color1,transparent);padding:10px 14px 8px;margin:4px 0;max-width:960px;box-sizing:border-box"
)


@dataclass(frozen=True)
class Snapshot:
    """Everything one view of the panel shows.

    ``state``: 'running', or how the window ended ('ok', 'failed', 'interrupted').
    ``data``: the record so far (running) or the final one. ``power_now_w``: per component.
    ``measured``: the components a hardware counter measures (``Reading.measured``); the
    others are modelled, and the panel says which. ``bands``: the (low, high) ratio band of each
    modelled key of ``power_now_w`` (``presentation.bands_of``).
    """

    label: str
    state: str
    data: "EmissionsData"
    power_now_w: Mapping[str, float]
    series: PowerSeries
    show_equivalents: bool = True
    energy_by_component_j: Mapping[str, float] = field(default_factory=dict)
    measured: frozenset[str] = frozenset()
    bands: Mapping[str, tuple[float, float]] = field(default_factory=dict)

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
    "sub": f"{MUTED};font-size:11px;overflow-wrap:anywhere",  # wraps: a band or split is never cut off
    "dot": "display:inline-block;width:8px;height:8px;border-radius:50%;margin-right:4px",
    "keep": "white-space:nowrap",  # a part's dot and name stay on one line
    "equivalents": f"{MUTED};margin:2px 0",
    "source": f"{MUTED};font-size:11px;margin-top:2px;overflow-wrap:anywhere",
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


def _power_bands(snapshot: Snapshot) -> dict[str, tuple[float, float]]:
    """The bands of the modelled parts of the power figure (a measured part has none)."""
    return {key: band for key, band in snapshot.bands.items()
            if key in snapshot.power_now_w and key not in snapshot.measured}


def _power_parts(snapshot: Snapshot, inline: bool) -> list[str]:
    """The total's band when something in it is modelled, then each part, a modelled one with its band."""
    bands = _power_bands(snapshot)
    parts = [
        f'<span{attrs("keep", inline)}>{_dot(group_colour(component), inline)}{group_name(component)}</span> '
        f"{html.escape(banded(watts, bands.get(component), power))}"
        for component, watts in snapshot.power_now_w.items()
    ]
    total = sum_band(snapshot.power_now_w, bands)
    if total is not None:
        parts.insert(0, html.escape(band_range(sum(snapshot.power_now_w.values()), total, power)) + " ·")
    return parts


def _co2_band(data: "EmissionsData") -> list[str]:
    """['36.6 .. 105 µg modelled'] when something in the CO2 is modelled, else []."""
    ratios = band_of(data.emissions, data.emissions_low, data.emissions_high)
    return [] if ratios is None else [band_range(data.emissions, ratios, co2_mass)]


def header_html(snapshot: Snapshot, inline: bool = True) -> str:
    """The title line, the four figures, the equivalents and where the intensity came from.

    ``inline``: styles in the HTML (static outputs); else by class (see ``stylesheet``)."""
    data = snapshot.data
    colour = status_colour(snapshot.state)
    energy_parts = [
        f"{group_name(c)} {energy(j_to_kwh(joules) * data.pue)}"
        for c, joules in snapshot.energy_by_component_j.items() if joules > 0
    ]
    total_w = sum(snapshot.power_now_w.values())
    whose = "machine" if snapshot.machine_wide else "this kernel"
    power_label = "power now" if snapshot.state == "running" else "average power"
    ratios = band_of(data.energy_consumed, data.energy_low, data.energy_high)
    if ratios is not None:  # something in it is modelled
        energy_parts.insert(0, band_range(data.energy_consumed, ratios, energy))
    figures = [
        figure_html("energy", f"Energy · {whose}", energy(data.energy_consumed), ENERGY.of(data.energy_consumed),
                    ENERGY.unit, html.escape(" · ".join(energy_parts[:4])), inline),
        figure_html("co2", "CO₂e", co2_mass(data.emissions), CO2.of(data.emissions), CO2.unit,
                    html.escape(" · ".join(_co2_band(data) + [f"{data.intensity_g_per_kwh:.0f} g/kWh"])), inline),
    ]
    if data.embodied_emissions is not None:  # its own figure beside operational CO2, never inside it
        figures.append(figure_html("embodied", "Embodied CO₂e", co2_mass(data.embodied_emissions),
                                   CO2.of(data.embodied_emissions), CO2.unit, html.escape(_embodied_sub(data)), inline))
    if _water_counted(data):  # nothing counted (wue unset, offsite_water off): a structural zero, not a figure
        figures.append(figure_html("water", "Water", water(data.water_total), WATER.of(data.water_total),
                                   WATER.unit, html.escape(_water_sub(data)), inline))
    figures.append(figure_html("power", f"{whose.capitalize()} {power_label}", power(total_w), total_w, "W",
                               " ".join(_power_parts(snapshot, inline)), inline))
    state_style = f"background:{colour};box-shadow:0 0 0 3px {colour}33"
    parts = [
        f'<div{attrs("row", inline)}>'
        f'<span{attrs("state", inline, "cm-state", state_style)} data-state="{snapshot.state}"></span>'
        f'<b{attrs("title", inline)}>{html.escape(snapshot.label)}</b>'
        f'<span{attrs("muted", inline)}>{html.escape(_state_text(snapshot))}</span>'
        f'<span{attrs("duration", inline, "cm-duration")} data-value="{data.duration!r}">'
        f"{duration(data.duration)}</span>"
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
    cluster = cluster_parts(data.cluster_hosts, data.cluster_missing)
    if cluster:  # the Dask or Ray hosts' part, inside the figures above, each at its own intensity
        parts.append(f'<div{attrs("source", inline, "cm-cluster")}>cluster (inside the figures): '
                     f'{html.escape(" · ".join(cluster))}</div>')
    parts.append(f'<div{attrs("source", inline, "cm-basis")}>{_basis_html(snapshot)}</div>')
    source = data.intensity_source.split(";", 1)[0]
    water_note = _footprint_note(data)
    parts.append(
        f'<div{attrs("source", inline, "cm-source")} title="{html.escape(data.intensity_source)}">'
        f"{data.intensity_g_per_kwh:.0f} g CO₂e/kWh · {html.escape(source)} · PUE {data.pue:g}{water_note}</div>"
    )
    return "".join(parts)


def _water_counted(data: "EmissionsData") -> bool:
    return data.water_offsite is not None or data.water_total > 0 or bool(data.wue)


def _water_sub(data: "EmissionsData") -> str:
    """'off-site 2.1 mL (0.6 .. 5.3 mL modelled) · on-site 0 L': the grid's water with its model's
    band; 'on-site 1.2 mL · WUE 1.8 L/kWh' when off-site water is off."""
    if data.water_offsite is None:
        return f"on-site {water(data.water_onsite)} · WUE {data.water_onsite_l_per_kwh:g} L/kWh"
    band = band_of(data.water_offsite, data.water_offsite_low or 0.0, data.water_offsite_high or 0.0)
    return f"off-site {banded(data.water_offsite, band, water)} · on-site {water(data.water_onsite)}"


def _embodied_sub(data: "EmissionsData") -> str:
    """'0.15 .. 0.32 mg modelled' (the band of Boavizta's inputs)."""
    value = data.embodied_emissions or 0.0
    ratios = band_of(value, data.embodied_low or 0.0, data.embodied_high or 0.0)
    return band_range(value, ratios, co2_mass) if ratios else "modelled"


def _footprint_note(data: "EmissionsData") -> str:
    """' · water: France grid, on-site none' (where the water figure's parts come from)."""
    if not _water_counted(data):
        return " · water not counted (set wue or offsite_water)"
    grid = "" if data.water_offsite is None else f"{place_of(data.water_offsite_source)} grid, "
    return f" · water: {grid}on-site {source_word(data.water_onsite_source) or 'wue'}"


def _basis_html(snapshot: Snapshot) -> str:
    """Whose figures these are, and per component whether a counter measures it or a model."""
    return display.basis_html(
        snapshot.machine_wide,
        ((component, group_name(component), component in snapshot.measured) for component in snapshot.power_now_w),
    )


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
