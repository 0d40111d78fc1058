"""The live panel's widgets: ipywidgets for the numbers, a small anywidget for the chart.

Imported only when a first panel is about to be shown (ipywidgets, anywidget and plotly, for
``%carbon panel``, take a second or more to import), never when the extension loads. The
chart (``LiveChart``) is drawn in the browser as SVG from ``chart_layout``, the layout the
frozen PNG is drawn from: the panel looks the same live and frozen, fits narrow windows, and
needs no plotly.js. Views are made ahead, while the kernel is idle; each serves one cell, and
is closed once its cell froze (a frozen panel replaced it in the output).
"""

from __future__ import annotations

import threading
from typing import Any, Callable

import anywidget
import ipywidgets
import traitlets

from .chart_layout import HEIGHT_PX, MARGINS_PX, WIDTH_PX, chart_layout
from .panel_view import BOX_STYLE, Snapshot, attrs, header_html, stylesheet
from .presentation import CO2_COLOUR, palette_of

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


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


_CHART_ESM = """
const NS = "http://www.w3.org/2000/svg";
function node(name, attributes, text) {
  const element = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (text !== undefined) element.textContent = text;
  return element;
}
function draw(svg, model) {
  const chart = model.get("chart"), palette = model.get("palette");
  const [width, height] = model.get("size"), [left, right, top, bottom] = model.get("margins");
  svg.replaceChildren();
  if (!chart) return;
  svg.dataset.endS = chart.endS;
  svg.dataset.points = chart.times.length;
  const plotW = width - left - right, plotH = height - top - bottom;
  const x = (f) => (left + plotW * f).toFixed(1), y = (f) => (top + plotH * (1 - f)).toFixed(1);
  const add = (element) => svg.appendChild(element);
  const text = (tx, ty, label, fill, anchor) =>
    add(node("text", { x: tx, y: ty, fill, "text-anchor": anchor || "start" }, label));
  for (const [f, label] of chart.powerTicks) {
    add(node("line", { x1: left, x2: left + plotW, y1: y(f), y2: y(f), stroke: palette.grid }));
    text(left - 6, +y(f) + 4, label, palette.text, "end");
  }
  for (const [f, label] of chart.co2Ticks) text(left + plotW + 6, +y(f) + 4, label, palette.co2Text);
  for (const [f, label] of chart.timeTicks) text(x(f), height - 8, label, palette.text, "middle");
  const steps = (tops) => {
    const points = [`${x(chart.times[0])},${y(tops[0])}`];
    for (let i = 1; i < chart.times.length; i++) {
      points.push(`${x(chart.times[i - 1])},${y(tops[i])}`, `${x(chart.times[i])},${y(tops[i])}`);
    }
    return points;
  };
  let below = chart.times.map(() => 0);
  for (const area of chart.areas) {
    const upper = steps(area.tops), lower = steps(below).reverse();
    add(node("path", { d: "M" + upper.concat(lower).join(" L") + " Z", fill: area.colour, "fill-opacity": 0.45 }));
    add(node("path", { d: "M" + upper.join(" L"), fill: "none", stroke: area.colour, "stroke-width": 1.5 }));
    below = area.tops;
  }
  const co2 = chart.co2Times.map((t, i) => `${x(t)},${y(chart.co2[i])}`).join(" L");
  add(node("path", { d: "M" + co2, fill: "none", stroke: palette.co2, "stroke-width": 2, "stroke-dasharray": "6 4" }));
  let legendX = left + 10;
  text(left - 6, 20, "W", palette.text, "end");
  for (const area of chart.areas) {
    add(node("rect", { x: legendX, y: 10, width: 10, height: 10, rx: 2, fill: area.colour, "fill-opacity": 0.7 }));
    const label = text(legendX + 14, 20, area.name, palette.text);
    legendX += 14 + label.getComputedTextLength() + 14;
  }
  add(node("line", { x1: legendX, x2: legendX + 16, y1: 15, y2: 15, stroke: palette.co2, "stroke-width": 2,
                     "stroke-dasharray": "6 4" }));
  text(legendX + 20, 20, "CO\u2082e so far", palette.text);
  text(left + plotW + 6, 20, chart.co2Unit, palette.co2Text);
}
export default {
  render({ model, el }) {
    const [width, height] = model.get("size");
    const svg = node("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img", class: "cm-chart",
                              "aria-label": "Power by component and cumulative CO2e over the cell" });
    svg.style.cssText = `display:block;max-width:${width}px;font-family:var(--jp-ui-font-family,system-ui,sans-serif);font-size:11px`;
    el.appendChild(svg);
    const redraw = () => draw(svg, model);
    redraw();
    model.on("change:chart", redraw);
    model.on("change:palette", redraw);
    return () => { model.off("change:chart", redraw); model.off("change:palette", redraw); };
  }
};
"""


