"""Machine and process load, read cheaply enough to run at every cell boundary.

A boundary read costs one ``pread`` of ``/proc/stat`` and a ``process_time()`` call; within
one clock tick of the previous read (10 ms, the resolution of /proc/stat's counters) the
``pread`` is skipped, as its counters could not have told anything more. The
expensive parts (the process tree's children, memory) are refreshed only on the sampler
thread's ticks and reused at boundaries.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Callable

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_TICK_S = 1.0 / _CLOCK_TICKS


@dataclass(slots=True)
class LoadSample:
    """Load over the interval since the previous sample, plus cumulative and slow figures.

    ``cpu_load`` is the machine's CPU busy time / total CPU time over that interval, in [0, 1]
    (NaN if it could not be measured). ``machine_busy_s`` and ``process_cpu_s`` are cumulative
    CPU seconds (whole machine; this process tree): in ``tracking_mode="process"`` a window's
    CPU share is the ratio of their deltas. ``rss_share``, ``ram_*`` are the latest slow figures.
    Transient and internal, hence not frozen (cheaper to build at every boundary).
    """

    now: float
    dt_s: float
    cpu_load: float
    machine_busy_s: float
    process_cpu_s: float
    rss_share: float
    ram_used_gb: float
    ram_util: float


def read_small(path: str, size: int = 4096) -> bytes:
    """The first ``size`` bytes of a small (kernel) file: no buffering, no decoding."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, size)
    finally:
        os.close(fd)


class _ProcStat:
    """Machine CPU busy/total ticks from the first line of /proc/stat (psutil elsewhere)."""

    def __init__(self) -> None:
        self._fd = self._open()

    @staticmethod
    def _open() -> int | None:
        try:
            return os.open("/proc/stat", os.O_RDONLY)
        except OSError:
            return None

    def busy_total(self) -> tuple[float, float]:
        parsed = self.parse(self.snapshot())
        return parsed if parsed is not None else self._psutil_busy_total()

    def snapshot(self) -> bytes | tuple[float, float]:
        """The counters now, at the least cost: the head of /proc/stat as read (``parse``
        makes it a pair, later if need be), or psutil's (busy, total) pair."""
        if self._fd is not None:
            try:  # /proc is Linux's, which has pread: one C call, no read_at frame per tick
                return os.pread(self._fd, 256, 0)
            except OSError:
                self._fd = None
        return self._psutil_busy_total()

    def parse(self, snapshot: bytes | tuple[float, float] | None) -> tuple[float, float] | None:
        """(busy, total) ticks of a ``snapshot``; None for None, or for a /proc/stat head not in
        the known format (psutil is used from then on)."""
        if not isinstance(snapshot, bytes):
            return snapshot
        try:
            # cpu user nice system idle iowait irq softirq steal guest guest_nice: the first
            # line is at most ~220 bytes; split() stops after steal.
            user, nice, system, idle, iowait, irq, softirq, steal = map(int, snapshot.split(None, 9)[1:9])
        except ValueError:
            self._fd = None
            return None
        busy = user + nice + system + irq + softirq + steal
        return busy, busy + idle + iowait

    @staticmethod
    def _psutil_busy_total() -> tuple[float, float]:
        import psutil

        times = psutil.cpu_times()
        idle_s = times.idle + getattr(times, "iowait", 0.0)
        total_s = math.fsum(times)
        return (total_s - idle_s) * _CLOCK_TICKS, total_s * _CLOCK_TICKS

    def reopen_after_fork(self) -> None:
        """The descriptor is shared with the parent after fork: use our own."""
        self._fd = self._open()


def memory_bytes() -> tuple[int, int]:
    """(total, available) bytes of machine memory: ``/proc/meminfo``, else psutil."""
    try:
        info = read_small("/proc/meminfo").split(b"\n")
        values = {}
        for line in info:
            key, _, rest = line.partition(b":")
            if key in (b"MemTotal", b"MemAvailable"):
                values[key] = int(rest.split()[0]) * 1024
            if len(values) == 2:
                break
        return values[b"MemTotal"], values[b"MemAvailable"]
    except (OSError, KeyError, ValueError, IndexError):
        import psutil

        memory = psutil.virtual_memory()
        return memory.total, memory.available


def read_memory() -> tuple[float, float]:
    """(used GB, used fraction) of machine memory."""
    total, available = memory_bytes()
    used = max(total - available, 0)
    return used / 1e9, (used / total if total else 0.0)


