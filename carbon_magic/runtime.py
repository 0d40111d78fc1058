"""The process-wide services, owned by one object: ``current_runtime()``.

A ``Runtime`` owns the samplers (``samplers``, a ``core.sampler.SamplerRegistry``). It
registers the package's one fork hook, which acts on the runtime current at that moment.
``reset_runtime()`` closes the current one (its threads end) and makes a fresh one: what
tests do between tests.

Only ``carbon_magic.trackers``, ``ipython/`` and tests use this module: ``core``, ``outputs``
and ``telemetry`` get the services they need as arguments.
"""

from __future__ import annotations

import os
import threading

from .core import location
from .core.problems import problems
from .core.sampler import SamplerRegistry


class Runtime:
    def __init__(self) -> None:
        self.samplers = SamplerRegistry()
        location.use_sampler_check(self.samplers.any_running)

    def close(self) -> None:
        """Stop every service's threads and forget what they hold."""
        self.samplers.close()

    def after_fork_in_child(self) -> None:
        problems.after_fork()
        self.samplers.after_fork_in_child()


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


def _set(runtime: Runtime) -> None:
    global _current
    _current = runtime


def _after_fork_in_child() -> None:
    global _current_lock
    _current_lock = threading.Lock()
    if _current is not None:
        _current.after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
