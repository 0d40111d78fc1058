"""When did a slow energy counter change? Interpolating it at any instant between changes.

NVML's energy counter changes only every ~100 ms. A poll sees the new value some time after
the change: the change happened between the last poll that saw the old value and the first
that saw the new one. From these brackets the timeline estimates each change instant:

- when the counter updates on a regular period (as measured on an H100: ~100 ms), the
  instants lie on a grid ``phase + k x period``; intersecting the brackets of many changes
  pins the phase far more tightly than any single bracket (polls are deliberately not a
  divisor of the period, so their offsets sweep the cycle);
- otherwise each change is placed at the middle of its bracket.

``energy_at(t)`` interpolates linearly between the two changes that bracket ``t``: exact
while power is constant between two updates, and final once the later change has been seen.
"""

from __future__ import annotations

import bisect
import statistics
from collections import deque

# Changes kept: at 100 ms per change, a little under two minutes.
HISTORY = 1024
# Changes used to estimate the period and phase.
FIT_WINDOW = 48
# Until a grid fit measures it: NVML's counter period on an H100 (REFERENCE.md).
DEFAULT_UPDATE_PERIOD_S = 0.1
# A fitted grid is trusted when the phase is pinned to within this fraction of the period.
MAX_PHASE_SPREAD = 0.05


class CounterTimeline:
    """Brackets of observed changes of one counter, and interpolation between them."""

    def __init__(self, t0: float, energy_j: float):
        # Where the counter stood when first read: its own change instant is unknown, so it
        # only anchors instants before the first change seen (never the grid fit).
        self._origin = (t0, energy_j)
        self._last_poll_t = t0
        self._last_value = energy_j
        # Each change seen: bracket start, bracket end, value after the change; time order.
        self._lo: deque[float] = deque(maxlen=HISTORY)
        self._hi: deque[float] = deque(maxlen=HISTORY)
        self._values: deque[float] = deque(maxlen=HISTORY)
        self._instants: list[float] | None = None  # cache of estimated change instants
        self.update_period_s = DEFAULT_UPDATE_PERIOD_S  # refined by each grid fit

    @property
    def last_value_j(self) -> float:
        return self._last_value

    @property
    def last_change_t(self) -> float:
        """Estimated instant of the latest change (the first read's time before any)."""
        instants = self.instants()
        return instants[-1] if instants else self._origin[0]

    def observe(self, t: float, energy_j: float) -> bool:
        """Record a poll at ``t``; True if the value changed since the previous poll."""
        changed = energy_j != self._last_value
        if changed:
            self._lo.append(self._last_poll_t)
            self._hi.append(t)
            self._values.append(energy_j)
            self._last_value = energy_j
            self._instants = None
        self._last_poll_t = t
        return changed

    def observe_exact(self, t: float, energy_j: float) -> None:
        """Record a value known to hold exactly at ``t`` (e.g. power integrated up to ``t``)."""
        self._lo.append(t)
        self._hi.append(t)
        self._values.append(energy_j)
        self._last_value = energy_j
        self._last_poll_t = t
        self._instants = None

    def recent_power_w(self) -> float | None:
        """Average power between the last two changes (None before two changes)."""
        instants = self.instants()
        if len(instants) < 2 or instants[-1] <= instants[-2]:
            return None
        return (self._values[-1] - self._values[-2]) / (instants[-1] - instants[-2])

    def instants(self) -> list[float]:
        """Estimated instant of every change kept (grid fit where it holds, else midpoints)."""
        if self._instants is None:
            self._instants = self._estimate()
        return self._instants

    def _estimate(self) -> list[float]:
        lo, hi = list(self._lo), list(self._hi)
        start = max(len(lo) - FIT_WINDOW, 0)
        fit = _fit_grid(lo[start:], hi[start:])
        if fit is not None:
            self.update_period_s = fit[1]
        # A narrow bracket: its middle. A wide one (sparse polling): the counter changes every
        # update period, so its last change is about half a period before it was seen.
        half = self.update_period_s / 2
        instants = [max((a + b) / 2, b - half) for a, b in zip(lo, hi)]
        if fit is not None:
            phase, period = fit
            for k in range(len(lo) - start):
                # never outside the bracket actually observed
                instants[start + k] = min(max(phase + k * period, lo[start + k]), hi[start + k])
        return instants

    def energy_at(self, t: float) -> float | None:
        """Interpolated cumulative energy at ``t``; None until a change after ``t`` is seen."""
        instants = self.instants()
        if not instants or t > instants[-1]:
            return None
        position = bisect.bisect_left(instants, t)
        if position == 0:
            t0, e0 = self._origin
        else:
            t0, e0 = instants[position - 1], self._values[position - 1]
        t1, e1 = instants[position], self._values[position]
        if t1 <= t0:
            return e1
        return e0 + (e1 - e0) * (t - t0) / (t1 - t0)


def _fit_grid(lo: list[float], hi: list[float]) -> tuple[float, float] | None:
    """(phase, period) of a regular grid of change instants through the brackets.

    The grid must satisfy ``lo[k] <= phase + k * period <= hi[k]`` for every change k: each
    pair of changes bounds the period, and at the middle of the feasible periods the
    brackets intersect in a phase interval. Needs consecutive changes seen with brackets
    narrower than half a period (fast polling); None when the changes are not regular.
    """
    n = len(lo)
    if n < 8:
        return None
    middles = [(a + b) / 2 for a, b in zip(lo, hi)]
    gaps = [b - a for a, b in zip(middles, middles[1:])]
    typical = statistics.median(gaps)
    if typical <= 0 or any(b - a > typical / 2 for a, b in zip(lo, hi)):
        return None
    if any(abs(gap - typical) > typical / 2 for gap in gaps):
        return None  # a missed or irregular change: grid indexes would be wrong
    period_min = max((lo[j] - hi[i]) / (j - i) for i in range(n) for j in range(i + 1, n))
    period_max = min((hi[j] - lo[i]) / (j - i) for i in range(n) for j in range(i + 1, n))
    if period_min > period_max:
        return None
    period = (period_min + period_max) / 2
    phase_lo = max(a - k * period for k, a in enumerate(lo))
    phase_hi = min(b - k * period for k, b in enumerate(hi))
    if phase_lo > phase_hi or phase_hi - phase_lo > MAX_PHASE_SPREAD * period:
        return None
    return (phase_lo + phase_hi) / 2, period
