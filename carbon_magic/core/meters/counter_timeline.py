"""When did a slow energy counter change? Interpolating it at any instant between changes.

NVML's energy counter changes only every ~100 ms. A poll sees the new value some time after
the change: the change happened in the bracket between the last poll that saw the old value
and the first that saw the new one. From these brackets the timeline estimates each change
instant:

- when the counter updates on a regular period (as measured on an H100: ~100 ms), the
  instants lie on a grid ``phase + n x period``. Every change seen through a narrow bracket
  (fast polling) constrains the grid; intersecting many of them, far apart in time, pins the
  phase and period far more tightly than any single bracket (polls are deliberately not a
  divisor of the period, so their offsets sweep the cycle). The grid then places every
  change, including those seen late by sparse polls, wherever it falls inside its bracket;
- otherwise a change is placed at the middle of its bracket (for a wide bracket, about half
  an update period before it was seen).

``energy_at(t)`` splits the energy of the update interval holding ``t`` in proportion to
the power of its neighbours: exact when power is constant, and when it steps at ``t``.

How often a counter updates is measured, whatever the vendor: ``measure_update_period`` reads
it back to back for a few milliseconds when its meter starts. A counter that updates at least
every ``FINAL_WITHIN_S`` (AMD MI300's, about every millisecond) needs no settling
(``final_at_once``: its meter does not declare ``settles``): a read, the last change plus
recent power x the time since, is final; slower ones (NVML's ~100 ms, older AMD cards') are
settled as above.
"""

from __future__ import annotations

import bisect
import math
import time
from collections import deque
from typing import Callable

# Changes kept: at 100 ms per change, a little under two minutes.
HISTORY = 1024
# Narrow brackets kept to fit the grid, and how many consecutive ones start a first fit.
FIT_WINDOW = 48
MIN_FIT = 8
# Until a fit measures it: NVML's counter period on an H100 (REFERENCE.md).
DEFAULT_UPDATE_PERIOD_S = 0.1
# A fitted grid is trusted when its phase is pinned to within this fraction of the period.
MAX_PHASE_SPREAD = 0.05
# A counter updating at least this often is final at once: a boundary is then off by at most
# power x half an update (0.35 J at 700 W for a 1 ms counter: 1 % of a 50 ms window, 0.1 % of
# a 0.5 s one). Settling could not do better: the poller (every ~7 ms) cannot bracket its changes.
FINAL_WITHIN_S = 0.005
# Recent power is averaged over at least this long (and one update period).
POWER_SPAN_S = 0.02
# Measuring a counter's period at start: reads back to back for at most this much CPU time
# (a thread descheduled on a busy machine spends none), and the changes it must see (fewer: a
# counter slower than about an eighth of the budget, left to the polls to learn).
MEASURE_BUDGET_S = 0.02
MEASURE_CHANGES = 8


