"""What ``%carbon panel`` shows: the kernel's totals and a bar per tracked cell (HTML and a PNG).

Pure functions of the totals and the latest records (session_panel.py displays them and
replaces them as records finish). The chart shows the latest MAX_BARS records so that its
size and its updates stay bounded in a long session; the totals count every record.
"""

from __future__ import annotations

import base64
import html
from typing import TYPE_CHECKING, Callable, Sequence

from .equivalents import equivalents
from .chart_layout import HEIGHT_PX, WIDTH_PX
from .chart_png import bars_png
from .panel_view import BOX_STYLE, figure_html
from .presentation import CO2, ENERGY, MUTED, WATER, band_of, band_range, co2_mass, duration, energy, water
from ..totals import Totals

if TYPE_CHECKING:
    from ..records import CellRecord

MAX_BARS = 30


def bar_labels(records: Sequence["CellRecord"]) -> list[str]:
    """Short, unique bar labels: '[12]', '[12] training', '[13] statement', a span's name
    (repeats numbered '(2)', '(3)'...: O(records), however many share a label)."""
    labels: list[str] = []
    seen: set[str] = set()
    next_n: dict[str, int] = {}
    for record in records:
        count = record.execution_count
        if record.kind == "span":
            label = record.label
        elif record.label == f"{record.kind} {count}":
            label = f"[{count}]" if record.kind == "cell" else f"[{count}] {record.kind}"
        else:
            label = f"[{count}] {record.label}"
        unique, n = label, next_n.get(label, 2)
        while unique in seen:
            unique, n = f"{label} ({n})", n + 1
        next_n[label] = n
        seen.add(unique)
        labels.append(unique)
    return labels


def _band(value: float, band: tuple[float, float] | None, unit: Callable[[float], str]) -> list[str]:
    """['5.4 .. 15.4 mWh modelled'] for a modelled total, [] for a measured one."""
    return [] if band is None else [band_range(value, band, unit)]


def _footprint_figures(totals: Totals) -> list[str]:
    """The embodied CO2e and the total water (on-site + the grid's) tiles; none for a zero, which is
    what switched-off parameters give (the water's is said below the tiles)."""
    figures, footprint = [], totals.footprint
    embodied_kg = footprint.get("embodied_kg", 0.0)
    if embodied_kg > 0:
        ratios = band_of(embodied_kg, footprint["embodied_low_kg"], footprint["embodied_high_kg"])
        figures.append(figure_html("embodied", "Embodied CO₂e", co2_mass(embodied_kg), CO2.of(embodied_kg), CO2.unit,
                                   band_range(embodied_kg, ratios, co2_mass) if ratios else "modelled"))
    if totals.water_total_l > 0:
        split = (f"off-site {water(footprint['water_offsite_l'])} · on-site {water(footprint['water_onsite_l'])}"
                 if footprint.get("water_total_l") else "")
        figures.append(figure_html("water", "Water", water(totals.water_total_l), WATER.of(totals.water_total_l),
                                   WATER.unit, html.escape(" · ".join(
                                       filter(None, _band(totals.water_total_l, totals.water_band(), water) + [split])))))
    return figures


def totals_html(totals: Totals, recent: Sequence["CellRecord"], show_equivalents: bool = True) -> str:
    """The totals' tiles; ``recent``: the latest records (the last one is named)."""
    plural = "" if totals.count == 1 else "s"
    parts = [
        '<div style="display:flex;align-items:center;gap:8px">'
        f'<b style="font-size:13px">This kernel</b><span style="{MUTED}">{totals.count} tracked run{plural} · '
        f"{duration(totals.duration_s)} measured</span>"
        f'<span style="margin-left:auto;{MUTED};font-size:11px">carbon_magic</span></div>',
        '<div style="display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:6px 18px;margin:8px 0 4px">',
        figure_html("energy", "Energy", energy(totals.energy_kwh), ENERGY.of(totals.energy_kwh), ENERGY.unit,
                    html.escape(" · ".join(_band(totals.energy_kwh, totals.energy_band(), energy) + [
                        f"{k.upper()} {energy(v)}" for k, v in totals.energy_by_kind_kwh.items() if v > 0]))),
        figure_html("co2", "CO₂e", co2_mass(totals.emissions_kg), CO2.of(totals.emissions_kg), CO2.unit,
                    html.escape(" · ".join(_band(totals.emissions_kg, totals.emissions_band(), co2_mass)
                                           + [f"{totals.intensity_g_per_kwh:.0f} g/kWh on average"]))),
        *_footprint_figures(totals),
        figure_html("runs", "Tracked", str(totals.count), float(totals.count), "runs",
                f"latest: {html.escape(bar_labels(recent)[-1])}" if recent else "none yet"),
        "</div>",
    ]
    if totals.count:
        parts.append(f'<div class="cm-basis" style="{MUTED};font-size:11px;margin:2px 0">{html.escape(totals.basis())}</div>')
    if totals.water_total_l <= 0:
        parts.append(f'<div class="cm-water-unset" style="{MUTED}">Water not estimated: set <code>wue</code> '
                     "(litres per kWh) to count the data centre's water, or <code>offsite_water</code> the grid's.</div>")
    if show_equivalents:
        found = equivalents(totals.energy_kwh, totals.emissions_kg)
        if found:
            items = " · ".join(f'<span title="{html.escape(e.basis)}">{html.escape(e.text)}</span>' for e in found)
            parts.append(f'<div class="cm-equivalents" style="{MUTED};margin:2px 0">≈ {items}</div>')
    return "".join(parts)


def bars_img(records: Sequence["CellRecord"], theme: str | None = None) -> str:
    """The latest MAX_BARS records as an ``<img>`` of a PNG (it survives every HTML sanitizer:
    see chart_png.py): energy stacked by component (bars), CO2e (squares, right axis), and
    the bars' labels as text below it."""
    records = list(records)[-MAX_BARS:]
    if not records:
        return (f'<div style="{MUTED};padding:18px 0">No tracked cell yet: bars appear here as '
                "%%carbon cells (or cells under %carbon on) finish.</div>")
    labels = bar_labels(records)
    png = base64.b64encode(bars_png(records, theme)).decode()
    return (
        f'<img class="cm-bars" src="data:image/png;base64,{png}" width="{WIDTH_PX}" height="{HEIGHT_PX}" '
        'alt="Energy by component and CO2e per tracked run, oldest first" '
        f'style="display:block;width:100%;max-width:{WIDTH_PX}px;height:auto">'
        f'<div class="cm-bar-labels" style="{MUTED};font-size:11px">Bars, oldest first: '
        + " · ".join(html.escape(label) for label in labels) + "</div>"
    )


def session_bundle(totals: Totals, recent: Sequence["CellRecord"], show_equivalents: bool = True,
                   theme: str | None = None) -> dict[str, str]:
    """The static session panel: text in terminals, HTML (totals, bars as a PNG) in notebooks,
    on ``theme``'s background. ``recent``: the latest MAX_BARS records (the cost does not grow
    with the session)."""
    body = totals_html(totals, recent, show_equivalents) + bars_img(recent, theme)
    return {
        "text/plain": f"{totals.text()}\n{totals.basis()}",
        "text/html": f'<div class="carbon-magic-session" style="{BOX_STYLE}">{body}</div>',
    }
