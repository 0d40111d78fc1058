"""A GPU read through its vendor's library (NVML, amdsmi): what every such meter does alike.

Where the GPU has an energy counter it is used; otherwise power is integrated (never a silent
0). A counter changes only on its own update period: a read between two changes is the last
counter value plus recent power x elapsed time (provisional), and ``settled_energy_j`` gives the
value interpolated between the two changes that bracket an instant (see CounterTimeline),
final once the later change has been seen. How slow the counter is, is measured, not assumed
per vendor (``counter_timeline.measure_update_period``): one that updates every millisecond or
so (AMD MI300) is final at once, its meter does not settle (nor is it polled between reads).

A counter that stands still while the GPU draws power (amdsmi before ROCm 6.1 on some cards)
is not trusted: after ``STUCK_UPDATES`` update periods (at least ``STUCK_MIN_S``) the meter
raises ``CounterStuck`` and the sampler switches the GPU to its power integrated over time.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from dataclasses import replace
from typing import Iterable

from ..load import LoadSample
from ..problems import problems
from .base import CounterWentBackwards
from .counter_timeline import CounterTimeline, measure_update_period
from .gpu import GpuInfo, GpuMeter

# A counter unchanged for this many update periods (and at least STUCK_MIN_S) while the GPU
# reports at least STUCK_POWER_W is stuck.
STUCK_UPDATES = 20
STUCK_MIN_S = 2.0
STUCK_POWER_W = 5.0


class CounterStuck(Exception):
    """A GPU's energy counter did not change while the GPU drew power; its power is integrated
    from then on."""


class VendorGpuMeter(GpuMeter):
    """One GPU through a vendor library; subclasses read the library (the ``_read_*`` methods)."""

    library: str  # as the method says it: "NVML", "amdsmi"

    def __init__(self, info: GpuInfo, now: float, no_counter: str = "this GPU has no energy counter"):
        self.info = info
        self.component = info.component
        self.exact = info.has_counter
        self.method = (
            f"measured: {self.library} energy counter ({info.name})"
            if info.has_counter
            else f"modelled: {self.library} power x time ({info.name}: {no_counter})"
        )
        self._power_w = self._read_power_w() or 0.0
        self._utilisation: float | None = None
        self._holds_context = False
        self._stuck: CounterStuck | None = None
        self._raw_j = self._read_counter_j() if info.has_counter else 0.0
        self._integral_j = 0.0
        self._last_now = now
        self._last_returned_j = 0.0
        self.timeline = CounterTimeline(now, 0.0)
        if info.has_counter:
            self.timeline.set_update_period(measure_update_period(self._read_counter_j, time.monotonic))
            self.settles = not self.timeline.final_at_once  # a fast counter needs no settling

    # -- the library ------------------------------------------------------------------------
    @abstractmethod
    def _read_counter_j(self) -> float:
        """The energy counter's value in joules (counted from any origin)."""

    @abstractmethod
    def _read_power_w(self) -> float | None:
        """The GPU's power now in watts; None where the library does not give it."""

    @abstractmethod
    def _read_utilisation(self) -> float | None:
        """The GPU's utilisation as a fraction in [0, 1]; None where unknown."""

    @abstractmethod
    def _process_ids(self) -> Iterable[int]:
        """The ids of the processes using the GPU."""

    # -- polling ---------------------------------------------------------------------------
    def poll(self, now: float) -> None:
        """Observe the counter (or integrate power) at ``now``: the fast poller calls this."""
        if self.info.has_counter:
            raw_j = self._read_counter_j()
            step_j = raw_j - self._raw_j
            if step_j < 0:
                step_j = self._counter_went_back(raw_j)
            self._raw_j = raw_j
            if self.timeline.observe(now, self.timeline.last_value_j + step_j):
                self._power_w = self.timeline.recent_power_w() or self._power_w
        else:
            power = self._read_power_w()
            power = self._power_w if power is None else power
            self._integral_j += (self._power_w + power) / 2 * max(now - self._last_now, 0.0)
            self._power_w = power
            self.timeline.observe_exact(now, self._integral_j)
        self._last_now = now

    def _counter_went_back(self, raw_j: float) -> float:
        """The counter read lower than before: the driver restarted it (a reset or reload).
        Counting goes on from the new value (the interval since the last poll counts 0 J) and
        the reset is noted. Returns the energy to count for the interval."""
        problems.note(f"{self.component} meter", CounterWentBackwards(
            f"{self.library} energy counter of GPU {self.info.index} went back from {self._raw_j:.3f} J "
            f"to {raw_j:.3f} J (driver reset?); counting goes on from there"))
        return 0.0

    # -- Meter -----------------------------------------------------------------------------
    def read(self, now: float, load: LoadSample) -> float:
        """The counter's value extrapolated to ``now`` with recent power (provisional)."""
        if self._stuck is not None:
            raise self._stuck
        self.poll(now)
        timeline = self.timeline
        estimate = timeline.last_value_j + self._power_w * max(now - timeline.last_change_t, 0.0)
        self._last_returned_j = max(estimate, self._last_returned_j)
        return self._last_returned_j

    def refresh(self, tree_pids: frozenset[int]) -> None:
        """Slow figures, on sampler ticks only: utilisation, whether the tree uses the GPU, and
        whether the counter is stuck."""
        try:
            self._utilisation = self._read_utilisation()
        except Exception:
            self._utilisation = None
        if tree_pids:
            try:
                self._holds_context = any(pid in tree_pids for pid in self._process_ids())
            except Exception:
                self._holds_context = False
        if self.info.has_counter:
            self._check_stuck()

    def _check_stuck(self) -> None:
        timeline = self.timeline
        still_s = self._last_now - timeline.last_change_t
        if still_s < max(STUCK_MIN_S, STUCK_UPDATES * timeline.update_period_s):
            return
        power_w = self._read_power_w()
        if power_w is not None and power_w >= STUCK_POWER_W:
            self._stuck = CounterStuck(
                f"{self.library} energy counter of GPU {self.info.index} ({self.info.name}) has not changed "
                f"for {still_s:.1f} s while the GPU draws {power_w:.0f} W; integrating its power instead")

    def fallback(self) -> GpuMeter | None:
        """After a stuck counter: the same GPU, its power integrated over time."""
        if self._stuck is None:
            return None
        return self._without_counter(replace(self.info, has_counter=False), self._last_now,
                                     "its energy counter stood still")

    @abstractmethod
    def _without_counter(self, info: GpuInfo, now: float, why: str) -> VendorGpuMeter:
        """A meter of the same GPU through the same library, integrating its power (``info``
        has no counter; ``why`` says so in the method)."""

    def power_w(self) -> float:
        return self._power_w

    def utilisation(self) -> float | None:
        return self._utilisation

    def process_fraction(self, load: LoadSample) -> float:
        return 1.0 if self._holds_context else 0.0

    def settled_energy_j(self, t: float) -> float | None:
        return self.timeline.energy_at(t)
