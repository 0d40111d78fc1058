"""The process-wide sampler: owns the meters, keeps the cumulative ledger, serves readings.

``read()`` may be called at any instant (a cell boundary) and returns a fresh Reading:
counters are read right then, models integrated up to that instant. The background thread
only keeps counters from wrapping unseen, feeds models with load samples and hands readings
to listeners; it never does blocking I/O (network, file writes) on its loop.

One sampler per distinct HardwareSpec (normally one per process), created lazily by
``get_sampler``. The thread starts with the first interval lease or listener and stops when
none is left. After ``os.fork`` the child keeps the ledger and restarts its own thread.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable

from .ledger import Reading, frozen
from .load import LoadProbe, LoadSample
from .machine import MachineFacts, machine_facts
from .meters import Discovery, GpuInfo, HardwareSpec, Meter, discover
from .problems import problems

logger = logging.getLogger("carbon_magic")

IDLE_INTERVAL_S = 15.0
_ids = itertools.count(1)


@dataclass
class _Slot:
    """A ledger component: its meter and the offset that keeps totals continuous across swaps."""

    meter: Meter
    offset_j: float = 0.0
    total_j: float = 0.0


class Lease:
    """A request for a sampling interval; ``release()`` withdraws it. Idempotent."""

    __slots__ = ("_sampler", "interval_s", "process_tree", "released")

    def __init__(self, sampler: "Sampler", interval_s: float, process_tree: bool):
        self._sampler = sampler
        self.interval_s = interval_s
        self.process_tree = process_tree
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._sampler._drop_lease(self)


class Subscription:
    """A listener called with each tick's Reading on the sampler thread; ``close()`` ends it."""

    __slots__ = ("_sampler", "callback", "closed")

    def __init__(self, sampler: "Sampler", callback: Callable[[Reading], None]):
        self._sampler = sampler
        self.callback = callback
        self.closed = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._sampler._drop_subscription(self)


