"""Background lanes: every output (and telemetry) runs on a background queue, never on the
cell's thread. ``Lanes`` is the process's set of output lanes (``carbon_magic.runtime`` owns it).

A lane is one queue and one daemon thread. Calls on a lane run in the order they were
queued; a call that raises is counted and logged once (``core.problems``) and the lane
goes on. Lanes exist so that one output that blocks cannot hold up the others: a socket
call cannot be interrupted, so a dead API that answers after its timeout would otherwise
delay every CSV row queued behind it, and at interpreter exit could use up the bounded
wait before those rows are written. There are at most six lanes, each started on first
use and ended after ``IDLE_EXIT_S`` without work:

- ``main`` (``Lanes.main``): the CSV file, the one output whose rows must never be dropped;
- ``ext``: outputs that call third-party code (loggers, Logfire, custom handlers);
- ``api``, ``http``, ``prometheus``: one per network destination kind;
- ``panel``: the live panel's widget updates (the IPython extension), off the sampler thread.

Lanes also keep scheduled calls (retries with backoff are queued for later, never slept
inline), merge a queued call with a newer one that supersedes it (``key``), and may bound
their queue (the oldest queued call is dropped and counted). At interpreter exit every
lane runs its scheduled calls at once and drains, all together, within ``EXIT_WAIT_S``;
then the ``on_exit`` hooks run on their lanes, within half of that again. An idle lane
woken by a call lingers ``LINGER_S`` first, so that calls arriving close together (a loop
of short cells) cost one wake-up of its thread, not one each; a caller that waits for its
calls (``tracker.stop()`` in a script) cuts the linger short.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from typing import Any, Callable, Hashable, cast

from .problems import problems

EXIT_WAIT_S = 5.0
IDLE_EXIT_S = 30.0
LINGER_S = 0.02  # an idle lane woken by a call waits this long, then runs all that came meanwhile
# Calls waiting per lane. A newer out() of a run replaces its queued one, so a network lane
# holds at most this many runs behind a stuck request; more, held for seconds, would cost
# every cell memory traffic (measured: 1000 queued records add ~3 us to a 65 us pair).
NETWORK_QUEUE_LIMIT = 100
EXT_QUEUE_LIMIT = 10_000
PANEL_QUEUE_LIMIT = 64  # a newer update of a panel replaces its queued one


_LINGER = object()


class BacklogDropped(Exception):
    """A queued output call dropped because its lane's queue was full."""


class Ticket:
    """Completion of one queued call: done once its lane has run past it."""

    __slots__ = ("lane", "seq")

    def __init__(self, lane: "OutputWorker", seq: int):
        self.lane = lane
        self.seq = seq

    def is_done(self) -> bool:
        return self.lane.done_seq >= self.seq

    def wait(self, timeout_s: float) -> bool:
        return self.lane.wait_done(self.seq, timeout_s)


class _Entry:
    __slots__ = ("seq", "where", "function", "args", "key")

    def __init__(self, seq: int, where: str, function: Callable[..., Any], args: tuple[Any, ...], key: Hashable | None):
        self.seq = seq
        self.where = where
        self.function = function
        self.args = args
        self.key = key


# A call ready to run: its queue entry (None for a timer's), where, function, args.
_Step = tuple[_Entry | None, str, Callable[..., Any], tuple[Any, ...]]


