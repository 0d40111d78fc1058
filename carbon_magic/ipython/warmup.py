"""What ``%load_ext`` starts in the background: the shared sampler and the location.

Hardware discovery (psutil, NVML's start-up, the CPU table) and location resolution can take
from tens of milliseconds to seconds (NVML on a big GPU machine); loading must not wait for
them. A Warmup does both on a short-lived thread; the load line and ``%carbon status`` show
what is known so far.
"""

from __future__ import annotations

import threading
from typing import Any

from ..core.config import Config
from ..core.problems import problems


def locate(config: Config) -> tuple[Any, Any]:
    """(Location, Intensity) best known now for ``config`` (starts resolving it if needed)."""
    from ..runtime import current_runtime

    return current_runtime().location.current(config)


class Warmup:
    """Creates the shared sampler and resolves location and intensity off the main thread."""

    def __init__(self, config: Config):
        self.config = config
        self.sampler: Any = None
        self.location: Any = None
        self.intensity: Any = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="carbon_magic-warmup", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            from ..core.meters import HardwareSpec
            from ..runtime import current_runtime

            self.sampler = current_runtime().samplers.get(HardwareSpec.from_config(self.config))
            self.location, self.intensity = locate(self.config)
        except Exception as error:  # shown by %carbon status; tracking retries on its own
            problems.note("carbon_magic start-up", error)
        finally:
            self._done.set()

    @property
    def ready(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout_s: float) -> bool:
        """Wait at most ``timeout_s`` for the work; True if it is done."""
        return self._done.wait(timeout_s)

    def join(self, timeout_s: float = 5.0) -> None:
        self._thread.join(timeout_s)