class Sampler:
    """Cumulative per-component ledger fed by meters; see the module docstring."""

    def __init__(
        self,
        discovery: Discovery,
        facts: MachineFacts,
        clock: Callable[[], float] = time.monotonic,
        probe: LoadProbe | None = None,
    ):
        self.id = next(_ids)
        self.facts = facts
        self.gpus: list[GpuInfo] = discovery.gpus
        self.notes: list[str] = list(discovery.notes)
        self.rapl_available = discovery.rapl_available
        self._clock = clock
        self._probe = probe or LoadProbe(facts.ram_total_bytes)
        self._slots = {m.component: _Slot(m) for m in discovery.meters}
        self._process_j = {c: 0.0 for c in self._slots}
        self._gpu_util_s = {c: 0.0 for c in self._slots if c.startswith("gpu:")}
        self._cpu_util_s = self._ram_util_s = self._ram_used_gb_s = 0.0
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._leases: list[Lease] = []
        self._subscriptions: list[Subscription] = []
        self._thread: threading.Thread | None = None
        self.ticks = 0
        self.thread_cpu_s = 0.0
        self.started_wall = time.time()
        self._origin = self._clock()
        self._last_now = self._origin
        self.read(full=True)

    # -- description ----------------------------------------------------------------------
    @property
    def components(self) -> tuple[str, ...]:
        return tuple(self._slots)

    def methods(self) -> dict[str, str]:
        """How each component is measured, in words."""
        return {c: s.meter.method for c, s in self._slots.items()}

    def exact(self) -> dict[str, bool]:
        return {c: s.meter.exact for c, s in self._slots.items()}

    @property
    def interval_s(self) -> float:
        """The current background interval: smallest lease, bounded by the meters' needs."""
        with self._lock:
            requested = [lease.interval_s for lease in self._leases] or [IDLE_INTERVAL_S]
            limits = [s.meter.max_interval_s for s in self._slots.values()]
            return max(min(requested + limits), 0.001)

    # -- reading --------------------------------------------------------------------------
    def read(self, full: bool = False) -> Reading:
        """A fresh Reading now. ``full`` also refreshes slow figures (memory, GPU utilisation)."""
        with self._lock:
            now = self._clock()
            load = self._sample_load(now, full)
            energy, power, provisional = {}, {}, []
            for component, slot in self._slots.items():
                self._advance(component, slot, now, load, full)
                energy[component] = slot.total_j
                power[component] = slot.meter.power_w()
                if slot.meter.settles and slot.meter.settled_energy_j(now) is None:
                    provisional.append(component)
            dt = load.dt_s
            if not math.isnan(load.cpu_load):
                self._cpu_util_s += load.cpu_load * dt
            self._ram_util_s += load.ram_util * dt
            self._ram_used_gb_s += load.ram_used_gb * dt
            for component in self._gpu_util_s:
                utilisation = self._slots[component].meter.utilisation()
                if utilisation is not None:
                    self._gpu_util_s[component] += utilisation * dt
            self._last_now = now
            return Reading(
                sampler_id=self.id,
                t_mono=now,
                t_wall=time.time(),
                energy_j=frozen(energy),
                process_energy_j=frozen(self._process_j),
                power_w=frozen(power),
                cpu_util_s=self._cpu_util_s,
                gpu_util_s=frozen(self._gpu_util_s),
                ram_util_s=self._ram_util_s,
                ram_used_gb_s=self._ram_used_gb_s,
                process_cpu_s=load.process_cpu_s,
                provisional=frozenset(provisional),
            )

    def _sample_load(self, now: float, full: bool) -> LoadSample:
        try:
            return self._probe.sample(now, full)
        except Exception as error:
            problems.note("load probe", error)
            return LoadSample(now, max(now - self._last_now, 0.0), math.nan, 1.0, 0.0, 0.0, 0.0, 0.0)

    def _advance(self, component: str, slot: _Slot, now: float, load: LoadSample, full: bool) -> None:
        meter = slot.meter
        try:
            if full and hasattr(meter, "refresh"):
                meter.refresh(self._tree_pids() if self._probe.process_tree else frozenset())
            total = slot.offset_j + meter.read(now, load)
        except Exception as error:
            problems.note(f"{component} meter", error)
            self._swap_to_fallback(component, slot, now, load)
            return
        added = total - slot.total_j
        if added < 0:  # a meter must never run backwards; keep the ledger monotonic
            added = 0.0
            total = slot.total_j
        slot.total_j = total
        self._process_j[component] += added * meter.process_fraction(load)

    def _swap_to_fallback(self, component: str, slot: _Slot, now: float, load: LoadSample) -> None:
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
        replacement.read(now, replace(load, dt_s=0.0))

    def _tree_pids(self) -> frozenset[int]:
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
        with self._lock:
            energy = dict(reading.energy_j)
            still = []
            for component in reading.provisional:
                slot = self._slots[component]
                value = slot.meter.settled_energy_j(reading.t_mono)
                if value is None:
                    still.append(component)
                else:
                    energy[component] = slot.offset_j + value
            return replace(reading, energy_j=frozen(energy), provisional=frozenset(still))

    # -- leases, listeners and the thread -------------------------------------------------
    def request_interval(self, interval_s: float, process_tree: bool = False) -> Lease:
        """Ask for background samples at least every ``interval_s`` until the lease is released."""
        lease = Lease(self, float(interval_s), process_tree)
        with self._lock:
            sooner = lease.interval_s < self.interval_s
            self._leases.append(lease)
            if process_tree and not self._probe.process_tree:
                self._probe.process_tree = True
                self._probe.sample(self._clock(), full=True)
            self._ensure_thread()
        if sooner:
            self._wake.set()
        return lease

    def subscribe(self, callback: Callable[[Reading], None]) -> Subscription:
        subscription = Subscription(self, callback)
        with self._lock:
            self._subscriptions.append(subscription)
            self._ensure_thread()
        return subscription

    def _drop_lease(self, lease: Lease) -> None:
        # No wake-up: the interval can only grow, and a thread left without work exits at its
        # next tick, so short windows in a row do not start and stop a thread each time.
        with self._lock:
            if lease in self._leases:
                self._leases.remove(lease)
            if lease.process_tree:
                self._probe.process_tree = any(other.process_tree for other in self._leases)

    def _drop_subscription(self, subscription: Subscription) -> None:
        # No wake-up either (as for leases): waking made the thread take a full reading at
        # every stop() of a tracker with live outputs; a thread left without work exits at its
        # next tick.
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def _wanted(self) -> bool:
        return bool(self._leases or self._subscriptions)

    def _ensure_thread(self) -> None:
        if self._wanted() and not self.running:
            self._thread = threading.Thread(target=self._run, name="carbon_magic-sampler", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread now, whatever leases remain (extension unload, interpreter exit)."""
        with self._lock:
            self._leases.clear()
            self._subscriptions.clear()
            thread = self._thread
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)

    def _run(self) -> None:
        started_cpu = time.thread_time()
        while True:
            with self._lock:
                if not self._wanted():
                    self._thread = None
                    break
            self._wake.wait(self.interval_s)
            self._wake.clear()
            with self._lock:
                if not self._wanted():
                    self._thread = None
                    break
            try:
                reading = self.read(full=True)
            except Exception as error:  # read() guards meters; this is a last resort
                problems.note("sampler", error)
                continue
            self.ticks += 1
            for subscription in list(self._subscriptions):
                if subscription.closed:
                    continue
                try:
                    subscription.callback(reading)
                except Exception as error:
                    problems.note(f"listener {getattr(subscription.callback, '__qualname__', '?')}", error)
            self.thread_cpu_s = time.thread_time() - started_cpu

    def _after_fork_in_child(self) -> None:
        """Threads do not survive fork: new lock, no thread, no listeners (they belong to the parent)."""
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._thread = None
        self._subscriptions = []
        self._probe.after_fork()
        if self._leases:
            self._ensure_thread()


# -- the process-wide registry ----------------------------------------------------------------

_registry: dict[HardwareSpec, Sampler] = {}
_registry_lock = threading.Lock()


def get_sampler(spec: HardwareSpec | None = None) -> Sampler:
    """The shared sampler for ``spec`` (created on first use)."""
    spec = spec or HardwareSpec()
    sampler = _registry.get(spec)
    if sampler is not None:
        return sampler
    with _registry_lock:
        sampler = _registry.get(spec)
        if sampler is None:
            facts = machine_facts()
            sampler = Sampler(discover(spec, facts, time.monotonic()), facts)
            for note in sampler.notes:
                logger.info("carbon_magic: %s", note)
            _registry[spec] = sampler
    return sampler


def all_samplers() -> list[Sampler]:
    return list(_registry.values())


def shutdown_all() -> None:
    """Stop every sampler thread and forget the samplers (tests, extension unload)."""
    with _registry_lock:
        samplers = list(_registry.values())
        _registry.clear()
    for sampler in samplers:
        sampler.stop()


def _reset_after_fork() -> None:
    global _registry_lock
    _registry_lock = threading.Lock()
    problems.after_fork()
    for sampler in _registry.values():
        sampler._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