class OutputWorker:
    """One lane: a queue of calls run in order on one daemon thread (see the module doc)."""

    def __init__(self, name: str, max_queued: int | None = None):
        self.name = name
        self.max_queued = max_queued
        self.calls = 0
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._progress = threading.Condition(self._lock)
        self._queue: deque[_Entry] = deque()
        self._keyed: dict[Hashable, _Entry] = {}
        self._timers: list[tuple[float, int, str, Callable[..., Any], tuple[Any, ...]]] = []
        self._timer_ids = itertools.count()
        self._next_seq = 0
        self._dropped = 0
        self.done_seq = 0
        self._idle = False  # the thread waits for work and must be notified
        self._linger_cut = threading.Event()  # set by a waiter: stop lingering, run the calls now
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- queueing (any thread; cheap, never blocks on an output) --------------------------
    def submit(self, where: str, function: Callable[..., Any], *args: Any, key: Hashable | None = None) -> Ticket:
        """Queue ``function(*args)``. A call with the ``key`` of one still queued replaces
        that one's arguments in place (the newer call supersedes it) and shares its ticket."""
        return Ticket(self, self.enqueue(where, function, args, key))

    def enqueue(self, where: str, function: Callable[..., Any], args: tuple[Any, ...], key: Hashable | None = None) -> int:
        """``submit`` without the Ticket (the Dispatcher's path, kept lean): returns the
        call's number."""
        with self._lock:
            if self._closed:
                return self.done_seq
            if key is not None:
                entry = self._keyed.get(key)
                if entry is not None:
                    entry.where, entry.function, entry.args = where, function, args
                    return entry.seq
                seq = self._next_seq = self._next_seq + 1
                entry = self._keyed[key] = _Entry(seq, where, function, args, key)
            else:
                seq = self._next_seq = self._next_seq + 1
                entry = _Entry(seq, where, function, args, key)
            queue = self._queue
            queue.append(entry)
            if self.max_queued is not None and len(queue) > self.max_queued:
                oldest = queue.popleft()
                if oldest.key is not None:
                    del self._keyed[oldest.key]
                self._dropped += 1
            if self._idle:
                self._work.notify()
            elif self._thread is None:
                self._start_thread()
            return seq

    def submit_after(self, delay_s: float, where: str, function: Callable[..., Any], *args: Any) -> None:
        """Run ``function(*args)`` on this lane in ``delay_s`` seconds (or at exit, sooner)."""
        with self._work:
            if self._closed:
                return
            heapq.heappush(self._timers, (time.monotonic() + delay_s, next(self._timer_ids), where, function, args))
            self._wake()

    def _wake(self) -> None:
        """Get the thread to look at the queue (lock held): notify it if it waits for work,
        start it if there is none; a busy thread finds the new work by itself."""
        if self._idle:
            self._work.notify()
        elif self._thread is None:
            self._start_thread()

    def _start_thread(self) -> None:
        """Start the lane's thread (lock held). Python 3.12 refuses new threads during
        interpreter exit: the work then stays queued for ``run_here`` in the exit flush."""
        thread_name = "carbon_magic-outputs" if self.name == "main" else f"carbon_magic-outputs-{self.name}"
        thread = threading.Thread(target=self._run, name=thread_name, daemon=True)
        try:
            thread.start()
        except RuntimeError:
            return
        self._thread = thread

    # -- running calls ----------------------------------------------------------------------
    def _take(self) -> _Step | None:
        """The next call ready to run, a due timer first (lock held); None if there is none."""
        if self._timers and self._timers[0][0] <= time.monotonic():
            _due, _id, where, function, args = heapq.heappop(self._timers)
            return None, where, function, args
        if self._queue:
            entry = self._queue.popleft()
            if entry.key is not None:
                del self._keyed[entry.key]
            return entry, entry.where, entry.function, entry.args
        return None

    def _next(self) -> _Step | object | None:
        """For the lane's thread: the next call to run; None when idle long enough to stop;
        ``_LINGER`` when work arrived while idle (the thread waits LINGER_S, then asks again,
        so that calls arriving close together run in one go)."""
        idle = False
        with self._work:
            while True:
                if self._closed:
                    self._thread = None
                    return None
                if idle and LINGER_S and (self._queue or (self._timers and self._timers[0][0] <= time.monotonic())):
                    return _LINGER
                step = self._take()
                if step is not None:
                    return step
                timeout = self._timers[0][0] - time.monotonic() if self._timers else IDLE_EXIT_S
                idle = self._idle = True
                woken = self._work.wait(timeout)
                self._idle = False
                if not woken and not self._timers and not self._queue:
                    self._thread = None
                    return None

    def _execute(self, step: _Step) -> None:
        entry, where, function, args = step
        try:
            function(*args)
        except Exception as error:
            problems.note(where, error)
        self.calls += 1
        with self._work:
            dropped, self._dropped = self._dropped, 0
            if entry is not None:
                self.done_seq = entry.seq
                self._progress.notify_all()
        if dropped:
            problems.note(f"output lane {self.name}", BacklogDropped(
                f"queue over {self.max_queued} calls; the oldest queued calls were dropped"), dropped)

    def _run(self) -> None:
        while True:
            step = self._next()
            if step is None:
                return
            if step is _LINGER:
                self._linger_cut.wait(LINGER_S)
                self._linger_cut.clear()
                continue
            self._execute(cast(_Step, step))  # not None, not _LINGER: a call

    def run_here(self, deadline: float) -> None:
        """If the lane has no thread, run its ready calls in the calling thread until none is
        left or ``deadline`` (``time.monotonic()``) passes: the exit flush, where no thread
        can be started."""
        while time.monotonic() < deadline:
            with self._work:
                step = self._take() if self._thread is None else None
            if step is None:
                return
            self._execute(step)

    # -- waiting --------------------------------------------------------------------------
    def wait_done(self, seq: int, timeout_s: float) -> bool:
        self._linger_cut.set()
        with self._progress:
            return self._progress.wait_for(lambda: self.done_seq >= seq or not self._pending(seq), timeout_s)

    def _pending(self, seq: int) -> bool:
        """True while a call numbered ``seq`` or lower is queued or running (lock held)."""
        if self._queue and self._queue[0].seq <= seq:
            return True
        return self.done_seq < seq and self._thread is not None and self._thread.is_alive()

    def idle(self) -> bool:
        """True if every call queued so far has run (nothing queued or running now)."""
        return self.done_seq >= self._next_seq

    def drain(self, timeout_s: float) -> bool:
        """Wait until everything queued so far has run (at most ``timeout_s``)."""
        with self._work:
            seq = self._next_seq
        return self.wait_done(seq, timeout_s)

    def hurry(self) -> None:
        """Make every scheduled call due now (interpreter exit: one last try for retries)."""
        with self._work:
            self._timers = [(0.0, timer_id, where, function, args) for _due, timer_id, where, function, args in self._timers]
            heapq.heapify(self._timers)
            if self._timers:
                self._wake()

    def cancel_scheduled(self) -> int:
        """Forget every scheduled call (a test ending with retries aimed at its closed
        server); returns how many there were."""
        with self._work:
            count, self._timers = len(self._timers), []
            return count

    def close(self) -> None:
        """Forget what is queued and scheduled, take no more calls, and let the thread end
        (at once if idle, else after its running call)."""
        with self._work:
            self._closed = True
            self._queue.clear()
            self._keyed.clear()
            self._timers = []
            self._work.notify_all()
            self._progress.notify_all()
        self._linger_cut.set()

    def after_fork(self) -> None:
        """In a forked child: an empty lane with fresh locks and no thread. What was queued
        in the parent counts as done here (its numbering goes on, so tickets stay valid)."""
        seq = self._next_seq
        self._reset()
        self._next_seq = self.done_seq = seq


