"""Energy weighed by time-varying intensity signals (a live grid signal).

For each signal the sampler keeps the running totals of ``energy x intensity`` per component
(see ``ledger.WeighedEnergy``), so that a window's emissions stay a difference of two readings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Mapping

from ..ledger import EMPTY, WeighedEnergy, frozen

if TYPE_CHECKING:
    from ..location import IntensitySignal


class Weighing:
    """The running totals of energy weighed by one intensity signal."""

    __slots__ = ("signal", "known_j_g", "known_j", "pending_j")

    def __init__(self, signal: IntensitySignal, components: Iterable[str]):
        self.signal = signal
        self.known_j_g = {c: 0.0 for c in components}
        self.known_j = {c: 0.0 for c in components}
        self.pending_j = {c: 0.0 for c in components}

    def add(self, added_j: dict[str, float]) -> WeighedEnergy:
        value = self.signal.g_per_kwh
        for component, joules in added_j.items():
            if value is None:
                self.pending_j[component] += joules
            else:
                self.known_j_g[component] += joules * value
                self.known_j[component] += joules
        return WeighedEnergy(frozen(self.known_j_g), frozen(self.known_j), frozen(self.pending_j))


class Weighings:
    """Every signal's Weighing, keyed by ``signal.key``; the energy used between two readings
    is added to each. Changed under the sampler's lock; ``weighs`` may be asked without it
    (the mapping is replaced, never changed in place)."""

    def __init__(self, components: Iterable[str]):
        self._components = tuple(components)
        self._by_key: dict[str, Weighing] = {}
        self._last_energy_j: dict[str, float] = {}

    def weighs(self, signal: IntensitySignal) -> bool:
        """True if ``signal`` itself (not only one with its key) is weighed already."""
        weighing = self._by_key.get(signal.key)
        return weighing is not None and weighing.signal is signal

    def weigh_by(self, signal: IntensitySignal) -> None:
        """Weigh by ``signal`` from now on; a new signal with a known key replaces the old one
        and keeps its totals (the location service recreates its feeds after a fork)."""
        weighing = self._by_key.get(signal.key)
        if weighing is None:
            self._by_key = {**self._by_key, signal.key: Weighing(signal, self._components)}
        else:
            weighing.signal = signal

    def add(self, energy_j: dict[str, float]) -> Mapping[str, WeighedEnergy]:
        """Weigh the energy used since the last call (``energy_j``: the ledger's totals now)."""
        weighed = EMPTY
        if self._by_key:
            added = {c: joules - self._last_energy_j.get(c, joules) for c, joules in energy_j.items()}
            weighed = frozen({key: weighing.add(added) for key, weighing in self._by_key.items()})
        self._last_energy_j = energy_j
        return weighed