def _palette_dict(theme: str | None) -> dict[str, str]:
    palette = palette_of(theme)
    return {"text": palette.text, "co2Text": palette.co2_text, "grid": palette.grid, "co2": CO2_COLOUR}


class LiveChart(anywidget.AnyWidget):
    """The live panel's chart: ``chart_layout`` drawn as SVG by a few lines of JavaScript (the
    frozen PNG draws the same layout), fluid up to its width, one small message per update."""

    _esm = _CHART_ESM
    chart = traitlets.Dict(allow_none=True, default_value=None).tag(sync=True)
    palette = traitlets.Dict().tag(sync=True)
    size = traitlets.List([WIDTH_PX, HEIGHT_PX]).tag(sync=True)
    margins = traitlets.List(list(MARGINS_PX)).tag(sync=True)


class LiveView:
    """The widgets of one live panel: a header (HTML) above a chart (LiveChart)."""

    def __init__(self, groups: tuple[str, ...], theme: str | None):
        self.groups = groups
        self.header = ipywidgets.HTML()
        self.chart = LiveChart(palette=_palette_dict(theme))
        # the header's styles, sent once with the view (its updates name them by class)
        self.styles = ipywidgets.HTML(stylesheet(".carbon-magic-live-panel"), layout=ipywidgets.Layout(display="none"))
        self.box = ipywidgets.VBox(
            [self.styles, self.header, self.chart],
            layout=ipywidgets.Layout(border="1px solid var(--jp-border-color2, #ddd)", padding="10px 14px 8px",
                                     margin="4px 0", max_width="960px", overflow="hidden"),
        )
        self.box.add_class("carbon-magic-live-panel")
        self.theme = theme
        self.shown = False  # displayed in an output: never shown again (module docstring)

    def reset(self, theme: str | None) -> None:
        """Ready for a new cell: the theme's colours (``show`` then replaces all the data)."""
        if theme != self.theme:
            self.chart.palette = _palette_dict(theme)
            self.theme = theme

    def show(self, snapshot: Snapshot) -> None:
        """Update the numbers and the chart: one message each, small however long the cell runs
        (the series is bounded, positions have 4 digits)."""
        self.header.value = f'<div{attrs("text", inline=False)}>{header_html(snapshot, inline=False)}</div>'
        layout = chart_layout(snapshot.series)
        if layout is not None:
            self.chart.chart = layout.as_dict()

    def close(self) -> None:
        for widget in (self.box, self.chart, self.header, self.styles):
            widget.close()

    def bundle(self, fallback_html: str, fallback_text: str) -> dict[str, Any]:
        """What to display: the widget, with HTML and text for front ends without widgets."""
        self.shown = True
        return {
            WIDGET_MIME: {"version_major": 2, "version_minor": 0, "model_id": self.box.model_id},
            "text/html": f'<div class="carbon-magic-panel" style="{BOX_STYLE}">{fallback_html}</div>',
            "text/plain": fallback_text,
        }


class ViewPool:
    """LiveViews made ahead, by chart groups; each is shown in one cell only (module docstring)."""

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
        """Keep a view never shown for the next cell; close one that was shown."""
        if view.shown:
            view.close()
            return
        with self._lock:
            self._idle.setdefault(view.groups, []).append(view)

    def close(self) -> None:
        """Close every idle view's widgets (extension unload)."""
        with self._lock:
            views = [view for idle in self._idle.values() for view in idle]
            self._idle.clear()
        for view in views:
            view.close()
