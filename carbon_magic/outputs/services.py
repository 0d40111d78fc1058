"""What the outputs of one process share: given to each output by its ``Dispatcher``.

The lanes the outputs run on (with their exit hooks), the fork guard (held rows and file
locks are let go of in a forked child), objects made once per process and key (a Prometheus
job's registry, the Logfire instruments), and how to move the exit flush after handlers that
other libraries registered. ``carbon_magic.runtime.Runtime`` makes one; outputs never look
it up themselves.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Hashable

from ..core.forks import ForkGuard
from ..core.lanes import Lanes


class OutputServices:
    def __init__(self, lanes: Lanes, forks: ForkGuard, run_exit_flush_first: Callable[[], None]):
        self.lanes = lanes
        self.forks = forks
        self.run_exit_flush_first = run_exit_flush_first
        self._shared: dict[Hashable, Any] = {}
        self._lock = threading.Lock()

    def shared(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The object kept under ``key``, made by ``make()`` on first use (once per process)."""
        with self._lock:
            found = self._shared.get(key)
            if found is None:
                found = self._shared[key] = make()
            return found
