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
from typing import TYPE_CHECKING, Callable, Iterable, Mapping

from types import MappingProxyType

from .ledger import EMPTY, Reading, WeighedEnergy, frozen
from .load import LoadProbe, LoadSample
from .machine import MachineFacts, machine_facts
from .meters import Discovery, GpuInfo, HardwareSpec, Meter, discover
from .problems import problems

if TYPE_CHECKING:
    from .location import IntensitySignal

logger = logging.getLogger("carbon_magic")

IDLE_INTERVAL_S = 15.0
# Slow figures (memory, process tree, GPU utilisation) change slowly and cost ~150 us of
# kernel time to read: refresh them at most this often, whatever the sampling rate.
SLOW_REFRESH_S = 1.0
# GPU polling while a window watches them: deliberately not a divisor of NVML's ~100 ms
# counter period, so successive polls sweep its cycle and pin the change instants.
GPU_POLL_S = 0.0073
# Fast polling right after start-up, to learn each GPU counter's update rhythm.
GPU_LEARN_S = 1.5
# A boundary still unsettled after this long is finalised with what is known (provisional).
SETTLE_TIMEOUT_S = 2.0
# The wall clock moving this much more (or less) than the monotonic clock between two readings
# was set (an NTP step, a user) or the machine slept: durations are monotonic and stay right,
# timestamps follow the wall clock; the jump is noted so that a user can tell why.
CLOCK_JUMP_S = 60.0
_ids = itertools.count(1)
_IDLE_LOAD = LoadSample(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
_NONE: frozenset[str] = frozenset()


class ClockJump(Exception):
    """The wall clock jumped against the monotonic clock (see CLOCK_JUMP_S)."""


@dataclass
class _Slot:
    """A ledger component: its meter and the offset that keeps totals continuous across swaps."""

    meter: Meter
    offset_j: float = 0.0
    total_j: float = 0.0


@dataclass
class _Pending:
    """Readings waiting for their slow counters to settle, and who to tell."""

    readings: tuple[Reading, ...]
    callback: Callable[[tuple[Reading, ...]], None]
    deadline: float


class _Weighing:
    """The running totals of energy weighed by one intensity signal (see ledger.WeighedEnergy)."""

    __slots__ = ("signal", "known_j_g", "known_j", "pending_j")

    def __init__(self, signal: IntensitySignal, components: Iterable[str]):
        self.signal = signal
        self.known_j_g = {c: 0.0 for c in components}
        self.known_j = {c: 0.0 for c in components}
        self.pending_j = {c: 0.0 for c in components}

    def add(self, added_j: dict[str, float]) -> WeighedEnergy:
        value = self.signal.g_per_kwh
        for component, joules in added_j.items():
            if value is None:
                self.pending_j[component] += joules
            else:
                self.known_j_g[component] += joules * value
                self.known_j[component] += joules
        return WeighedEnergy(frozen(self.known_j_g), frozen(self.known_j), frozen(self.pending_j))


class Lease:
    """A request for a sampling interval (and, with ``watch_gpus``, fast GPU polling) while a
    window is open; ``release()`` withdraws it. Idempotent."""

    __slots__ = ("_sampler", "interval_s", "process_tree", "watch_gpus", "released")

    def __init__(self, sampler: "Sampler", interval_s: float, process_tree: bool, watch_gpus: bool):
        self._sampler = sampler
        self.interval_s = interval_s
        self.process_tree = process_tree
        self.watch_gpus = watch_gpus
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


class _WakeSignal:
    """Wakes the sampler thread early; coalesces like ``threading.Event`` set-then-clear.

    A bare lock held while no wake-up is pending: waiting is one ``acquire`` with a timeout,
    about half the CPU of ``Event.wait`` (a Condition, a fresh lock and a deque per call),
    which matters at 10 samples a second.
    """

    def __init__(self) -> None:
        self._pending = threading.Lock()
        self._pending.acquire()

    def wait(self, timeout_s: float) -> None:
        """Sleep until ``set()`` or ``timeout_s``; a wake-up set before this call ends it at once."""
        self._pending.acquire(timeout=timeout_s)  # re-arms itself when a wake-up is taken

    def set(self) -> None:
        try:
            self._pending.release()
        except RuntimeError:  # a wake-up is already pending
            pass


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
        self._measured = self._counted_components()
        self._process_j = {c: 0.0 for c, s in self._slots.items() if s.meter.process_fraction(_IDLE_LOAD) is not None}
        self._gpu_util_s = {c: 0.0 for c in self._slots if c.startswith("gpu:")}
        self._cpu_util_s = self._ram_util_s = self._ram_used_gb_s = 0.0
        self._lock = threading.RLock()
        self._wake = _WakeSignal()
        self._leases: list[Lease] = []
        self._subscriptions: list[Subscription] = []
        self._weighings: dict[str, _Weighing] = {}
        self._thread: threading.Thread | None = None
        self._poller: threading.Thread | None = None
        self._gpu_slots = [slot for slot in self._slots.values() if slot.meter.settles]
        self._pending: list[_Pending] = []
        self._learn_until = -math.inf
        self.ticks = 0
        # CPU seconds used by the background thread, all its runs together (the sampler's
        # own overhead; telemetry reports it over wall time).
        self.thread_cpu_s = 0.0
        # Seconds from asking for this sampler to its first reading (discovery included),
        # when created by get_sampler.
        self.startup_s: float | None = None
        self.started_wall = time.time()
        self._origin = self._clock()
        self._last_now = self._origin
        self._wall_minus_mono = time.time() - self._origin
        self._last_slow_refresh = -float("inf")
        self._power_w: Mapping[str, float] = EMPTY
        self._last_energy: dict[str, float] = {}
        # The ledger's origin: every total is zero here, so first_reading..now is the session.
        self.first_reading = self.read(tick=True)
        if self._gpu_slots:  # learn the GPU counters' update rhythm before the first window
            self._learn_until = self._clock() + GPU_LEARN_S
            self._ensure_poller()

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
    def measured(self) -> frozenset[str]:
        """The components a hardware energy counter measures now (what ``Reading.measured`` carries)."""
        return self._measured

    def _counted_components(self) -> frozenset[str]:
        """The components measured by a hardware energy counter (``Reading.measured``)."""
        return frozenset(c for c, s in self._slots.items() if s.meter.exact)

    @property
    def interval_s(self) -> float:
        """The current background interval: smallest lease, bounded by the meters' needs."""
        with self._lock:
            requested = [lease.interval_s for lease in self._leases] or [IDLE_INTERVAL_S]
            limits = [s.meter.max_interval_s for s in self._slots.values()]
            return max(min(requested + limits), 0.001)

    # -- reading --------------------------------------------------------------------------
    def read(self, tick: bool = False, refresh_tree: bool = False) -> Reading:
        """A fresh Reading now.

        ``tick`` (the sampler thread) also updates the latest power per component and, when
        older than SLOW_REFRESH_S, the slow figures (memory, GPU utilisation and contexts);
        boundary reads reuse them. ``refresh_tree`` re-reads the CPU time of the process
        tree's live children (a /proc scan, for process-mode window boundaries).
        """
        with self._lock:
            if refresh_tree and self._probe.process_tree:
                self._probe.refresh_tree()
            now = self._clock()
            load, energy, weighed = self._advance_ledger(now, tick)
            provisional = _NONE
            for component, slot in self._slots.items():
                if slot.meter.settles and slot.meter.settled_energy_j(now) is None:
                    provisional = provisional | {component}
            t_wall = time.time()
            if abs(t_wall - now - self._wall_minus_mono) > CLOCK_JUMP_S:
                self._clock_jumped(t_wall - now - self._wall_minus_mono)
            self._wall_minus_mono = t_wall - now
            return Reading(
                sampler_id=self.id,
                t_mono=now,
                t_wall=t_wall,
                energy_j=MappingProxyType(energy),
                process_energy_j=frozen(self._process_j) if self._process_j else EMPTY,
                power_w=self._power_w,
                cpu_util_s=self._cpu_util_s,
                gpu_util_s=frozen(self._gpu_util_s) if self._gpu_util_s else EMPTY,
                ram_util_s=self._ram_util_s,
                ram_used_gb_s=self._ram_used_gb_s,
                process_cpu_s=load.process_cpu_s,
                machine_busy_s=load.machine_busy_s,
                provisional=provisional,
                weighed=weighed,
                measured=self._measured,
            )

    def _advance_ledger(
        self, now: float, tick: bool
    ) -> tuple[LoadSample, dict[str, float], Mapping[str, WeighedEnergy]]:
        """Bring every meter, utilisation integral and intensity weighing up to ``now`` (lock
        held); the load sample, the energy totals and the weighed totals. ``tick``: see read()."""
        slow = tick and now - self._last_slow_refresh >= SLOW_REFRESH_S
        if slow:
            self._last_slow_refresh = now
        load = self._sample_load(now, slow)
        energy = {}
        for component, slot in self._slots.items():
            self._advance(component, slot, now, load, slow)
            energy[component] = slot.total_j
        if tick:
            self._power_w = MappingProxyType({c: s.meter.power_w() for c, s in self._slots.items()})
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
        weighed = self._weigh(energy) if self._weighings else EMPTY
        self._last_energy = energy
        return load, energy, weighed

    @staticmethod
    def _clock_jumped(jump_s: float) -> None:
        problems.note("wall clock", ClockJump(
            f"the wall clock moved {jump_s:+.0f} s against the monotonic clock (clock set, or the "
            "machine slept); durations use the monotonic clock, timestamps the wall clock"))

    def _weigh(self, energy: dict[str, float]) -> Mapping[str, WeighedEnergy]:
        """Add the energy used since the last reading to every intensity signal's totals."""
        added = {c: joules - self._last_energy.get(c, joules) for c, joules in energy.items()}
        return frozen({key: weighing.add(added) for key, weighing in self._weighings.items()})

    def weigh_by(self, signal: IntensitySignal) -> None:
        """Also weigh energy by ``signal.g_per_kwh`` (an intensity.IntensitySignal) from now on.

        Idempotent per ``signal.key``; a new signal object with the same key replaces the old
        one (the location service recreates its feeds after a fork). Readings then carry the
        totals under ``weighed[signal.key]``.
        """
        weighing = self._weighings.get(signal.key)
        if weighing is not None and weighing.signal is signal:
            return
        with self._lock:
            weighing = self._weighings.get(signal.key)
            if weighing is None:
                self._weighings = {**self._weighings, signal.key: _Weighing(signal, self._slots)}
            else:
                weighing.signal = signal

    def _sample_load(self, now: float, full: bool) -> LoadSample:
        try:
            return self._probe.sample(now, full)
        except Exception as error:
            problems.note("load probe", error)
            return LoadSample(now, max(now - self._last_now, 0.0), math.nan, 0.0, 0.0, 0.0, 0.0, 0.0)

    def _advance(self, component: str, slot: _Slot, now: float, load: LoadSample, slow: bool) -> None:
        meter = slot.meter
        try:
            if slow and hasattr(meter, "refresh"):
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
        if component in self._process_j:
            self._process_j[component] += added * (meter.process_fraction(load) or 0.0)

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
        self._measured = self._counted_components()
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
    def request_interval(self, interval_s: float, process_tree: bool = False, watch_gpus: bool = False) -> Lease:
        """Ask for background samples at least every ``interval_s`` until the lease is released.

        ``watch_gpus``: poll the GPU counters every GPU_POLL_S meanwhile, so their change
        instants are known precisely enough to settle the window's boundaries.
        """
        lease = Lease(self, float(interval_s), process_tree, watch_gpus and bool(self._gpu_slots))
        with self._lock:
            sooner = lease.interval_s < self.interval_s
            self._leases.append(lease)
            if process_tree and not self._probe.process_tree:
                self._probe.set_process_tree(True)
                self._last_slow_refresh = -float("inf")  # GPU contexts too, at the next tick
            self._ensure_thread()
            if lease.watch_gpus:
                self._ensure_poller()
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
                self._probe.set_process_tree(any(other.process_tree for other in self._leases))

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

    def stop_if_idle(self, timeout_s: float) -> bool:
        """Let the thread exit now if no lease or listener is left (an extension unloading);
        True if no thread runs afterwards. One still needed by another tracker goes on."""
        with self._lock:
            thread = self._thread
            if thread is None or self._wanted():
                return thread is None
        self._wake.set()
        thread.join(timeout=timeout_s)
        return not thread.is_alive()

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
        earlier_runs_cpu_s = self.thread_cpu_s
        interval_s = self.interval_s
        while True:
            self._wake.wait(interval_s)
            with self._lock:
                if not self._wanted():
                    self._thread = None
                    break
                interval_s = self.interval_s
                listeners = [s for s in self._subscriptions if not s.closed]
                try:
                    if listeners:
                        reading = self.read(tick=True)
                    else:  # nobody to hand a Reading to: advance the ledger only (cheaper)
                        self._advance_ledger(self._clock(), tick=True)
                except Exception as error:  # read() guards meters; this is a last resort
                    problems.note("sampler", error)
                    continue
            self.ticks += 1
            for subscription in listeners:
                if subscription.closed:  # closed since
                    continue
                try:
                    subscription.callback(reading)
                except Exception as error:
                    problems.note(f"listener {getattr(subscription.callback, '__qualname__', '?')}", error)
            self.thread_cpu_s = earlier_runs_cpu_s + time.thread_time() - started_cpu

    # -- settling slow counters ------------------------------------------------------------
    def when_settled(
        self, readings: tuple[Reading, ...], callback: Callable[[tuple[Reading, ...]], None],
        timeout_s: float | None = None,
    ) -> None:
        """Call ``callback(settled readings)`` once every slow counter has been seen to change
        after each reading's instant (on the GPU poller thread, within about one counter
        update), or after ``timeout_s`` (default SETTLE_TIMEOUT_S) with what is known then
        (still marked provisional).
        Readings with nothing provisional are passed on at once, on this thread."""
        if not any(r.provisional for r in readings):
            callback(readings)
            return
        with self._lock:
            deadline = self._clock() + (SETTLE_TIMEOUT_S if timeout_s is None else timeout_s)
            self._pending.append(_Pending(readings, callback, deadline))
            self._ensure_poller()

    def _ensure_poller(self) -> None:
        if self._poller is None or not self._poller.is_alive():
            self._poller = threading.Thread(target=self._poll_gpus, name="carbon_magic-gpu-poller", daemon=True)
            self._poller.start()

    def _poll_gpus(self) -> None:
        """Poll GPU counters while a window watches them or a boundary waits to be settled."""
        while True:
            ready: list[tuple[_Pending, tuple[Reading, ...]]] = []
            with self._lock:
                learning = self._clock() < self._learn_until
                if not (learning or self._pending or any(lease.watch_gpus for lease in self._leases)):
                    self._poller = None
                    return
                now = self._clock()
                for slot in self._gpu_slots:
                    try:
                        slot.meter.poll(now)
                    except Exception as error:
                        problems.note(f"{slot.meter.component} poll", error)
                for pending in list(self._pending):
                    settled = tuple(self.settle(r) for r in pending.readings)
                    if now >= pending.deadline or not any(r.provisional for r in settled):
                        self._pending.remove(pending)
                        ready.append((pending, settled))
            for pending, settled in ready:
                try:
                    pending.callback(settled)
                except Exception as error:
                    problems.note("settled-record callback", error)
            time.sleep(GPU_POLL_S)

    def _after_fork_in_child(self) -> None:
        """Threads do not survive fork: new lock, no thread, no listeners (they belong to the parent)."""
        self._lock = threading.RLock()
        self._wake = _WakeSignal()
        self._thread = None
        self._poller = None
        self._subscriptions = []
        self._pending = []
        self._probe.after_fork()
        if self._leases:
            self._ensure_thread()
            if any(lease.watch_gpus for lease in self._leases):
                self._ensure_poller()


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
            asked = time.perf_counter()
            facts = machine_facts()
            sampler = Sampler(discover(spec, facts, time.monotonic()), facts)
            sampler.startup_s = time.perf_counter() - asked
            for note in sampler.notes:
                logger.info("carbon_magic: %s", note)
            _registry[spec] = sampler
    return sampler


def existing_sampler(spec: HardwareSpec | None = None) -> Sampler | None:
    """The sampler for ``spec`` if one was created; never creates one."""
    return _registry.get(spec or HardwareSpec())


def all_samplers() -> list[Sampler]:
    return list(_registry.values())


def shutdown_all() -> None:
    """Stop every sampler thread and forget the samplers (tests, extension unload)."""
    with _registry_lock:
        samplers = list(_registry.values())
        _registry.clear()
    for sampler in samplers:
        sampler.stop()


def after_fork_in_child() -> None:
    """In a forked child (the runtime's fork hook calls this)."""
    global _registry_lock
    _registry_lock = threading.Lock()
    for sampler in _registry.values():
        sampler._after_fork_in_child()
