"""The sampler of one HardwareSpec: its meters' ledger, its thread and its settling.

``read()`` may be called at any instant (a cell boundary) and returns a fresh Reading:
counters are read right then, models integrated up to that instant. The background thread
only keeps counters from wrapping unseen, feeds models with load samples and hands readings
to listeners; it never does blocking I/O (network, file writes) on its loop.

A Sampler puts three parts behind one lock: the ledger keeper (``ledger_keeper``), the
scheduler of its thread (``scheduler``) and the settler of slow counters (``settler``).
After ``os.fork`` the child keeps the ledger and restarts its own threads.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import TYPE_CHECKING, Callable

from ..ledger import Reading
from ..load import LoadProbe
from ..machine import MachineFacts
from ..meters import Discovery, GpuInfo, GpuMeter
from .ledger_keeper import LedgerKeeper
from .scheduler import Lease, Scheduler, Subscription
from .settler import Settler

if TYPE_CHECKING:
    from ..location import IntensitySignal

# Sampler ids are unique in the process (readings of two samplers never make a window).
_ids = itertools.count(1)


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
        self.rapl_available = discovery.rapl_available
        self.guest, self.disks = discovery.guest, discovery.disks  # for the embodied emissions (core.footprint)
        self._lock = threading.RLock()
        self.keeper = LedgerKeeper(self.id, discovery.meters, list(discovery.notes), clock,
                                   probe or LoadProbe(facts.ram_total_bytes))
        self._scheduler = Scheduler(self._lock, self._tick, self.keeper.keep_up, self.keeper.max_interval_s,
                                    self.keeper.set_process_tree)
        self._settler = Settler(self._lock, clock, self.keeper, self._scheduler.watching_gpus)
        # Seconds from asking for this sampler to its first reading (discovery included),
        # when created by a SamplerRegistry.
        self.startup_s: float | None = None
        self.started_wall = time.time()
        # The ledger's origin: every total is zero here, so first_reading..now is the session.
        self.first_reading = self.read(tick=True)
        self._settler.learn()  # the GPU counters' update rhythm, before the first window

    # -- description ----------------------------------------------------------------------
    @property
    def components(self) -> tuple[str, ...]:
        return tuple(self.keeper.slots)

    def non_gpu_components(self) -> tuple[str, ...]:
        """The components not metered by a GPU meter (a tracker adds the GPUs it counts)."""
        return tuple(c for c, s in self.keeper.slots.items() if not isinstance(s.meter, GpuMeter))

    @property
    def notes(self) -> list[str]:
        """What a user should be told once about this machine's meters."""
        return self.keeper.notes

    def methods(self) -> dict[str, str]:
        """How each component is measured, in words."""
        return {c: s.meter.method for c, s in self.keeper.slots.items()}

    def power_now_w(self) -> dict[str, float]:
        """Each component's latest power estimate in watts (``Meter.power_w``)."""
        return {c: s.meter.power_w() for c, s in self.keeper.slots.items()}

    def bands(self) -> dict[str, tuple[float, float]]:
        """The (low, high) ratio band of each modelled component that has one (``Meter.band``)."""
        return dict(self.keeper.band_items)

    @property
    def band_items(self) -> tuple[tuple[str, tuple[float, float]], ...]:
        """``bands()`` as (component, band) pairs: one tuple, the same until a meter is swapped
        (records keep it: one copy for thousands of them)."""
        return self.keeper.band_items

    def exact(self) -> dict[str, bool]:
        return {c: s.meter.exact for c, s in self.keeper.slots.items()}

    @property
    def measured(self) -> frozenset[str]:
        """The components a hardware energy counter measures now (what ``Reading.measured`` carries)."""
        return self.keeper.measured

    @property
    def interval_s(self) -> float:
        """The current background interval: smallest lease, bounded by the meters' needs."""
        return self._scheduler.interval_s

    @property
    def running(self) -> bool:
        return self._scheduler.running

    @property
    def ticks(self) -> int:
        return self._scheduler.ticks

    @property
    def thread_cpu_s(self) -> float:
        """CPU seconds used by the background thread, all its runs together."""
        return self._scheduler.thread_cpu_s

    # -- reading --------------------------------------------------------------------------
    def read(self, tick: bool = False, refresh_tree: bool = False) -> Reading:
        """A fresh Reading now.

        ``tick`` (the sampler thread) also updates the latest power per component and, when
        older than SLOW_REFRESH_S, the slow figures (memory, GPU utilisation and contexts);
        boundary reads reuse them. ``refresh_tree`` re-reads the CPU time of the process
        tree's live children (a /proc scan, for process-mode window boundaries).
        """
        with self._lock:
            return self.keeper.read(tick, refresh_tree)

    def _tick(self) -> Reading:
        """The thread's tick for listeners (lock held); without listeners it only keeps the
        ledger up (``LedgerKeeper.keep_up``)."""
        return self.keeper.read(tick=True, refresh_tree=False)

    def weigh_by(self, signal: IntensitySignal) -> None:
        """Also weigh energy by ``signal.g_per_kwh`` (an intensity.IntensitySignal) from now on.

        Idempotent per ``signal.key``; a new signal object with the same key replaces the old
        one (the location service recreates its feeds after a fork). Readings then carry the
        totals under ``weighed[signal.key]``.
        """
        if self.keeper.weighings.weighs(signal):
            return
        with self._lock:
            self.keeper.weighings.weigh_by(signal)

    # -- leases, listeners and the thread -------------------------------------------------
    def request_interval(self, interval_s: float, process_tree: bool = False, watch_gpus: bool = False) -> Lease:
        """Ask for background samples at least every ``interval_s`` until the lease is released.

        ``watch_gpus``: poll the GPU counters every GPU_POLL_S meanwhile, so their change
        instants are known precisely enough to settle the window's boundaries.
        """
        with self._lock:
            lease = self._scheduler.add_lease(interval_s, process_tree, watch_gpus and self._settler.has_meters)
            if lease.watch_gpus:
                self._settler.ensure_poller()
        return lease

    def subscribe(self, callback: Callable[[Reading], None]) -> Subscription:
        """Call ``callback`` with each tick's Reading on the sampler thread until closed."""
        return self._scheduler.subscribe(callback)

    def stop_if_idle(self, timeout_s: float) -> bool:
        """Let the thread exit now if no lease or listener is left (an extension unloading);
        True if no thread runs afterwards. One still needed by another tracker goes on."""
        return self._scheduler.stop_if_idle(timeout_s)

    def stop(self) -> None:
        """Stop the thread now, whatever leases remain (extension unload, interpreter exit)."""
        self._scheduler.stop()

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
        self._settler.when_settled(readings, callback, timeout_s)

    def after_fork_in_child(self) -> None:
        """Threads do not survive fork: a new lock, the threads restarted for the leases left,
        no listeners (they belong to the parent)."""
        self._lock = threading.RLock()
        self.keeper.after_fork_in_child()
        self._scheduler.after_fork_in_child(self._lock)
        self._settler.after_fork_in_child(self._lock)
