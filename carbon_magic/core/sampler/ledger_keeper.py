"""The ledger keeper: brings every meter up to an instant and turns the totals into a Reading.

Per component (``cpu``, ``ram``, ``gpu:N``) it keeps the cumulative joules its meter reported
(with an offset that keeps the total continuous when a failing meter is swapped for its
fallback), the process tree's share, and the integrals of utilisation; a meter that raises
is counted in ``core.problems`` and the others go on. Not thread-safe: the sampler calls it
with its lock held.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Callable, Mapping

from ..ledger import EMPTY, Reading, WeighedEnergy, frozen
from ..load import LoadProbe, LoadSample
from ..meters import GpuMeter, Meter
from ..problems import problems
from .wall_clock import WallClock
from .weighing import Weighings

# Slow figures (memory, process tree, GPU utilisation) change slowly and cost ~150 us of
# kernel time to read: refresh them at most this often, whatever the sampling rate.
SLOW_REFRESH_S = 1.0
_IDLE_LOAD = LoadSample(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
_NONE: frozenset[str] = frozenset()


@dataclass
class Slot:
    """A ledger component: its meter and the offset that keeps totals continuous across swaps."""

    meter: Meter
    offset_j: float = 0.0
    total_j: float = 0.0


class LedgerKeeper:
    """The cumulative per-component ledger of one sampler; see the module docstring."""

    def __init__(self, sampler_id: int, meters: list[Meter], notes: list[str], clock: Callable[[], float],
                 probe: LoadProbe):
        self._sampler_id = sampler_id
        self.notes = notes
        self._clock = clock
        self._probe = probe
        self.slots = {m.component: Slot(m) for m in meters}
        self._meters_changed()
        self._process_j = {c: 0.0 for c, s in self.slots.items() if s.meter.process_fraction(_IDLE_LOAD) is not None}
        self._gpu_util_s = {c: 0.0 for c, s in self.slots.items() if isinstance(s.meter, GpuMeter)}
        self._cpu_util_s = self._ram_util_s = self._ram_used_gb_s = 0.0
        self.weighings = Weighings(self.slots)
        self.last_now = self._clock()
        self._wall_clock = WallClock(self.last_now)
        self._last_slow_refresh = -math.inf
        self._power_w: Mapping[str, float] = EMPTY
        self._power_stale = False  # quiet ticks read the meters since _power_w was taken

    def _meters_changed(self) -> None:
        """What the meters declare, kept for every read: the components measured by a hardware
        energy counter (``Reading.measured``); whether every meter is a load model whose tick
        reads may be made later (``keep_up``); the meters that settle (``Reading.provisional``);
        the longest interval between reads they allow (a meter's is fixed when it is made); the
        (component, band) of each modelled one with a band (one tuple shared by every record)."""
        meters = [(c, s.meter) for c, s in self.slots.items()]
        self.measured = frozenset(c for c, meter in meters if meter.exact)
        self._replayable = all(meter.replayable for _, meter in meters)
        self._settling = [(c, meter) for c, meter in meters if meter.settles]
        self._max_interval_s = min((meter.max_interval_s for _, meter in meters), default=math.inf)
        self.band_items = tuple((c, meter.band) for c, meter in meters if meter.band is not None)

    def settling_slots(self) -> list[Slot]:
        """The slots whose meters settle (slow counters: GPUs)."""
        return [slot for slot in self.slots.values() if slot.meter.settles]

    def max_interval_s(self) -> float:
        """The longest interval between reads the meters allow (a counter must not wrap unseen)."""
        return self._max_interval_s

    def set_process_tree(self, enabled: bool) -> None:
        """Attribute to the process tree (children's CPU time, resident memory, GPU contexts)."""
        self._replay()  # the quiet ticks' process CPU time is of the series as it was
        if enabled and not self._probe.process_tree:
            self._last_slow_refresh = -math.inf  # GPU contexts too, at the next tick
        self._probe.set_process_tree(enabled)

    # -- reading --------------------------------------------------------------------------
    def read(self, tick: bool, refresh_tree: bool) -> Reading:
        """A fresh Reading now (see ``Sampler.read``)."""
        if refresh_tree and self._probe.process_tree:
            self._probe.refresh_tree()
        now = self._clock()
        load, energy, weighed = self.advance(now, tick)
        provisional = _NONE
        for component, meter in self._settling:
            if meter.settled_energy_j(now) is None:
                provisional = provisional | {component}
        return Reading(  # positional, in the fields' order (built at every boundary)
            self._sampler_id, now, self._wall_clock.stamp(now), MappingProxyType(energy),
            frozen(self._process_j) if self._process_j else EMPTY, self._power_w, self._cpu_util_s,
            frozen(self._gpu_util_s) if self._gpu_util_s else EMPTY, self._ram_util_s, self._ram_used_gb_s,
            load.process_cpu_s, load.machine_busy_s, provisional, weighed, self.measured,
        )

    def advance(self, now: float, tick: bool) -> tuple[LoadSample, dict[str, float], Mapping[str, WeighedEnergy]]:
        """Bring every meter, utilisation integral and intensity weighing up to ``now``; the
        load sample, the energy totals and the weighed totals. ``tick``: see ``Sampler.read``."""
        self._replay()
        slow = tick and now - self._last_slow_refresh >= SLOW_REFRESH_S
        if slow:
            self._last_slow_refresh = now
            self._refresh_meters()
        if self._power_stale and not tick:  # a boundary after quiet ticks: the power they read
            self._keep_power()
        load = self._sample_load(now, slow)
        self._advance_meters(now, load)
        energy = {component: slot.total_j for component, slot in self.slots.items()}
        if tick:
            self._keep_power()
        self._integrate(load)
        self.last_now = now
        return load, energy, self.weighings.add(energy)

    def keep_up(self) -> None:
        """A tick nobody reads (no listener), ten times a second while idle: as little as can
        be, as the thread's wake-up makes everything run cache-cold.

        When every meter is a load model (``Meter.replayable``) the tick only notes the load
        counters (``LoadProbe.mark``); the next full advance (a reading, or this at least every
        SLOW_REFRESH_S) makes those reads in order with the same arguments, so the ledger is
        the same as if they had been made at each tick. Otherwise the meters and utilisation
        integrals are brought up to ``now``. Either way the slow figures, the intensity
        weighing and the latest power wait for the next full advance (the power is then taken
        as of the last tick's reads: ``_power_stale``).
        """
        now = self._clock()
        if now - self._last_slow_refresh >= SLOW_REFRESH_S:
            self.advance(now, tick=True)
            return
        if self._replayable:
            try:
                self._probe.mark(now)
            except Exception as error:  # the next sample spans this instant: nothing is lost
                problems.note("load probe", error)
        else:
            self._add_interval(self._sample_load(now, False))
        self._power_stale = True

    def _replay(self) -> None:
        """The reads of the quiet ticks noted since the last advance (see ``keep_up``)."""
        for load in self._probe.marked():
            self._add_interval(load)

    def _add_interval(self, load: LoadSample) -> None:
        """Every meter and utilisation integral up to ``load.now``; no Reading."""
        self._advance_meters(load.now, load)
        self._integrate(load)
        self.last_now = load.now

    def _keep_power(self) -> None:
        """The meters' latest power, as of their last read on a tick (``Reading.power_w``)."""
        self._power_w = MappingProxyType({c: s.meter.power_w() for c, s in self.slots.items()})
        self._power_stale = False

    def _integrate(self, load: LoadSample) -> None:
        """Add the interval of ``load`` to the utilisation integrals."""
        dt = load.dt_s
        if not math.isnan(load.cpu_load):
            self._cpu_util_s += load.cpu_load * dt
        self._ram_util_s += load.ram_util * dt
        self._ram_used_gb_s += load.ram_used_gb * dt
        for component in self._gpu_util_s:
            utilisation = self.slots[component].meter.utilisation()
            if utilisation is not None:
                self._gpu_util_s[component] += utilisation * dt

    def _sample_load(self, now: float, full: bool) -> LoadSample:
        try:
            return self._probe.sample(now, full)
        except Exception as error:
            problems.note("load probe", error)
            return LoadSample(now, max(now - self.last_now, 0.0), math.nan, 0.0, 0.0, 0.0, 0.0, 0.0)

    def _refresh_meters(self) -> None:
        """The slow figures of the meters that have them (see ``Meter.refreshes``)."""
        refreshing = [(c, s.meter) for c, s in self.slots.items() if s.meter.refreshes]
        if not refreshing:
            return
        tree_pids = self._tree_pids() if self._probe.process_tree else frozenset()
        for component, meter in refreshing:
            try:
                meter.refresh(tree_pids)
            except Exception as error:
                problems.note(f"{component} meter", error)

    def _advance_meters(self, now: float, load: LoadSample) -> None:
        """Every meter up to ``now`` over ``load``'s interval (one loop: run at every boundary)."""
        process_j = self._process_j
        for component, slot in self.slots.items():
            meter = slot.meter
            try:
                total = slot.offset_j + meter.read(now, load)
            except Exception as error:
                problems.note(f"{component} meter", error)
                self._swap_to_fallback(component, slot, now, load)
                continue
            added = total - slot.total_j
            if added < 0:  # a meter must never run backwards; keep the ledger monotonic
                added = 0.0
                total = slot.total_j
            slot.total_j = total
            if component in process_j:
                process_j[component] += added * (meter.process_fraction(load) or 0.0)

    def _swap_to_fallback(self, component: str, slot: Slot, now: float, load: LoadSample) -> None:
        try:
            replacement = slot.meter.fallback()
        except Exception as error:
            problems.note(f"{component} fallback", error)
            return
        if replacement is None:
            return
        self.notes.append(f"{component}: switched to {replacement.method}")
        slot.meter = replacement
        slot.offset_j = slot.total_j
        self._meters_changed()
        replacement.read(now, replace(load, dt_s=0.0))

    @staticmethod
    def _tree_pids() -> frozenset[int]:
        try:
            import psutil

            me = psutil.Process()
            return frozenset([me.pid, *(c.pid for c in me.children(recursive=True))])
        except Exception:
            return frozenset([os.getpid()])

    def settle(self, reading: Reading) -> Reading:
        """The same reading with slow-counter components made final where now possible."""
        if not reading.provisional:
            return reading
        energy = dict(reading.energy_j)
        still = []
        for component in reading.provisional:
            slot = self.slots[component]
            value = slot.meter.settled_energy_j(reading.t_mono)
            if value is None:
                still.append(component)
            else:
                energy[component] = slot.offset_j + value
        return replace(reading, energy_j=frozen(energy), provisional=frozenset(still))

    def after_fork_in_child(self) -> None:
        self._probe.after_fork()
