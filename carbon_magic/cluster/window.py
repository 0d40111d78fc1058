"""A cell's cluster part: what the hosts used between two sets of readings (cell start, cell end).

Per host, the window is ``end - start`` of its cumulative totals, as on the kernel's machine,
with these rules:

- the kernel's own host is left out: the kernel's sampler already measures that machine
  (a worker started beside the kernel is not counted twice);
- a host whose sampler started again inside the window (new ``generation``) counts what it
  measured since the restart and makes the part partial (the energy before it is lost);
- a host that answered at the end but not at the start counts all its sampler measured when
  that sampler started inside the window (a worker that joined), else it is partial;
- a host that answered at the start but not at the end (gone, too slow) counts nothing and
  makes the part partial, named with the reason; so does a host missing at the start (gone
  since the reading before the window, ``monitor.GONE_WHY``) and absent at the end;
- ``process_mode`` (``tracking_mode="process"``): each host's energy times the workers' share
  of the host's busy CPU seconds in the window, for every component (hosts report CPU time
  only; the kernel's own machine uses memory and GPU contexts too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from ..core.location import Location
from .reading import UNKNOWN_HOST_PREFIX, HostAnswer, HostMissing, HostReading


@dataclass(frozen=True)
class HostWindow:
    """One host's energy in the window (J per component) and what is known about it."""

    host_id: str
    hostname: str
    energy_j: Mapping[str, float]
    measured: frozenset[str]
    bands: Mapping[str, tuple[float, float]]
    location: Location
    note: str = ""  # why this host's figure is incomplete (restarted, no start reading)

    @property
    def total_energy_j(self) -> float:
        return sum(self.energy_j.values())


@dataclass(frozen=True)
class ClusterWindow:
    """The hosts' part of one window; ``missing``: host -> why it is not (fully) counted."""

    hosts: tuple[HostWindow, ...]
    missing: Mapping[str, str] = field(default_factory=dict)

    @property
    def partial(self) -> bool:
        return bool(self.missing)

    @property
    def total_energy_j(self) -> float:
        return sum(host.total_energy_j for host in self.hosts)


def cluster_window(
    start: Mapping[str, HostAnswer],
    end: Mapping[str, HostAnswer],
    *,
    kernel_host: str,
    start_time_s: float,
    process_mode: bool = False,
) -> ClusterWindow:
    """The window between two sets of host answers (see the module docstring).

    ``start_time_s``: the window's start on the wall clock (a host's sampler that started
    after it measured the whole of the host's part).
    """
    hosts: list[HostWindow] = []
    missing: dict[str, str] = {}
    for host in sorted(set(start) | set(end)):
        if host == kernel_host:
            continue
        first, last = start.get(host), end.get(host)
        if last is None and host.startswith(UNKNOWN_HOST_PREFIX):
            continue  # a worker unknown at the start: its host, named at the end, says what is missing
        if not isinstance(last, HostReading):
            said = last if isinstance(last, HostMissing) else first if isinstance(first, HostMissing) else None
            missing[host] = said.reason if said is not None else "no answer at the window's end"
            continue
        note = _incomplete(first, last, start_time_s)
        base = first if isinstance(first, HostReading) and first.generation == last.generation else None
        if note:
            missing[host] = note
        hosts.append(_host_window(base, last, process_mode, note))
    return ClusterWindow(tuple(hosts), missing)


def _incomplete(first: HostAnswer | None, last: HostReading, start_time_s: float) -> str:
    """Why ``last`` minus ``first`` is not the host's whole part of the window ("" if it is)."""
    if isinstance(first, HostReading):
        if first.generation == last.generation:
            return ""
        return f"its sampler restarted in the window (generation {first.generation} -> {last.generation})"
    if last.started_s >= start_time_s:
        return ""  # a host (or its sampler) that joined inside the window: all it measured counts
    if isinstance(first, HostMissing):
        return f"no reading at the window's start ({first.reason})"
    return "no reading at the window's start"


def _host_window(first: HostReading | None, last: HostReading, process_mode: bool, note: str) -> HostWindow:
    energy_j = {
        component: max(joules - (first.energy_j.get(component, 0.0) if first else 0.0), 0.0)
        for component, joules in last.energy_j.items()
    }
    if process_mode:
        share = _workers_share(first, last)
        energy_j = {component: joules * share for component, joules in energy_j.items()}
    return HostWindow(last.host_id, last.hostname, energy_j, last.measured, last.bands, last.location, note)


def _workers_share(first: HostReading | None, last: HostReading) -> float:
    """The worker processes' fraction of the host's busy CPU time between two readings."""
    before = first.worker_cpu_s if first else {}
    workers_s = sum(max(cpu_s - before.get(pid, 0.0), 0.0) for pid, cpu_s in last.worker_cpu_s.items())
    busy_s = last.machine_busy_s - (first.machine_busy_s if first else 0.0)
    if busy_s <= 0:  # the 10 ms tick counters have not moved
        return 1.0 if workers_s > 0 else 0.0
    return min(max(workers_s / busy_s, 0.0), 1.0)
