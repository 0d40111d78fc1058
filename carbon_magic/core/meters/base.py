"""What every meter is: one hardware source turned into a cumulative energy in joules.

A meter owns reading its counter or model, wrap-around, and its own errors. It knows nothing
of trackers, carbon or outputs. The sampler calls ``read`` with the time and a LoadSample and
stores the cumulative joules it returns in the ledger.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

from ..load import LoadSample


class CounterWentBackwards(Exception):
    """A hardware energy counter read lower than before without a plausible wrap-around (a
    reset: driver reload, firmware). The interval it spans counts 0 J; counting goes on from
    the new value. Noted in ``core.problems`` under ``<component> meter``."""


class Meter(ABC):
    """A source of cumulative energy for one ledger component (``cpu``, ``ram``, ``gpu:N``).

    ``method`` says in words how the figure is obtained ("measured: RAPL energy counters (package-0)",
    "modelled: SPECpower machine model (...)"). ``exact`` is True for hardware energy counters
    (the component is measured), False for models and power integrated over time (it is
    modelled); readings carry it as ``Reading.measured``. ``band`` is a modelled figure's
    (low, high) ratio band from its model's validated error (None: measured, or given by the user).
    ``max_interval_s`` bounds the sampler's interval (a counter must not wrap twice unseen).

    Capabilities, declared here and set by the meters that have them (the sampler asks these
    flags, never ``hasattr``): ``settles`` (reads are provisional until ``settled_energy_j``
    knows better; the sampler's fast poller calls ``poll`` meanwhile) and ``refreshes`` (slow
    figures such as utilisation, refreshed by ``refresh`` at most every second on ticks) and
    ``replayable`` (a model of the load: ``read`` depends only on its arguments and the meter's
    own state, so the sampler may make a quiet tick's read later, in order, with the same
    arguments; a hardware counter must be read at its instant).
    """

    component: str
    method: str = ""
    exact: bool = False
    band: tuple[float, float] | None = None
    max_interval_s: float = math.inf
    settles: bool = False
    refreshes: bool = False
    replayable: bool = False

    @abstractmethod
    def read(self, now: float, load: LoadSample) -> float:
        """Cumulative joules since the meter was created, up to ``now`` (monotonic seconds)."""

    @abstractmethod
    def power_w(self) -> float:
        """The latest estimate of current power in watts (for live views)."""

    def process_fraction(self, load: LoadSample) -> float | None:
        """Share of this component's energy over the last interval owed to the process tree.

        None (the default, for CPU meters) means: attribute per window, by the ratio of the
        tree's CPU seconds to the machine's busy CPU seconds (see ``ledger.Window``).
        """
        return None

    def utilisation(self) -> float | None:
        """Latest utilisation fraction in [0, 1], if this source has one (GPUs)."""
        return None

    def fallback(self) -> "Meter | None":
        """A replacement after this meter failed at run time (e.g. RAPL -> CPU model)."""
        return None

    def settled_energy_j(self, t: float) -> float | None:
        """Cumulative joules at past instant ``t`` once final; None while still provisional.
        Asked only of meters that declare ``settles``."""
        return None

    def poll(self, now: float) -> None:
        """Observe the source at ``now``, between ticks: the sampler's fast poller calls this on
        the meters that declare ``settles``, while a window's boundary waits to be settled."""
        return None

    def refresh(self, tree_pids: frozenset[int]) -> None:
        """Re-read the slow figures (utilisation; with ``tree_pids``, the process ids of the
        tracked process tree, whether it uses this source). Called on the meters that declare
        ``refreshes``."""
        return None
