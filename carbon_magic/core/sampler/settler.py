"""Settling slow counters: GPU energy known exactly only after the counter's next update.

NVML's energy counter changes only every ~100 ms, so a reading at a window boundary is
provisional (last counter value + recent power x elapsed time). The settler polls the
meters that settle on a fast thread while a window watches them or a boundary waits, and
hands the readings on once every slow counter has been seen to change after each reading's
instant (within about one counter update), or after a timeout with what is known then.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from ..problems import problems

if TYPE_CHECKING:
    from ..ledger import Reading
    from .ledger_keeper import LedgerKeeper

# GPU polling while a window watches them: deliberately not a divisor of NVML's ~100 ms
# counter period, so successive polls sweep its cycle and pin the change instants.
GPU_POLL_S = 0.0073
# Fast polling right after start-up, to learn each GPU counter's update rhythm.
GPU_LEARN_S = 1.5
# A boundary still unsettled after this long is finalised with what is known (provisional).
SETTLE_TIMEOUT_S = 2.0


@dataclass
class _Pending:
    """Readings waiting for their slow counters to settle, and who to tell."""

    readings: tuple[Reading, ...]
    callback: Callable[[tuple[Reading, ...]], None]
    deadline: float


class Settler:
    """Settles one sampler's provisional readings; see the module docstring.

    ``watching()`` (asked with ``lock`` held) says whether a window wants fast GPU polling.
    """

    def __init__(self, lock: threading.RLock, clock: Callable[[], float], keeper: LedgerKeeper,
                 watching: Callable[[], bool]):
        self._lock = lock
        self._clock = clock
        self._keeper = keeper
        self._watching = watching
        self._slots = keeper.settling_slots()
        self._pending: list[_Pending] = []
        self._poller: threading.Thread | None = None
        self._learn_until = -math.inf

    @property
    def has_meters(self) -> bool:
        """Whether any meter settles (there is something to poll)."""
        return bool(self._slots)

    def learn(self) -> None:
        """Poll for GPU_LEARN_S from now to learn the counters' update rhythm (before the
        first window)."""
        if self._slots:
            self._learn_until = self._clock() + GPU_LEARN_S
            self.ensure_poller()

    def when_settled(
        self, readings: tuple[Reading, ...], callback: Callable[[tuple[Reading, ...]], None],
        timeout_s: float | None = None,
    ) -> None:
        """See ``Sampler.when_settled``."""
        if not any(r.provisional for r in readings):
            callback(readings)
            return
        with self._lock:
            deadline = self._clock() + (SETTLE_TIMEOUT_S if timeout_s is None else timeout_s)
            self._pending.append(_Pending(readings, callback, deadline))
            self.ensure_poller()

    def ensure_poller(self) -> None:
        if self._poller is None or not self._poller.is_alive():
            self._poller = threading.Thread(target=self._poll, name="carbon_magic-gpu-poller", daemon=True)
            self._poller.start()

    def _poll(self) -> None:
        """Poll the counters while a window watches them or a boundary waits to be settled."""
        while True:
            ready: list[tuple[_Pending, tuple[Reading, ...]]] = []
            with self._lock:
                learning = self._clock() < self._learn_until
                if not (learning or self._pending or self._watching()):
                    self._poller = None
                    return
                now = self._clock()
                for slot in self._slots:
                    try:
                        slot.meter.poll(now)
                    except Exception as error:
                        problems.note(f"{slot.meter.component} poll", error)
                for pending in list(self._pending):
                    settled = tuple(self._keeper.settle(r) for r in pending.readings)
                    if now >= pending.deadline or not any(r.provisional for r in settled):
                        self._pending.remove(pending)
                        ready.append((pending, settled))
            for pending, settled in ready:
                try:
                    pending.callback(settled)
                except Exception as error:
                    problems.note("settled-record callback", error)
            time.sleep(GPU_POLL_S)

    def after_fork_in_child(self, lock: threading.RLock) -> None:
        """Threads do not survive fork: the new lock, no poller, no pending callbacks (they
        belong to the parent); the poller restarts if a window still watches the GPUs."""
        self._lock = lock
        self._poller = None
        self._pending = []
        if self._watching():
            self.ensure_poller()
