"""The live panel's time series: power by component and cumulative CO2, bounded in size.

Points hold cumulative figures (joules per chart group, grams of CO2e) at instants of the
window, so the power between two points is their energy difference over their time
difference: the exact average the ledger gives, whose area is the energy shown. When the
series holds more than ``max_points`` points, every other inner point is dropped; the
averages over the merged intervals stay exact, and the series keeps between half and all
of ``max_points`` points however long the cell runs (so every update message stays small).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from ...core.ledger import kind_of

MAX_POINTS = 64
# More GPUs than this are drawn as one "GPU" area (the numbers still list each one).
MAX_GPU_GROUPS = 2


def chart_groups(components: Iterable[str]) -> tuple[str, ...]:
    """The areas of the chart: 'cpu', 'ram', then each GPU ('gpu:0', ...) or one 'gpu', then
    'platform' (the modelled rest of the machine) when counted."""
    components = tuple(components)
    gpus = [c for c in components if kind_of(c) == "gpu"]
    groups: list[str] = [c for c in ("cpu", "ram") if c in components]
    groups += gpus if len(gpus) <= MAX_GPU_GROUPS else ["gpu"]
    groups += [c for c in ("platform",) if c in components]
    return tuple(groups)


def group_of(component: str, groups: Sequence[str]) -> str:
    return component if component in groups else kind_of(component)


@dataclass(frozen=True, slots=True)
class Point:
    """Cumulative figures ``t_s`` seconds into the window."""

    t_s: float
    energy_j: tuple[float, ...]  # per chart group
    co2_g: float


class PowerSeries:
    """Power by chart group and cumulative CO2 over one window (see the module docstring)."""

    def __init__(self, components: Iterable[str], max_points: int | None = None):
        max_points = MAX_POINTS if max_points is None else max_points
        if max_points < 4:
            raise ValueError("a series needs at least 4 points")
        self.groups = chart_groups(components)
        self.max_points = max_points
        self.points: list[Point] = [Point(0.0, (0.0,) * len(self.groups), 0.0)]

    def add(self, t_s: float, energy_j: Mapping[str, float], co2_g: float) -> None:
        """Add the window's totals at ``t_s``: energy per component (J) and CO2e (g).

        A point not later than the last one replaces it (the same instant read twice)."""
        totals = dict.fromkeys(self.groups, 0.0)
        for component, joules in energy_j.items():
            group = group_of(component, self.groups)
            if group in totals:
                totals[group] += joules
        point = Point(t_s, tuple(totals[g] for g in self.groups), co2_g)
        if t_s <= self.points[-1].t_s and len(self.points) > 1:
            self.points[-1] = point
        elif t_s > self.points[-1].t_s:
            self.points.append(point)
        if len(self.points) > self.max_points:
            last = self.points[-1]
            self.points = self.points[:-1][::2] + [last]

    def power_w(self) -> tuple[list[float], dict[str, list[float]]]:
        """(instants, power per group) as steps: each interval's average power at its end,
        plus the first interval's at 0 (drawn with plotly's ``line_shape="vh"``)."""
        times: list[float] = []
        power: dict[str, list[float]] = {group: [] for group in self.groups}
        for before, after in zip(self.points, self.points[1:]):
            dt = after.t_s - before.t_s
            times.append(after.t_s)
            for index, group in enumerate(self.groups):
                power[group].append((after.energy_j[index] - before.energy_j[index]) / dt)
        if times:
            times.insert(0, 0.0)
            for values in power.values():
                values.insert(0, values[0])
        return times, power

    def co2_g(self) -> tuple[list[float], list[float]]:
        """(instants, cumulative CO2e in g), from the window's start."""
        return [p.t_s for p in self.points], [p.co2_g for p in self.points]