_LANE_LIMITS = {"main": None, "ext": EXT_QUEUE_LIMIT, "api": NETWORK_QUEUE_LIMIT, "http": NETWORK_QUEUE_LIMIT,
                "prometheus": NETWORK_QUEUE_LIMIT, "panel": PANEL_QUEUE_LIMIT}


def wait_all(tickets: list[Ticket], timeout_s: float) -> bool:
    """Wait for every ticket, all within ``timeout_s`` in total."""
    deadline = time.monotonic() + timeout_s
    for ticket in tickets:
        if not ticket.wait(max(deadline - time.monotonic(), 0.0)):
            return False
    return True


class Lanes:
    """The process's output lanes and exit hooks (one set per ``carbon_magic.runtime.Runtime``).

    ``main`` exists from the start (the CSV rows); the others are made on first use.
    """

    def __init__(self) -> None:
        self.main = OutputWorker("main")
        self._lanes: dict[str, OutputWorker] = {"main": self.main}
        self._lock = threading.Lock()
        self._exit_hooks: dict[Hashable, tuple[str, Callable[[], None]]] = {}

    def lane(self, name: str) -> OutputWorker:
        """The lane ``name`` (one of main, ext, api, http, prometheus, panel)."""
        found = self._lanes.get(name)
        if found is not None:
            return found
        if name not in _LANE_LIMITS:
            raise ValueError(f"unknown output lane {name!r}; lanes: {', '.join(_LANE_LIMITS)}")
        with self._lock:
            return self._lanes.setdefault(name, OutputWorker(name, _LANE_LIMITS[name]))

    def all(self) -> list[OutputWorker]:
        return list(self._lanes.values())

    def on_exit(self, hook: Callable[[], None], *, lane_name: str = "main", key: Hashable | None = None) -> None:
        """Run ``hook`` on lane ``lane_name`` at interpreter exit, after the lanes are flushed.

        A hook registered again under the same ``key`` is kept once.
        """
        self._exit_hooks.setdefault(key if key is not None else object(), (lane_name, hook))

    def flush_at_exit(self, timeout_s: float = EXIT_WAIT_S) -> bool:
        """Flush every lane then run the exit hooks, bounded; True if all finished in time.

        Lanes whose thread is gone and cannot be restarted (Python 3.12 at exit) are run here,
        in the exiting thread, within the same bounds.
        """
        lanes = self.all()
        deadline = time.monotonic() + timeout_s
        for each in lanes:
            each.hurry()
        for each in lanes:
            each.run_here(deadline)
        drained = wait_all([Ticket(each, each._next_seq) for each in lanes], max(deadline - time.monotonic(), 0.0))
        hooks = list(self._exit_hooks.values())
        self._exit_hooks.clear()
        deadline = time.monotonic() + timeout_s / 2
        tickets = [self.lane(name).submit(f"output exit ({name} lane)", hook) for name, hook in hooks]
        for each in self.all():
            each.run_here(deadline)
        return wait_all(tickets, max(deadline - time.monotonic(), 0.0)) and drained

    def close(self) -> None:
        """Stop using these lanes: forget queued and scheduled calls and exit hooks; each
        thread ends once its running call returns (a closed lane set publishes nothing)."""
        self._exit_hooks.clear()
        for each in self.all():
            each.close()

    def after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        for each in self.all():
            each.after_fork()
