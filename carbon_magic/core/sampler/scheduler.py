"""The sampler's background thread: leases, listeners and ticks.

The thread starts with the first interval lease or listener and exits at its next tick once
none is left, so short windows in a row do not start and stop a thread each time. Each tick
advances the ledger (keeping counters from wrapping unseen and models fed) and hands the
Reading to the listeners; it never does blocking I/O.
"""

from __future__ import annotations

import functools
import threading
import time
from typing import TYPE_CHECKING, Callable

from ..problems import problems

if TYPE_CHECKING:
    from ..ledger import Reading

IDLE_INTERVAL_S = 15.0


class Lease:
    """A request for a sampling interval (and, with ``watch_gpus``, fast GPU polling) while a
    window is open; ``release()`` withdraws it. Idempotent."""

    __slots__ = ("_scheduler", "interval_s", "process_tree", "watch_gpus", "released")

    def __init__(self, scheduler: Scheduler, interval_s: float, process_tree: bool, watch_gpus: bool):
        self._scheduler = scheduler
        self.interval_s = interval_s
        self.process_tree = process_tree
        self.watch_gpus = watch_gpus
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._scheduler.drop_lease(self)


class Subscription:
    """A listener called with each tick's Reading on the sampler thread; ``close()`` ends it."""

    __slots__ = ("_scheduler", "callback", "closed")

    def __init__(self, scheduler: Scheduler, callback: Callable[[Reading], None]):
        self._scheduler = scheduler
        self.callback = callback
        self.closed = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._scheduler.drop_subscription(self)


class WakeSignal:
    """Wakes the sampler thread early; coalesces like ``threading.Event`` set-then-clear.

    ``wait(timeout_s)`` sleeps until ``set()`` or ``timeout_s``; a wake-up set before it ends
    it at once. A bare lock held while no wake-up is pending: waiting is one ``acquire`` with
    a timeout, about half the CPU of ``Event.wait`` (a Condition, a fresh lock and a deque per
    call), which matters at 10 samples a second.
    """

    def __init__(self) -> None:
        self._pending = threading.Lock()
        self._pending.acquire()
        # The lock's own acquire, with no Python frame around it: run cold on every tick, a
        # frame costs microseconds. Taking a wake-up re-arms the lock.
        self.wait: Callable[[float], bool] = functools.partial(self._pending.acquire, True)

    def set(self) -> None:
        try:
            self._pending.release()
        except RuntimeError:  # a wake-up is already pending
            pass


class Scheduler:
    """Runs the background thread while a lease or listener wants it, at the smallest interval
    asked for (bounded by ``meter_limit_s()``, the meters' own need).

    Under ``lock``, a tick is ``tick()``, which advances the ledger and returns the Reading the
    listeners wait for, or without listeners ``keep_up()``, which only keeps the ledger up
    (cheaper than a Reading). ``set_process_tree`` is told whether any lease still attributes
    to the process tree.
    """

    def __init__(self, lock: threading.RLock, tick: Callable[[], Reading], keep_up: Callable[[], None],
                 meter_limit_s: Callable[[], float], set_process_tree: Callable[[bool], None]):
        self._lock = lock
        self._tick = tick
        self._keep_up = keep_up
        self._meter_limit_s = meter_limit_s
        self._set_process_tree = set_process_tree
        self._wake = WakeSignal()
        self._leases: list[Lease] = []
        self._subscriptions: list[Subscription] = []
        # Leases or listeners changed since the thread last looked: it recomputes its interval
        # and listeners only then (run cold ten times a second, that costs more than the tick).
        # A meter swapped for its fallback (a model) only relaxes the meters' limit.
        self._changed = True
        self._thread: threading.Thread | None = None
        self.ticks = 0
        # CPU seconds used by the background thread, all its runs together (the sampler's
        # own overhead; telemetry reports it over wall time).
        self.thread_cpu_s = 0.0

    @property
    def interval_s(self) -> float:
        """The current background interval: smallest lease, bounded by the meters' needs."""
        with self._lock:
            requested = min([lease.interval_s for lease in self._leases] or [IDLE_INTERVAL_S])
            return max(min(requested, self._meter_limit_s()), 0.001)

    def watching_gpus(self) -> bool:
        """Whether a lease asks for fast GPU polling (lock held)."""
        return any(lease.watch_gpus for lease in self._leases)

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    # -- leases and listeners -------------------------------------------------------------
    def add_lease(self, interval_s: float, process_tree: bool, watch_gpus: bool) -> Lease:
        """A lease for ``interval_s`` (lock held); the thread is started or woken for it."""
        lease = Lease(self, float(interval_s), process_tree, watch_gpus)
        sooner = lease.interval_s < self.interval_s
        self._leases.append(lease)
        self._changed = True
        if process_tree:
            self._set_process_tree(True)
        self._ensure_thread()
        if sooner:
            self._wake.set()
        return lease

    def subscribe(self, callback: Callable[[Reading], None]) -> Subscription:
        subscription = Subscription(self, callback)
        with self._lock:
            self._subscriptions.append(subscription)
            self._changed = True
            self._ensure_thread()
        return subscription

    def drop_lease(self, lease: Lease) -> None:
        # No wake-up: the interval can only grow, and a thread left without work exits at its
        # next tick, so short windows in a row do not start and stop a thread each time.
        with self._lock:
            if lease in self._leases:
                self._leases.remove(lease)
                self._changed = True
            if lease.process_tree:
                self._set_process_tree(any(other.process_tree for other in self._leases))

    def drop_subscription(self, subscription: Subscription) -> None:
        # No wake-up either (as for leases): waking made the thread take a full reading at
        # every stop() of a tracker with live outputs; a thread left without work exits at its
        # next tick.
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)
                self._changed = True

    # -- the thread -----------------------------------------------------------------------
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
            self._changed = True
            thread = self._thread
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)

    def _run(self) -> None:
        started_cpu = time.thread_time()
        earlier_runs_cpu_s = self.thread_cpu_s
        interval_s = self.interval_s
        listeners: list[Subscription] = []
        self._changed = True  # this thread has not looked yet
        while True:
            self._wake.wait(interval_s)
            with self._lock:
                if self._changed:
                    if not self._wanted():
                        self._thread = None
                        break
                    self._changed = False
                    interval_s = self.interval_s
                    listeners = [s for s in self._subscriptions if not s.closed]
                try:
                    if listeners:
                        reading = self._tick()
                    else:
                        self._keep_up()
                except Exception as error:  # the ledger guards meters; this is a last resort
                    problems.note("sampler", error)
                    continue
            self.ticks += 1
            if listeners:
                self._hand_out(reading, listeners)
            self.thread_cpu_s = earlier_runs_cpu_s + time.thread_time() - started_cpu

    @staticmethod
    def _hand_out(reading: Reading, listeners: list[Subscription]) -> None:
        for subscription in listeners:
            if subscription.closed:  # closed since
                continue
            try:
                subscription.callback(reading)
            except Exception as error:
                problems.note(f"listener {getattr(subscription.callback, '__qualname__', '?')}", error)

    def after_fork_in_child(self, lock: threading.RLock) -> None:
        """Threads do not survive fork: the new lock, no thread, no listeners (they belong to
        the parent); the leases' thread is restarted."""
        self._lock = lock
        self._wake = WakeSignal()
        self._thread = None
        self._subscriptions = []
        self._changed = True
        if self._leases:
            self._ensure_thread()
