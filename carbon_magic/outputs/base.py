"""CodeCarbon's output interface: ``out``, ``live_out``, ``task_out``, ``exit``, all optional."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.record import EmissionsData

if TYPE_CHECKING:
    from .services import OutputServices


class BaseOutput:
    """Subclass and override what you need; objects with any of these methods also work.

    Every call runs on an output lane (``core.lanes``), never on the cell's thread.
    Class attributes the Dispatcher reads (plain objects get the defaults):

    - ``lane``: the lane the calls run on; ``"ext"`` by default, so that a slow or stuck
      handler never holds up the CSV file (lane ``"main"``) or the network outputs.
    - ``supersedes``: True when a newer ``out``/``live_out`` of a run makes an older one,
      still queued, useless (it reports cumulative totals); the lane then keeps the newest.
    - ``wants_live``: False to receive no ``live_out`` calls even though the method exists.
    """

    lane = "ext"
    supersedes = False
    wants_live = True
    _services: "OutputServices | None" = None

    def attach(self, services: "OutputServices") -> None:
        """Called by the Dispatcher before any other call: the lanes, fork guard and
        per-process objects this output may use (``outputs.services``)."""
        self._services = services

    @property
    def services(self) -> "OutputServices":
        if self._services is None:
            raise RuntimeError(f"{type(self).__name__} was not given to a Dispatcher: it has no lanes to run on")
        return self._services

    def out(self, total: EmissionsData, delta: EmissionsData) -> None:
        """A run's totals at flush() or stop(), with the part since the previous out()."""

    def live_out(self, total: EmissionsData, delta: EmissionsData) -> None:
        """Every measure_power_secs while a run is going (delta: since the previous out())."""

    def task_out(self, data: list[EmissionsData], experiment_name: str) -> None:
        """The tasks of a run, at stop(); in notebooks also each finished cell (its label as
        ``extra["task_name"]``), through ``Dispatcher.cell_out``."""

    def exit(self) -> None:
        """At interpreter exit, after the lanes are flushed."""
