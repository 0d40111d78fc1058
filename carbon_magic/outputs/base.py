"""CodeCarbon's output interface: ``out``, ``live_out``, ``task_out``, ``exit``, all optional."""

from __future__ import annotations

from ..core.record import EmissionsData


class BaseOutput:
    """Subclass and override what you need; objects with any of these methods also work."""

    def out(self, total: EmissionsData, delta: EmissionsData) -> None:
        """A run's totals at flush() or stop(), with the part since the previous out()."""

    def live_out(self, total: EmissionsData, delta: EmissionsData) -> None:
        """Every measure_power_secs while a run is going."""

    def task_out(self, data: list[EmissionsData], experiment_name: str) -> None:
        """The tasks of a run, at stop()."""

    def exit(self) -> None:
        """At interpreter exit, after the queue is flushed."""
