"""The interface every cluster engine's backend offers the kernel, and the table of backends.

A backend is the kernel's end of one engine (Dask, Ray). It never imports its engine at
module level: ``BACKENDS`` names the module and class of each, and ``present_backends``
imports a backend only when its engine's package is already imported by the user (a kernel
that never imported dask pays nothing for Dask support).
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping, Protocol

if TYPE_CHECKING:
    from ..core.config import Config
    from ..core.remote import RemoteMeter, RemoteWindow
    from .reading import HostAnswer


class ClusterBackend(Protocol):
    """One engine's way to reach the hosts of the cluster the kernel uses."""

    name: str

    def active(self) -> bool:
        """Whether the kernel uses a cluster of this engine now (a default Dask client exists,
        Ray is initialised); cheap, called at every tracked cell boundary."""
        ...

    def ensure_agents(self) -> None:
        """Make every host of the cluster run a ``HostAgent`` (idempotent; workers that join
        later get one too)."""
        ...

    def read_hosts(self, timeout_s: float) -> dict[str, "HostAnswer"]:
        """Each host's reading in one parallel round trip, never longer than ``timeout_s``;
        a host that did not answer in time is a ``HostMissing`` saying why."""
        ...

    def close(self) -> None:
        """Forget the cluster (the kernel's tracking of it ends; the cluster runs on)."""
        ...


@dataclass(frozen=True)
class BackendEntry:
    """Where a backend lives: ``engine_module`` is the user's package whose presence in
    ``sys.modules`` means the backend may apply; ``module``/``cls`` the backend's class."""

    engine_module: str
    module: str
    cls: str


BACKENDS: Mapping[str, BackendEntry] = {
    "dask": BackendEntry("distributed", "carbon_magic.cluster.dask_backend", "DaskBackend"),
    "ray": BackendEntry("ray", "carbon_magic.cluster.ray_backend", "RayBackend"),
}


def engine_imported() -> bool:
    """Whether the user has imported a cluster engine: only then may a backend apply."""
    return any(entry.engine_module in sys.modules for entry in BACKENDS.values())


class WhenEngineImported:
    """The trackers' ``RemoteMeter``: ``monitor()``'s windows once the user has imported a
    cluster engine, None before, with none of the cluster code (the monitor, its threads) loaded."""

    def __init__(self, monitor: Callable[[], "RemoteMeter"]):
        self._monitor = monitor

    def begin(self, config: "Config") -> "RemoteWindow | None":
        return self._monitor().begin(config) if engine_imported() else None


def present_backends(made: dict[str, ClusterBackend]) -> list[ClusterBackend]:
    """The backends whose engine the user has imported, made once each (kept in ``made``)."""
    backends = []
    for name, entry in BACKENDS.items():
        backend = made.get(name)
        if backend is None:
            if entry.engine_module not in sys.modules:
                continue
            try:
                module = importlib.import_module(entry.module)
            except ImportError:  # the backend of an engine that is not built yet or broken
                continue
            backend = made[name] = getattr(module, entry.cls)()
        backends.append(backend)
    return backends