class LoadProbe:
    """Produces a LoadSample per ``sample`` call (``full`` refreshes the slow figures too), or
    notes an instant's counters (``mark``) to make its LoadSample later (``marked``)."""

    def __init__(self, total_ram_bytes: int, stat: _ProcStat | None = None):
        self._stat = stat or _ProcStat()
        self._total_ram_bytes = max(total_ram_bytes, 1)
        self._cpu_count = os.cpu_count() or 1
        self.process_tree = False
        self._last_now = time.monotonic()
        self._last_busy, self._last_total = self._stat.busy_total()
        self._last_stat_now = self._last_now
        # Instants noted by mark(): (monotonic time, counters snapshot or None, process CPU seconds).
        self._marks: list[tuple[float, bytes | tuple[float, float] | None, float]] = []
        self._children_cpu_s = 0.0
        # CPU seconds of this process, or of its tree (``set_process_tree``): outside process
        # mode, the C clock itself, with no Python frame on a quiet tick.
        self._process_cpu_s: Callable[[], float] = time.process_time
        self._last_process_cpu_s = self._process_cpu_s()
        self._rss_share = 0.0
        self._ram_used_gb, self._ram_util = read_memory()

    def _tree_cpu_s(self) -> float:
        """CPU seconds of this process and its children (the live ones as of ``refresh_tree``)."""
        times = os.times()
        return time.process_time() + times.children_user + times.children_system + self._children_cpu_s

    def refresh_tree(self) -> None:
        """Live children's CPU time and the tree's resident memory (psutil; slow)."""
        import psutil

        try:
            me = psutil.Process()
            children = me.children(recursive=True)
            cpu_s = 0.0
            rss = me.memory_info().rss
            for child in children:
                try:
                    child_times = child.cpu_times()
                    cpu_s += child_times.user + child_times.system
                    rss += child.memory_info().rss
                except psutil.Error:
                    continue
            self._children_cpu_s = cpu_s
            self._rss_share = min(rss / self._total_ram_bytes, 1.0)
        except psutil.Error:
            pass

    def set_process_tree(self, enabled: bool) -> None:
        """Start or stop attributing to the process tree (children's CPU time, resident memory)."""
        if enabled == self.process_tree:
            return
        self.process_tree = enabled
        self._process_cpu_s = self._tree_cpu_s if enabled else time.process_time
        if enabled:
            self.refresh_tree()
        self._last_process_cpu_s = self._process_cpu_s()  # the series changes definition here

    def refresh_slow(self) -> None:
        """Re-read the slow figures: memory, and the process tree when attributing to it."""
        if self.process_tree:
            self.refresh_tree()
        self._ram_used_gb, self._ram_util = read_memory()

    def sample(self, now: float, full: bool) -> LoadSample:
        """The LoadSample of the interval up to ``now``; instants noted by ``mark`` are taken
        (``marked()``) first."""
        if full:
            self.refresh_slow()
        return self._interval(now, self._stat.parse(self._snapshot(now)), self._process_cpu_s())

    def mark(self, now: float) -> None:
        """Note the counters at ``now`` only (unparsed); ``marked()`` makes the LoadSample
        later. A quiet tick's whole work when the meters are load models (``Meter.replayable``).

        ``_snapshot`` written out: run cache-cold ten times a second, each Python call costs
        a few microseconds."""
        if now - self._last_stat_now < _TICK_S:
            snapshot = None
        else:
            self._last_stat_now = now
            snapshot = self._stat.snapshot()
        self._marks.append((now, snapshot, self._process_cpu_s()))

    def marked(self) -> list[LoadSample]:
        """The LoadSamples of the instants marked since the last call, in order: the same as
        ``sample(now, full=False)`` at each of them would have returned."""
        if not self._marks:
            return []
        marks, self._marks = self._marks, []
        return [self._interval(now, self._stat.parse(snapshot), cpu_s) for now, snapshot, cpu_s in marks]

    def _snapshot(self, now: float) -> bytes | tuple[float, float] | None:
        """The machine's CPU counters now (``_ProcStat.snapshot``); None within a tick of the
        last read (its counters, of 10 ms resolution, could not have told anything more)."""
        if now - self._last_stat_now < _TICK_S:
            return None
        self._last_stat_now = now
        return self._stat.snapshot()

    def _interval(self, now: float, stat: tuple[float, float] | None, process_cpu_s: float) -> LoadSample:
        busy, total = (self._last_busy, self._last_total) if stat is None else stat
        d_busy, d_total = busy - self._last_busy, total - self._last_total
        dt = max(now - self._last_now, 0.0)
        if d_total > 0:
            cpu_load = min(max(d_busy / d_total, 0.0), 1.0)
            self._last_busy, self._last_total = busy, total
            self._last_process_cpu_s = process_cpu_s
        else:
            # The tick counters (10 ms resolution) have not moved yet: estimate the load from
            # this process's own CPU time, which has nanosecond resolution.
            d_process = max(process_cpu_s - self._last_process_cpu_s, 0.0)
            cpu_load = min(d_process / dt / self._cpu_count, 1.0) if dt > 0 else 0.0
        self._last_now = now
        # positional, in the fields' order (built at every boundary)
        return LoadSample(now, dt, cpu_load, busy / _CLOCK_TICKS, process_cpu_s, self._rss_share, self._ram_used_gb,
                          self._ram_util)

    def after_fork(self) -> None:
        self._stat.reopen_after_fork()
