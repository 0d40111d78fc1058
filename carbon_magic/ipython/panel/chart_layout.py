"""The layouts of the panels' charts: every position a fraction of the plot area (0 at the left
or bottom, 1 at the right or top) rounded to 4 digits, every label text, so that the renderers
only map fractions to pixels.

- ``chart_layout``: the live panel's chart, drawn twice from it: live in the browser
  (``panel_widgets.LiveChart``) and frozen as a PNG (``chart_png``), so both look the same.
  Power by chart group as stacked steps (W, left axis) and the cumulative CO2e as a line
  (right axis, scaled to µg, mg, g ...) over the window's time (s, min or h).
- ``bars_layout``: ``%carbon panel``'s bars (a PNG, ``chart_png``): energy per tracked run
  stacked by component (left axis, µWh, mWh, Wh ...) and its CO2e as a dot (right axis).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from ..totals import KINDS
from .presentation import (CO2, ENERGY, axis_range, axis_unit, group_colour, group_name, nice_step, tick_label,
                           time_axis)
from .series import PowerSeries

if TYPE_CHECKING:
    from ..records import CellRecord

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


@dataclass(frozen=True)
class BarsLayout:
    labels: list[str]  # under each bar
    stacks: list[Area]  # bottom to top; ``tops``: the stack's top after this component, per bar
    co2: list[float]  # per bar
    energy_ticks: list[tuple[float, str]]
    co2_ticks: list[tuple[float, str]]
    energy_unit: str  # 'mWh'
    co2_unit: str  # 'µg CO₂e'


def _bar_label(record: "CellRecord") -> str:
    """A bar's label under the PNG chart (its font has digits, brackets and a few letters)."""
    if record.kind == "span":
        return "span"
    return f"[{record.execution_count}]" if record.execution_count is not None else ""


def bars_layout(records: Sequence["CellRecord"]) -> BarsLayout:
    """The layout of ``records`` (at least one): the components that used energy in any."""
    energy_max = ENERGY.of(max(max(r.energy_kwh for r in records), 1e-15))
    factor, energy_unit = axis_unit(energy_max, ENERGY.unit)
    e_top, e_step = axis_range(energy_max * factor)
    co2_max = CO2.of(max(max(r.emissions_kg for r in records), 1e-15))
    co2_factor, co2_unit = axis_unit(co2_max, CO2.unit)
    c_top, c_step = axis_range(co2_max * co2_factor)
    stacks, below = [], [0.0] * len(records)
    for kind in KINDS:
        values = [ENERGY.of(getattr(r, f"{kind}_energy_kwh")) * factor for r in records]
        if any(v > 0 for v in values):
            below = [b + v for b, v in zip(below, values)]
            stacks.append(Area(kind.upper(), group_colour(kind), _fractions(below, e_top)))
    return BarsLayout(
        labels=[_bar_label(r) for r in records],
        stacks=stacks,
        co2=_fractions([CO2.of(r.emissions_kg) * co2_factor for r in records], c_top),
        energy_ticks=_ticks(e_top, e_step, tick_label),
        co2_ticks=_ticks(c_top, c_step, lambda v: tick_label(round(v, 12))),
        energy_unit=energy_unit,
        co2_unit=f"{co2_unit} CO₂e",
    )
