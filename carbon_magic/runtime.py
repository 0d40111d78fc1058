"""The process-wide services, owned by one object: ``current_runtime()``.

A ``Runtime`` owns the samplers (``samplers``, one per hardware setting), the location
service (``location``), the output lanes (``lanes``, with the exit hooks of the outputs),
what the outputs share (``outputs``), the fork guard (``forks``: objects holding file locks or rows
register there to let go of them in a forked child) and the kernel's telemetry
(``telemetry``) and the cluster monitor (``cluster``: the hosts of a Dask or Ray cluster the
kernel uses, measured into each window; made when first asked for), which trackers reach through
``remote``: no cluster, nor its code, before the user imports Dask or Ray. It registers the
package's one fork hook and one exit hook; both act on the
runtime current at that moment. ``reset_runtime()`` closes the current one (its threads end,
it publishes nothing more) and makes a fresh one: what tests do between tests.

Only ``carbon_magic.trackers``, ``ipython/`` and tests use this module: ``core``, ``outputs``
and ``telemetry`` get the services they need as arguments.
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import TYPE_CHECKING, Callable, Hashable

from .core.forks import ForkGuard
from .core.lanes import Lanes
from .core.location import LocationService
from .core.problems import problems
from .core.sampler import SamplerRegistry
from .cluster.backend import WhenEngineImported
from .outputs.services import OutputServices
from .telemetry.lifecycle import TelemetryLifecycle

if TYPE_CHECKING:
    from .cluster.monitor import ClusterMonitor


class Runtime:
    def __init__(self) -> None:
        self.samplers = SamplerRegistry()
        self.forks = ForkGuard()
        self.lanes = Lanes()
        self.outputs = OutputServices(self.lanes, self.forks, run_exit_flush_first=_run_exit_hook_first)
        self.telemetry = TelemetryLifecycle(self.samplers)
        self.location = LocationService(samplers_running=self.samplers.any_running)
        self._cluster: ClusterMonitor | None = None
        self._cluster_lock = threading.Lock()
        self.remote = WhenEngineImported(lambda: self.cluster)  # what trackers measure beyond this machine
        self._before_exit: dict[Hashable, Callable[[], None]] = {}

    @property
    def cluster(self) -> ClusterMonitor:
        """The cluster monitor, made on first use (loading the extension needs none of it)."""
        cluster = self._cluster
        if cluster is None:
            with self._cluster_lock:
                if self._cluster is None:
                    from .cluster.monitor import ClusterMonitor

                    self._cluster = ClusterMonitor()
                cluster = self._cluster
        return cluster

    def before_exit(self, key: Hashable, hook: Callable[[], None] | None) -> None:
        """Run ``hook`` first at interpreter exit, before the lanes flush: work that still makes
        records (a kernel's cell bookkeeping left for after its reply, ``ipython/tail.py``);
        ``hook=None`` forgets the hook of ``key``."""
        if hook is None:
            self._before_exit.pop(key, None)
        else:
            self._before_exit[key] = hook

    def close(self) -> None:
        """Stop every service's threads and forget what they hold; nothing is published after."""
        self.telemetry.close()
        self.lanes.close()
        self.samplers.close()
        self.location.close()
        if self._cluster is not None:
            self._cluster.close()

    def after_fork_in_child(self) -> None:
        problems.after_fork()
        self.samplers.after_fork_in_child()
        self.location.after_fork_in_child()
        self.lanes.after_fork_in_child()
        self.telemetry.after_fork_in_child()
        self._cluster_lock = threading.Lock()
        self._cluster = None  # the parent's request threads do not exist here: a new one when asked
        self.forks.after_fork_in_child()

    def at_exit(self) -> None:
        """Interpreter exit: the ``before_exit`` hooks, the telemetry summary (at most 2 s), then
        the lanes' flush and the outputs' exit hooks (bounded, see ``core.lanes``)."""
        for key, hook in list(self._before_exit.items()):
            try:
                hook()
            except Exception as error:
                problems.note(f"exit hook {key}", error)
        self.telemetry.at_exit()
        self.lanes.flush_at_exit()


_current: Runtime | None = None
_current_lock = threading.Lock()


def current_runtime() -> Runtime:
    """The runtime of this process, made on first use."""
    runtime = _current
    if runtime is not None:
        return runtime
    with _current_lock:
        if _current is None:
            _set(Runtime())
        assert _current is not None
        return _current


def reset_runtime() -> Runtime:
    """Close the current runtime (if any) and make a fresh one."""
    with _current_lock:
        old = _current
        _set(Runtime())
    if old is not None:
        old.close()
    return current_runtime()


def _set(runtime: Runtime | None) -> None:
    global _current
    _current = runtime


def _at_exit() -> None:
    if _current is not None:
        _current.at_exit()


def _after_fork_in_child() -> None:
    global _current_lock
    _current_lock = threading.Lock()
    if _current is not None:
        _current.after_fork_in_child()


def _run_exit_hook_first() -> None:
    """Move the exit hook before the atexit handlers registered so far by other libraries
    (atexit runs the last registered first), so that, say, Logfire's own shutdown comes after
    our last records."""
    atexit.unregister(_at_exit)
    atexit.register(_at_exit)


atexit.register(_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
