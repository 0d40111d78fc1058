"""What ``%carbon panel`` shows: the kernel's totals and a bar per tracked cell (HTML and SVG).

Pure functions of the totals and the latest records (session_panel.py displays them and
replaces them as records finish). The chart shows the latest MAX_BARS records so that its
size and its updates stay bounded in a long session; the totals count every record.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Sequence

from . import display
from .equivalents import equivalents
from .panel_view import BOX_STYLE, CO2_COLOUR, FONT, MUTED, axis_range, axis_unit, figure_html, group_colour
from .totals import KINDS, Totals

if TYPE_CHECKING:
    from .records import CellRecord

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


def totals_html(totals: Totals, recent: Sequence["CellRecord"], show_equivalents: bool = True) -> str:
    """The totals' tiles; ``recent``: the latest records (the last one is named)."""
    plural = "" if totals.count == 1 else "s"
    parts = [
        '<div style="display:flex;align-items:center;gap:8px">'
        f'<b style="font-size:13px">This kernel</b><span style="{MUTED}">{totals.count} tracked run{plural} · '
        f"{display.duration(totals.duration_s)} measured</span>"
        f'<span style="margin-left:auto;{MUTED};font-size:11px">carbon_magic</span></div>',
        '<div style="display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:6px 18px;margin:8px 0 4px">',
        figure_html("energy", "Energy", display.energy(totals.energy_kwh), totals.energy_kwh * 1e3, "Wh",
                " · ".join(f"{k.upper()} {display.energy(v)}" for k, v in totals.energy_by_kind_kwh.items() if v > 0)),
        figure_html("co2", "CO₂e", display.co2(totals.emissions_kg).replace(" CO2e", ""), totals.emissions_kg * 1e3,
                "g", f"{totals.intensity_g_per_kwh:.0f} g/kWh on average"),
        *([figure_html("water", "Water", display.water(totals.water_l), totals.water_l * 1e3, "mL", "")]
          if totals.water_l > 0 else []),  # zero is what an unset wue gives: no tile (see below)
        figure_html("runs", "Tracked", str(totals.count), float(totals.count), "runs",
                f"latest: {html.escape(bar_labels(recent)[-1])}" if recent else "none yet"),
        "</div>",
    ]
    if totals.water_l <= 0:
        parts.append(f'<div class="cm-water-unset" style="{MUTED}">Water not estimated: set <code>wue</code> '
                     "(litres per kWh) to count the data centre's water.</div>")
    if show_equivalents:
        found = equivalents(totals.energy_kwh, totals.emissions_kg)
        if found:
            items = " · ".join(f'<span title="{html.escape(e.basis)}">{html.escape(e.text)}</span>' for e in found)
            parts.append(f'<div class="cm-equivalents" style="{MUTED};margin:2px 0">≈ {items}</div>')
    return "".join(parts)


def bars_svg(records: Sequence["CellRecord"], width: int = 900, height: int = 200) -> str:
    """The latest MAX_BARS records: energy stacked by component (bars), CO2e (dots, right axis)."""
    records = list(records)[-MAX_BARS:]
    if not records:
        return (f'<div style="{MUTED};padding:18px 0">No tracked cell yet: bars appear here as '
                "%%carbon cells (or cells under %carbon on) finish.</div>")
    labels = bar_labels(records)
    energy_max = max(max(r.energy_kwh for r in records), 1e-15) * 1e3
    factor, unit = axis_unit(energy_max, "Wh")
    co2_factor, co2_unit = axis_unit(max(max(r.emissions_kg for r in records), 1e-15) * 1e3, "g")
    left, right, top, bottom = 50, 58, 22, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    e_top, step = axis_range(energy_max * factor)
    c_top, _ = axis_range(max(r.emissions_kg for r in records) * 1e3 * co2_factor)
    slot = plot_w / len(records)
    bar = min(slot * 0.7, 40)
    y = lambda v: top + plot_h * (1 - v / e_top)  # noqa: E731
    muted = "fill:var(--jp-ui-font-color2,#777)"
    out = [f'<svg class="cm-bars" viewBox="0 0 {width} {height}" width="100%" style="display:block;max-width:{width}px;'
           f'{FONT};font-size:11px" role="img" aria-label="Energy and CO2e per tracked cell">']
    value = 0.0
    while value <= e_top + 1e-12:
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
                   'style="stroke:var(--jp-border-color2,#ddd)"/>')
        out.append(f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" style="{muted}">{value:g}</text>')
        value += step
    out.append(f'<text x="{left - 6}" y="{top - 9}" text-anchor="end" style="{muted}">{unit}</text>')
    out.append(f'<text x="{left + plot_w + 6}" y="{top - 9}" style="fill:{CO2_COLOUR}">{co2_unit} CO₂e</text>')
    every = max(1, math.ceil(len(records) / 15))
    for index, (record, label) in enumerate(zip(records, labels)):
        x = left + slot * index + (slot - bar) / 2
        base = 0.0
        for kind in KINDS:
            value = getattr(record, f"{kind}_energy_kwh") * 1e3 * factor
            if value <= 0:
                continue
            out.append(f'<rect x="{x:.1f}" y="{y(base + value):.1f}" width="{bar:.1f}" height="{y(base) - y(base + value):.1f}" '
                       f'style="fill:{group_colour(kind)};fill-opacity:.75"><title>{html.escape(label)}: {kind.upper()} '
                       f"{display.energy(value / factor / 1e3)}</title></rect>")
            base += value
        co2_y = top + plot_h * (1 - record.emissions_kg * 1e3 * co2_factor / c_top)
        out.append(f'<circle cx="{x + bar / 2:.1f}" cy="{co2_y:.1f}" r="3" style="fill:{CO2_COLOUR}">'
                   f"<title>{html.escape(label)}: {display.co2(record.emissions_kg)}</title></circle>")
        if index % every == 0:
            out.append(f'<text x="{x + bar / 2:.1f}" y="{height - 10}" text-anchor="middle" style="{muted}">'
                       f"{html.escape(label[:14])}</text>")
    out.append("</svg>")
    return "".join(out)


def session_bundle(totals: Totals, recent: Sequence["CellRecord"], show_equivalents: bool = True) -> dict[str, str]:
    """The static session panel: text in terminals, HTML (totals and bars) in notebooks.
    ``recent``: the latest MAX_BARS records (the cost does not grow with the session)."""
    body = totals_html(totals, recent, show_equivalents) + bars_svg(recent)
    return {
        "text/plain": totals.text(),
        "text/html": f'<div class="carbon-magic-session" style="{BOX_STYLE}">{body}</div>',
    }