def median(values: list[float]) -> float:
    """The median of ``values`` (not empty), as ``statistics.median``: importing that module
    (with fractions and decimal) would cost every ``%load_ext`` ~2 ms, GPU or not."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def measure_update_period(read: Callable[[], float], clock: Callable[[], float],
                          budget_s: float = MEASURE_BUDGET_S,
                          cpu_clock: Callable[[], float] = time.thread_time) -> float | None:
    """A counter's update period, from reading it back to back for at most ``budget_s`` of
    this thread's CPU time: the median gap (by ``clock``) between the changes seen. A read
    delayed by a busy machine lengthens the gap it ends and may shorten the next one; the
    median keeps the period while fewer than half the gaps are touched. None when fewer than
    MEASURE_CHANGES changes were seen."""
    spent = cpu_clock()
    last = read()
    seen: list[float] = []
    while len(seen) < MEASURE_CHANGES and cpu_clock() - spent < budget_s:
        value = read()
        if value != last:
            seen.append(clock())
            last = value
    if len(seen) < MEASURE_CHANGES:
        return None
    return median([b - a for a, b in zip(seen, seen[1:])])


class CounterTimeline:
    """Brackets of observed changes of one counter, and interpolation between them."""

    def __init__(self, t0: float, energy_j: float):
        # Where the counter stood when first read: its own change instant is unknown, so it
        # only anchors instants before the first change seen.
        self._origin = (t0, energy_j)
        self._last_poll_t = t0
        self._last_value = energy_j
        # Each change seen: bracket start, bracket end, value after the change; time order.
        self._lo: deque[float] = deque(maxlen=HISTORY)
        self._hi: deque[float] = deque(maxlen=HISTORY)
        self._values: deque[float] = deque(maxlen=HISTORY)
        self._instants: list[float] | None = None  # cache of estimated change instants
        self.update_period_s = DEFAULT_UPDATE_PERIOD_S
        self.final_at_once = False  # a fast counter: see FINAL_WITHIN_S
        self.grid: tuple[float, float] | None = None  # (phase, period) of the update grid
        self._anchors: deque[tuple[int, float, float]] = deque(maxlen=FIT_WINDOW)  # (n, lo, hi)

    def set_update_period(self, period_s: float | None) -> None:
        """The counter's update period as measured (``measure_update_period``; None: unknown)."""
        if period_s is not None and period_s > 0:
            self.update_period_s = period_s
            self.final_at_once = period_s <= FINAL_WITHIN_S

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
            self._add(self._last_poll_t, t, energy_j)
            self._learn(self._last_poll_t, t)
        self._last_poll_t = t
        return changed

    def observe_exact(self, t: float, energy_j: float) -> None:
        """Record a value known to hold exactly at ``t`` (e.g. power integrated up to ``t``)."""
        self._add(t, t, energy_j)
        self._last_poll_t = t

    def _add(self, lo: float, hi: float, energy_j: float) -> None:
        self._lo.append(lo)
        self._hi.append(hi)
        self._values.append(energy_j)
        self._last_value = energy_j
        self._instants = None

    # -- the update grid --------------------------------------------------------------------
    def _learn(self, lo: float, hi: float) -> None:
        """Add a narrow bracket to the grid's constraints and refit."""
        if self.final_at_once:
            return  # polls slower than the counter cannot pin its grid, nor need to
        if hi - lo > self.update_period_s / 2:
            if self.grid is None:
                self._anchors.clear()  # a first fit needs consecutive changes
            return
        if self.grid is None:
            self._anchors.append((len(self._anchors), lo, hi))
            if len(self._anchors) >= MIN_FIT and _regular(self._anchors):
                self._refit()
            return
        phase, period = self.grid
        self._anchors.append((round(((lo + hi) / 2 - phase) / period), lo, hi))
        self._refit()

    def _refit(self) -> None:
        fit = _fit_grid(list(self._anchors))
        if fit is None:  # drifted or irregular: learn afresh from the next consecutive run
            self.grid = None
            self._anchors.clear()
            return
        phase, period = fit
        # Re-index the anchors from the new phase so indexes stay small and exact.
        shift = self._anchors[0][0]
        self._anchors = deque(((n - shift, a, b) for n, a, b in self._anchors), maxlen=FIT_WINDOW)
        self.grid = (phase + shift * period, period)
        self.update_period_s = period
        self._instants = None

    # -- estimates --------------------------------------------------------------------------
    def recent_power_w(self) -> float | None:
        """Average power from the latest change back over about one update period (and
        POWER_SPAN_S) or more: two changes seen by reads a moment apart would otherwise divide
        up to a period's energy by that moment. None until the changes kept span half of that."""
        instants = self.instants()
        last = len(instants) - 1
        span_s = max(self.update_period_s, POWER_SPAN_S)
        first = last - 1
        while first > 0 and instants[last] - instants[first] < span_s:
            first -= 1
        if first < 0 or instants[last] - instants[first] < span_s / 2:
            return None
        return (self._values[last] - self._values[first]) / (instants[last] - instants[first])

    def instants(self) -> list[float]:
        """Estimated instant of every change kept."""
        if self._instants is None:
            self._instants = self._estimate()
        return self._instants

    def _estimate(self) -> list[float]:
        half = self.update_period_s / 2
        instants = []
        for lo, hi in zip(self._lo, self._hi):
            instant = max((lo + hi) / 2, hi - half)
            if self.grid is not None:
                phase, period = self.grid
                # the latest grid instant not after the bracket's end: with changes missed
                # inside a wide bracket, the value seen is the one of its last change
                candidate = phase + math.floor((hi - phase) / period) * period
                if lo <= candidate <= hi:
                    instant = candidate
            instants.append(instant)
        return instants

    def energy_at(self, t: float) -> float | None:
        """Cumulative energy at ``t``; None until the changes it needs have been seen.

        The energy of the update interval holding ``t`` is split at ``t`` in proportion to
        the average power of the interval before and the one after: exact when the power
        steps at ``t`` (a cell starting or ending its GPU work, synchronised) and the same as
        linear interpolation when it does not change. This needs the change after next, so a
        boundary is final about two counter updates after it.
        """
        instants = self.instants()
        values = self._values
        position = bisect.bisect_left(instants, t)  # first change at or after t
        if position >= len(instants):
            return None
        if position == 0:
            t0, e0 = self._origin
        else:
            t0, e0 = instants[position - 1], values[position - 1]
        t1, e1 = instants[position], values[position]
        if t1 <= t0 or t >= t1:
            return e1
        before = _average_power(instants, values, position - 1) if position >= 2 else None
        if position + 1 >= len(instants):
            return None
        after = _average_power(instants, values, position + 1)
        if before is None or after is None:
            return e0 + (e1 - e0) * (t - t0) / (t1 - t0)
        weight_before, weight_after = before * (t - t0), after * (t1 - t)
        if weight_before + weight_after <= 0:
            return e0 + (e1 - e0) * (t - t0) / (t1 - t0)
        return e0 + (e1 - e0) * weight_before / (weight_before + weight_after)


