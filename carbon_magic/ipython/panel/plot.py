"""``%carbon plot``: energy and CO2 per tracked cell, stacked by component (plotly).

The panel's look: its layout (transparent background, the front end's light or dark font
and grid colours), its component colours, its bar labels and its units, scaled to the
largest bar (µWh, mWh, Wh...; µg, mg, g...).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Sequence

import plotly.graph_objects as go

from .presentation import CO2, ENERGY, FONT_FAMILY, axis_unit, group_colour, palette_of
from .session_view import bar_labels
from ..totals import KINDS

if TYPE_CHECKING:
    from ..records import CellRecord
    from .themed import ThemedDisplays

HEIGHT_PX = 480


class PlotFigure(go.Figure):
    """A plotly figure that, displayed where the front end told its theme, follows the theme:
    redrawn in place in the new theme's colours when it changes (``themed.py``). Elsewhere
    (nbclient, terminals) it displays as any plotly figure."""

    _themed: "ThemedDisplays | None" = None

    def _ipython_display_(self) -> None:
        themed = self._themed
        if themed is None or not themed.frontend.answered:
            super()._ipython_display_()
            return
        shown = go.Figure(self)  # as it is now: later changes to this figure are the user's
        themed.show(f"carbon-magic-plot-{uuid.uuid4().hex}", lambda theme: themed_bundle(shown, theme), fresh=True)


def themed_bundle(fig: go.Figure, theme: str | None) -> dict[str, Any]:
    """``fig`` in ``theme``'s colours, as plotly's default renderer displays it."""
    styled = go.Figure(fig)
    apply_theme(styled, theme)
    return styled._repr_mimebundle_()


def apply_theme(fig: go.Figure, theme: str | None) -> None:
    """The panel's text and grid colours of ``theme`` (light while not known) on ``fig``."""
    palette = palette_of(theme)  # the live panel's colours: one style for both
    fig.update_layout(font_color=palette.text)
    fig.update_annotations(font_color=palette.text)
    fig.update_xaxes(gridcolor=palette.grid)
    fig.update_yaxes(gridcolor=palette.grid)


def figure(records: Sequence["CellRecord"], theme: str | None = None,
           themed: "ThemedDisplays | None" = None) -> PlotFigure:
    """Two rows sharing the cells' axis: energy and CO2, each bar stacked by component.

    A component's CO2 is its share of the cell's energy times the cell's emissions.
    Components that used nothing in any cell (no GPU) are left out. ``theme``: 'light',
    'dark' or None (not known yet: light). ``themed``: where a displayed figure follows the
    theme (see ``PlotFigure``).
    """
    from plotly.subplots import make_subplots

    labels = bar_labels(records)
    energy_wh = {kind: [ENERGY.of(getattr(r, f"{kind}_energy_kwh")) for r in records] for kind in KINDS}
    co2_g = {
        kind: [(CO2.of(r.emissions_kg) * wh / ENERGY.of(r.energy_kwh) if r.energy_kwh else 0.0)
               for r, wh in zip(records, values)]
        for kind, values in energy_wh.items()
    }
    energy_factor, energy_unit = axis_unit(ENERGY.of(max((r.energy_kwh for r in records), default=0.0)) or 1e-12,
                                           ENERGY.unit)
    co2_factor, co2_unit = axis_unit(CO2.of(max((r.emissions_kg for r in records), default=0.0)) or 1e-12, CO2.unit)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12,
                        subplot_titles=(f"Energy per cell ({energy_unit})", f"CO₂e per cell ({co2_unit})"))
    hover = [f"{r.first_line}<br>{r.status}" for r in records]
    for kind in KINDS:
        if not any(energy_wh[kind]):
            continue
        colour = group_colour(kind)
        fig.add_bar(x=labels, y=[v * energy_factor for v in energy_wh[kind]], name=kind.upper(),
                    marker_color=colour, legendgroup=kind, hovertext=hover,
                    hovertemplate="%{x}: %{y:.3g} " + energy_unit + "<br>%{hovertext}<extra>" + kind.upper() + "</extra>",
                    row=1, col=1)
        fig.add_bar(x=labels, y=[v * co2_factor for v in co2_g[kind]], name=kind.upper(), marker_color=colour,
                    legendgroup=kind, showlegend=False, hovertext=hover,
                    hovertemplate="%{x}: %{y:.3g} " + co2_unit + "<br>%{hovertext}<extra>" + kind.upper() + "</extra>",
                    row=2, col=1)
    fig.update_layout(
        template="none", paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
        font=dict(family=FONT_FAMILY, size=11), barmode="stack", height=HEIGHT_PX,
        legend=dict(orientation="h", x=0, y=1.13, font=dict(size=11), bgcolor="rgba(0,0,0,0)", traceorder="normal"),
        title=dict(text="carbon_magic: tracked cells", font=dict(size=13)), margin=dict(l=56, r=20, t=80, b=40),
    )
    fig.update_annotations(font=dict(size=12))
    fig.update_xaxes(type="category")
    fig.update_yaxes(zeroline=False, rangemode="tozero")
    fig.update_yaxes(title_text=energy_unit, row=1, col=1)
    fig.update_yaxes(title_text=f"{co2_unit} CO₂e", row=2, col=1)
    apply_theme(fig, theme)
    plot = PlotFigure(fig)
    plot._themed = themed
    return plot
