"""The samplers of a process, one per distinct HardwareSpec (normally one), made on first use.

A ``SamplerRegistry`` is owned by the runtime (``carbon_magic.runtime``) and handed to what
needs samplers (trackers, the extension's warm-up, telemetry); core code never keeps one in a
module global.
"""

from __future__ import annotations

import logging
import threading
import time

from ..machine import machine_facts
from ..meters import HardwareSpec, discover
from .sampler import Sampler

logger = logging.getLogger("carbon_magic")


class SamplerRegistry:
    """The shared sampler of each HardwareSpec; ``close()`` stops them all."""

    def __init__(self) -> None:
        self._samplers: dict[HardwareSpec, Sampler] = {}
        self._lock = threading.Lock()

    def get(self, spec: HardwareSpec | None = None) -> Sampler:
        """The shared sampler for ``spec`` (created on first use: hardware discovery)."""
        spec = spec or HardwareSpec()
        sampler = self._samplers.get(spec)
        if sampler is not None:
            return sampler
        with self._lock:
            sampler = self._samplers.get(spec)
            if sampler is None:
                sampler = self._samplers[spec] = self._create(spec)
        return sampler

    @staticmethod
    def _create(spec: HardwareSpec) -> Sampler:
        asked = time.perf_counter()
        facts = machine_facts()
        sampler = Sampler(discover(spec, facts, time.monotonic()), facts)
        sampler.startup_s = time.perf_counter() - asked
        for note in sampler.notes:
            logger.info("carbon_magic: %s", note)
        return sampler

    def existing(self, spec: HardwareSpec | None = None) -> Sampler | None:
        """The sampler for ``spec`` if one was created; never creates one."""
        return self._samplers.get(spec or HardwareSpec())

    def all(self) -> list[Sampler]:
        return list(self._samplers.values())

    def any_running(self) -> bool:
        """Whether any sampler's thread runs (a window or a listener wants samples)."""
        return any(sampler.running for sampler in self.all())

    def close(self) -> None:
        """Stop every sampler thread and forget the samplers (tests, extension unload)."""
        with self._lock:
            samplers = list(self._samplers.values())
            self._samplers.clear()
        for sampler in samplers:
            sampler.stop()

    def after_fork_in_child(self) -> None:
        """In a forked child: a new lock; each sampler keeps its ledger and restarts its threads."""
        self._lock = threading.Lock()
        for sampler in self._samplers.values():
            sampler.after_fork_in_child()