def _average_power(instants: list[float], values: deque[float], k: int) -> float | None:
    """Average power of the update interval ending at change ``k``."""
    if k < 1 or instants[k] <= instants[k - 1]:
        return None
    return max((values[k] - values[k - 1]) / (instants[k] - instants[k - 1]), 0.0)


def _regular(anchors: deque[tuple[int, float, float]]) -> bool:
    """Consecutive changes about one period apart (none missed, none extra)."""
    middles = [(a + b) / 2 for _, a, b in anchors]
    gaps = [b - a for a, b in zip(middles, middles[1:])]
    typical = median(gaps)
    return typical > 0 and all(abs(gap - typical) <= typical / 2 for gap in gaps)


def _fit_grid(anchors: list[tuple[int, float, float]]) -> tuple[float, float] | None:
    """(phase, period) with ``lo <= phase + n * period <= hi`` for every anchor (n, lo, hi).

    Each pair of anchors bounds the period; at the middle of the feasible periods the
    brackets intersect in a phase interval. None when no grid fits them tightly.
    """
    period_min, period_max = 0.0, math.inf
    for i, (n_i, lo_i, hi_i) in enumerate(anchors):
        for n_j, lo_j, hi_j in anchors[i + 1:]:
            steps = n_j - n_i
            if steps <= 0:
                return None
            period_min = max(period_min, (lo_j - hi_i) / steps)
            period_max = min(period_max, (hi_j - lo_i) / steps)
    if not period_min <= period_max < math.inf:
        return None
    period = (period_min + period_max) / 2
    phase_lo = max(lo - n * period for n, lo, _ in anchors)
    phase_hi = min(hi - n * period for n, _, hi in anchors)
    if phase_lo > phase_hi or phase_hi - phase_lo > MAX_PHASE_SPREAD * period:
        return None
    return (phase_lo + phase_hi) / 2, period
