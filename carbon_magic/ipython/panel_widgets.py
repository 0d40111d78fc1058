"""The live panel's widgets: ipywidgets for the numbers, plotly's FigureWidget for the chart.

Imported only when a first panel is about to be shown (ipywidgets, anywidget and plotly
take a second or more to import), never when the extension loads. A FigureWidget carries
plotly.js to the front end when it is created (about 5 MB, in its ``_esm``), so views are
pooled: a finished cell's live panel is replaced by its static, frozen twin, and its
widgets serve the next cell.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

import anywidget
import ipywidgets
import plotly.graph_objects as go
from plotly.graph_objects import FigureWidget  # noqa: F401  (plotly loads it lazily: load it here, off the cell)
import traitlets

from .panel_view import (
    BOX_STYLE, CO2_COLOUR, Snapshot, attrs, axis_range, axis_unit, group_colour, group_name, header_html,
    stylesheet, time_axis,
)

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
CHART_HEIGHT_PX = 210
# plotly sizes a figure to its container only when the page resizes: a fixed width that fits
# the panel (at most 960 px wide, 14 px padding) keeps it from opening at plotly's 700 px.
CHART_WIDTH_PX = 900
# Colours of the chart for each JupyterLab theme; None: not known yet (greys that read on both).
_THEMES = {
    "light": {"font": "#555", "grid": "rgba(0,0,0,0.08)"},
    "dark": {"font": "#bbb", "grid": "rgba(255,255,255,0.10)"},
    None: {"font": "#888", "grid": "rgba(128,128,128,0.20)"},
}
_FONT_FAMILY = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"


class FrontEndProbe(anywidget.AnyWidget):
    """An invisible widget whose front-end code answers as soon as the front end's widget
    manager creates it, and again when the JupyterLab (or VS Code) theme changes."""

    _esm = """
    function theme() {
      const body = document.body;
      if (body.dataset.jpThemeLight) return body.dataset.jpThemeLight === 'true' ? 'light' : 'dark';
      if (body.classList.contains('vscode-dark') || body.classList.contains('vscode-high-contrast')) return 'dark';
      if (body.classList.contains('vscode-light')) return 'light';
      return window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
    }
    export default {
      initialize({ model }) {
        let last = null;
        const report = () => {
          const now = theme();
          if (now !== last) { last = now; model.send({ event: 'front-end', theme: now }); }
        };
        report();
        const observer = new MutationObserver(report);
        observer.observe(document.body, { attributes: true, attributeFilter: ['data-jp-theme-light', 'class'] });
        return () => observer.disconnect();
      }
    };
    """
    version = traitlets.Int(1).tag(sync=True)


def open_probe(on_answer: Callable[[dict], None]) -> FrontEndProbe:
    probe = FrontEndProbe()
    probe.on_msg(lambda _widget, content, _buffers: on_answer(content))
    return probe


def _rounded(values: list[float], digits: int = 3) -> list[float]:
    """Three significant digits: small update messages, no visible change."""
    return [float(f"{v:.{digits}g}") for v in values]


class LiveView:
    """The widgets of one live panel: a header (HTML) above a chart (FigureWidget)."""

    def __init__(self, groups: tuple[str, ...], theme: str | None):
        self.groups = groups
        self.header = ipywidgets.HTML()
        traces = [
            go.Scatter(
                name=group_name(group), x=[], y=[], mode="lines", line=dict(width=1.3, color=group_colour(group), shape="vh"),
                stackgroup="power", fillcolor=group_colour(group) + "59", hovertemplate="%{y:.3g} W",
            )
            for group in groups
        ]
        traces.append(go.Scatter(
            name="CO₂e so far", x=[], y=[], mode="lines", yaxis="y2",
            line=dict(width=2, color=CO2_COLOUR, dash="dash"), hovertemplate="%{y:.3g}",
        ))
        self.figure = go.FigureWidget(data=traces, layout=self._layout(theme))
        self.figure._config = {"displayModeBar": False, "responsive": True}
        # the header's styles, sent once with the view (its updates name them by class)
        self.styles = ipywidgets.HTML(stylesheet(".carbon-magic-live-panel"), layout=ipywidgets.Layout(display="none"))
        self.box = ipywidgets.VBox(
            [self.styles, self.header, self.figure],
            layout=ipywidgets.Layout(border="1px solid var(--jp-border-color2, #ddd)", padding="10px 14px 4px",
                                     margin="4px 0", max_width="960px", overflow="hidden"),
        )
        self.box.add_class("carbon-magic-live-panel")
        self.theme = theme

    @staticmethod
    def _layout(theme: str | None) -> dict[str, Any]:
        colours = _THEMES.get(theme, _THEMES[None])
        axis = dict(gridcolor=colours["grid"], zeroline=False, showline=False, rangemode="tozero")
        return dict(
            template="none", height=CHART_HEIGHT_PX, width=CHART_WIDTH_PX, margin=dict(l=46, r=58, t=22, b=26),
            paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
            font=dict(family=_FONT_FAMILY, size=11, color=colours["font"]),
            showlegend=True, legend=dict(orientation="h", x=0, y=1.13, font=dict(size=11), bgcolor="rgba(0,0,0,0)",
                                         traceorder="normal"),
            hovermode="x unified",
            xaxis=dict(axis, ticksuffix=" s"),
            yaxis=dict(axis, title=dict(text="W", standoff=4)),
            yaxis2=dict(axis, overlaying="y", side="right", showgrid=False, tickfont=dict(color=CO2_COLOUR),
                        title=dict(text="g CO₂e", font=dict(color=CO2_COLOUR), standoff=4)),
        )

    def reset(self, theme: str | None) -> None:
        """Ready for a new cell: the theme's colours (``show`` then replaces all the data)."""
        if theme != self.theme:
            colours = _THEMES.get(theme, _THEMES[None])
            with self.figure.batch_update():
                self.figure.layout.font.color = colours["font"]
                for axis in (self.figure.layout.xaxis, self.figure.layout.yaxis, self.figure.layout.yaxis2):
                    axis.gridcolor = colours["grid"]
            self.theme = theme

    def show(self, snapshot: Snapshot) -> None:
        """Update the numbers and the chart: one message each, small however long the cell runs
        (the series is bounded, values have 3 or 4 significant digits, and the instants, the
        same for every trace, are sent once)."""
        self.header.value = f'<div{attrs("text", inline=False)}>{header_html(snapshot, inline=False)}</div>'
        times, power = snapshot.series.power_w()
        co2_times, co2 = snapshot.series.co2_g()  # the same instants as the power steps
        divisor, time_unit = time_axis(co2_times[-1] if co2_times else 0.0)
        factor, co2_unit = axis_unit(max(co2, default=0.0) or 1e-12, "g")
        stacked = [sum(values) for values in zip(*power.values())] or [0.0]
        power_top, power_step = axis_range(max(stacked))
        co2_top, co2_step = axis_range(max(co2, default=0.0) * factor)
        restyle = {
            "x": [_rounded([t / divisor for t in co2_times], 4)],
            "y": [_rounded(power[group]) for group in self.groups] + [_rounded([c * factor for c in co2])],
        }
        relayout = {  # the static chart's round ticks: the frozen panel looks like the live one
            "yaxis.range": [0, power_top], "yaxis.dtick": power_step,
            "yaxis2.range": [0, co2_top], "yaxis2.dtick": co2_step,
            "xaxis.ticksuffix": f" {time_unit}", "yaxis2.title.text": f"{co2_unit} CO₂e",
        }
        self.figure.plotly_update(restyle, relayout, trace_indexes=list(range(len(self.groups) + 1)))

    def bundle(self, fallback_html: str, fallback_text: str) -> dict[str, Any]:
        """What to display: the widget, with HTML and text for front ends without widgets."""
        return {
            WIDGET_MIME: {"version_major": 2, "version_minor": 0, "model_id": self.box.model_id},
            "text/html": f'<div class="carbon-magic-panel" style="{BOX_STYLE}">{fallback_html}</div>',
            "text/plain": fallback_text,
        }


class ViewPool:
    """Idle LiveViews by chart groups, reused from cell to cell."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[tuple[str, ...], list[LiveView]] = {}

    def acquire(self, groups: tuple[str, ...], theme: str | None) -> LiveView:
        with self._lock:
            idle = self._idle.get(groups)
            if idle:
                return idle.pop()
        return LiveView(groups, theme)

    def release(self, view: LiveView) -> None:
        with self._lock:
            self._idle.setdefault(view.groups, []).append(view)

    def close(self) -> None:
        """Close every idle view's widgets (extension unload)."""
        with self._lock:
            views = [view for idle in self._idle.values() for view in idle]
            self._idle.clear()
        for view in views:
            view.box.close()
            view.figure.close()
            view.header.close()
            view.styles.close()
