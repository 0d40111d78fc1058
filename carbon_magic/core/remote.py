"""Energy used on other machines during a window (cluster workers), as a tracker sees it.

Core knows only these protocols; ``carbon_magic.cluster`` implements them (above core) and
the runtime hands its ``RemoteMeter`` to the trackers it builds. Nothing here blocks a cell:
``begin`` and ``finish`` return at once, the remote readings travel on other threads, and a
window's remote part arrives through a callback, never later than the meter's bound.
"""

from __future__ import annotations

from typing import Callable, Protocol

from .config import Config
from .record import EmissionsData, RunInfo


class RemotePart(Protocol):
    """What the other machines add to one window's record."""

    def apply(self, record: EmissionsData, run: RunInfo) -> EmissionsData:
        """``record`` with the remote energy, CO2 and water added to its components and totals."""
        ...


class RemoteWindow(Protocol):
    """One window's remote side, from its start reading on."""

    timeout_s: float  # the longest ``finish`` may take to call back

    def so_far(self) -> RemotePart | None:
        """The part up to the latest remote reading (live views); never waits, may ask for a
        newer reading in the background."""
        ...

    def finish(self, done: Callable[[RemotePart | None], None]) -> None:
        """Take the end readings now (in the background) and call ``done`` once with the part,
        on another thread, within ``timeout_s``."""
        ...


class RemoteMeter(Protocol):
    """Where remote windows come from (the runtime's cluster monitor)."""

    def begin(self, config: Config) -> RemoteWindow | None:
        """A remote window starting now, or None when ``config`` measures no other machine
        (no cluster in use, or turned off)."""
        ...
