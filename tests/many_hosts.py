"""A cluster of more hosts than a test machine has: a ``ClusterBackend`` (the interface the
Dask and Ray backends implement) answering for ``hosts`` hosts, the first ``failing`` of them
missing with a long error text. Installed in a kernel's real cluster monitor, so that records,
``%carbon report hosts`` and the sidebar's messages are made by the real code."""

from __future__ import annotations

import time

from carbon_magic.cluster.reading import HostAnswer, HostMissing, HostReading
from carbon_magic.core.location import Location

SWEDEN = Location(country_iso_code="SWE", country_name="Sweden", found_by="parameter")
HOST_CHARS = 40  # longer than any bound on a host id the sidebar keeps
WHY = "worker process died: " + "distributed.comm.core.CommClosedError: in <TCP (closed) ...> " * 4


def host_name(index: int) -> str:
    return f"gpu-node-{index:03d}.rack-17.cluster.example".ljust(HOST_CHARS, "x")[:HOST_CHARS]


class ManyHosts:
    """``hosts`` hosts of ``HOST_CHARS``-character ids; each reading adds 1 J of CPU per host."""

    def __init__(self, name: str, hosts: int, failing: int):
        self.name = name
        self.hosts = hosts
        self.failing = failing
        self.calls = 0

    def active(self) -> bool:
        return True

    def ensure_agents(self) -> None:
        """Every host runs an agent already."""

    def read_hosts(self, timeout_s: float) -> dict[str, HostAnswer]:
        self.calls += 1
        answers: dict[str, HostAnswer] = {}
        for index in range(self.hosts):
            host = host_name(index)
            if index < self.failing:
                answers[host] = HostMissing(host, f"{WHY}#{index}")
            else:
                answers[host] = HostReading(host_id=host, hostname=host, generation="1", time_s=time.time(),
                                            started_s=0.0, energy_j={"cpu": float(self.calls * (index + 1))},
                                            bands={"cpu": (0.5, 2.0)}, location=SWEDEN)
        return answers

    def close(self) -> None:
        """Nothing to forget."""


def install(monitor: object, hosts: int, failing: int) -> ManyHosts:
    """Make ``monitor`` (the runtime's ``ClusterMonitor``) use a ManyHosts cluster as its Dask one."""
    import distributed  # noqa: F401  # as a user of a Dask cluster has (trackers ask no cluster before)

    backend = ManyHosts("dask", hosts, failing)
    monitor._made["dask"] = backend  # type: ignore[attr-defined]  # the backends it made, by engine
    return backend
