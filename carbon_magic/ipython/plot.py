"""``%carbon plot``: energy and CO2 per tracked cell, stacked by component (plotly)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    import plotly.graph_objects

    from .records import CellRecord

COMPONENT_COLOURS = {"cpu": "#1f77b4", "gpu": "#2ca02c", "ram": "#ff7f0e"}


def figure(records: Sequence["CellRecord"]) -> "plotly.graph_objects.Figure":
    """Two rows sharing the cells' axis: energy (Wh) and CO2 (g), each bar stacked by component.

    A component's CO2 is its share of the cell's energy times the cell's emissions.
    Components that used nothing in any cell (no GPU) are left out.
    """
    from plotly.subplots import make_subplots

    labels = [f"[{r.execution_count}] {r.label}" if r.kind != "span" else r.label for r in records]
    energy_wh = {
        "cpu": [r.cpu_energy_kwh * 1e3 for r in records],
        "gpu": [r.gpu_energy_kwh * 1e3 for r in records],
        "ram": [r.ram_energy_kwh * 1e3 for r in records],
    }
    co2_g = {
        kind: [
            (r.emissions_kg * 1e3 * (wh / (r.energy_kwh * 1e3)) if r.energy_kwh else 0.0)
            for r, wh in zip(records, values)
        ]
        for kind, values in energy_wh.items()
    }
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("Energy per cell (Wh)", "CO2 per cell (g CO2e)"))
    for kind, colour in COMPONENT_COLOURS.items():
        if not any(energy_wh[kind]):
            continue
        hover = [f"{r.first_line}<br>{r.status}" for r in records]
        fig.add_bar(x=labels, y=energy_wh[kind], name=kind.upper(), marker_color=colour,
                    legendgroup=kind, hovertext=hover, row=1, col=1)
        fig.add_bar(x=labels, y=co2_g[kind], name=kind.upper(), marker_color=colour,
                    legendgroup=kind, showlegend=False, hovertext=hover, row=2, col=1)
    fig.update_layout(barmode="stack", title="carbon_magic: tracked cells", height=520,
                      legend_title_text="component", margin=dict(t=70, b=40))
    fig.update_yaxes(title_text="Wh", row=1, col=1)
    fig.update_yaxes(title_text="g CO2e", row=2, col=1)
    return fig
