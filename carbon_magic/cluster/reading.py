"""What a cluster host answers: its cumulative totals at one instant, or why it did not answer.

A ``HostReading`` is small and picklable (it crosses the network from a worker to the
kernel); two readings of one host with the same ``generation`` make a window, as two
``core.ledger.Reading`` do on the kernel's machine. A new generation means the host's
sampler started again (its leader process died and another took over): totals restart at 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from ..core.location import Location


@dataclass(frozen=True)
class HostReading:
    """A host's cumulative totals since its agent's sampler started.

    ``time_s`` and ``started_s``: the host's wall clock now and when its sampler started.
    ``energy_j``: joules per component (``cpu``, ``ram``, ``platform``, ``gpu:N``), the whole
    host. ``measured``: the components read from a hardware energy counter; every other one
    is modelled, with its (low, high) ratio band in ``bands`` when the model has one.
    ``machine_busy_s``: the host's busy CPU seconds (all processes) since the sampler started; ``worker_cpu_s``: each
    worker process's cumulative CPU seconds by pid (``tracking_mode="process"`` gives the
    workers the share of these in the host's busy time). ``location``: where the host is, as
    its own location service found it, so the kernel weighs its energy by its intensity.
    """

    host_id: str
    hostname: str
    generation: str
    time_s: float
    started_s: float
    energy_j: Mapping[str, float]
    measured: frozenset[str] = frozenset()
    bands: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    machine_busy_s: float = 0.0
    worker_cpu_s: Mapping[int, float] = field(default_factory=dict)
    location: Location = Location()

    @property
    def total_energy_j(self) -> float:
        return sum(self.energy_j.values())


# A worker whose host is not known (it never answered) stands for its host as "worker <address>".
UNKNOWN_HOST_PREFIX = "worker "


def unknown_host(worker: str) -> str:
    """The name standing for the unknown host of ``worker`` (an address, a node id)."""
    return f"{UNKNOWN_HOST_PREFIX}{worker}"


@dataclass(frozen=True)
class HostMissing:
    """A host (or a worker whose host is not known: ``unknown_host``) that gave no reading, and why."""

    host_id: str
    reason: str


HostAnswer = HostReading | HostMissing


def by_host(answers: Iterable[HostAnswer]) -> dict[str, HostAnswer]:
    """One answer per host from the answers of its worker processes: the leader's reading,
    else the first reason given (a host whose leader died and no other took over yet)."""
    result: dict[str, HostAnswer] = {}
    for answer in answers:
        if isinstance(answer, HostReading) or answer.host_id not in result:
            result[answer.host_id] = answer
    return result
