"""The panel chart's layout, drawn twice from it: live in the browser (``panel_widgets.LiveChart``)
and frozen as a PNG (``chart_png``), so both look the same.

Power by chart group as stacked steps (W, left axis) and the cumulative CO2e as a line (right
axis, scaled to µg, mg, g ...) over the window's time (s, min or h). Every position is a
fraction of the plot area (0 at the left or bottom, 1 at the right or top) rounded to 4
digits, and every label is text: the renderers only map fractions to pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

from .presentation import axis_range, axis_unit, group_colour, group_name, nice_step, tick_label, time_axis
from .series import PowerSeries

WIDTH_PX, HEIGHT_PX = 700, 210  # the chart's displayed size (CSS px), live and frozen
MARGINS_PX = (52, 76, 30, 28)  # left, right, top, bottom
DIGITS = 4


@dataclass(frozen=True)
class Area:
    name: str
    colour: str
    tops: list[float]  # the stack's top after this group, at each instant


@dataclass(frozen=True)
class ChartLayout:
    end_s: float  # the window's last instant, in seconds
    times: list[float]  # instants (the steps' ends; the first is 0)
    areas: list[Area]  # bottom to top
    co2_times: list[float]
    co2: list[float]
    power_ticks: list[tuple[float, str]]
    co2_ticks: list[tuple[float, str]]
    time_ticks: list[tuple[float, str]]
    co2_unit: str  # 'mg CO₂e'

    def as_dict(self) -> dict:
        """The layout as JSON-ready lists (the live chart's one synced value)."""
        return {
            "endS": self.end_s, "times": self.times, "co2Times": self.co2_times, "co2": self.co2, "co2Unit": self.co2_unit,
            "areas": [{"name": a.name, "colour": a.colour, "tops": a.tops} for a in self.areas],
            "powerTicks": self.power_ticks, "co2Ticks": self.co2_ticks, "timeTicks": self.time_ticks,
        }


def _fractions(values: list[float], top: float) -> list[float]:
    return [round(v / top, DIGITS) for v in values]


def chart_layout(series: PowerSeries) -> ChartLayout | None:
    """The layout of ``series``; None before it has an interval."""
    times, power = series.power_w()
    co2_times, co2 = series.co2_g()
    if len(times) < 2:
        return None
    t_end = max(times[-1], 1e-9)
    stacked = [0.0] * len(times)
    tops = []
    for group in series.groups:
        stacked = [s + p for s, p in zip(stacked, power[group])]
        tops.append(stacked)
    p_top, p_step = axis_range(max(stacked))
    co2_factor, co2_unit = axis_unit(max(max(co2), 1e-12), "g")
    c_top, c_step = axis_range(max(co2) * co2_factor)
    divisor, unit = time_axis(t_end)
    t_step = nice_step(t_end / divisor, 6) * divisor
    return ChartLayout(
        end_s=round(t_end, 3),
        times=_fractions(times, t_end),
        areas=[Area(group_name(g), group_colour(g), _fractions(top, p_top)) for g, top in zip(series.groups, tops)],
        co2_times=_fractions(co2_times, t_end),
        co2=_fractions([c * co2_factor for c in co2], c_top),
        power_ticks=_ticks(p_top, p_step, lambda v: tick_label(v)),
        co2_ticks=_ticks(c_top, c_step, lambda v: tick_label(round(v, 12))),
        time_ticks=_ticks(t_end, t_step, lambda v: f"{tick_label(round(v / divisor, 6))} {unit}"),
        co2_unit=f"{co2_unit} CO₂e",
    )


def _ticks(top: float, step: float, label) -> list[tuple[float, str]]:
    ticks, value = [], 0.0
    while value <= top * (1 + 1e-9):
        ticks.append((round(value / top, DIGITS), label(value)))
        value += step
    return ticks
