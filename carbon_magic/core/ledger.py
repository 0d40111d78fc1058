"""Readings of the cumulative ledger, and windows between two of them.

A Reading is an immutable snapshot of the sampler's running totals. Any measurement of any
window is ``end - start``: nesting, overlap and thousands of concurrent windows cost
nothing more than two readings each. Averages (power, utilisation) are deltas of integrals
divided by the window's duration, never lists of samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Iterable, Mapping, TypeVar

EMPTY: Mapping[str, Any] = MappingProxyType({})  # of any value type: it holds none


@dataclass(frozen=True, slots=True)
class WeighedEnergy:
    """Cumulative energy weighed by one time-varying intensity signal, per component.

    ``known_j_g``: sum of joules x g/kWh in effect while the signal had a value;
    ``known_j``: the joules of those moments; ``pending_j``: joules used while it had none
    (weighed when a record is built, by the best value known then).
    """

    known_j_g: Mapping[str, float]
    known_j: Mapping[str, float]
    pending_j: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Reading:
    """Cumulative totals at one instant.

    ``energy_j``: joules per component since the sampler started (whole machine).
    ``process_energy_j``: the part owed to this process tree (``tracking_mode="process"``).
    ``power_w``: latest power per component (for live views; not used for energy).
    ``*_util_s``: integrals of utilisation fractions over time (fraction x seconds).
    ``ram_used_gb_s``: integral of used memory (GB x seconds).
    ``process_cpu_s``, ``machine_busy_s``: cumulative CPU seconds of this process tree and of
    the whole machine; a window's CPU share in process mode is the ratio of their deltas.
    ``provisional``: components whose value is an estimate until a slow counter's next
    update brackets ``t_mono`` (see ``Sampler.settle``).
    ``weighed``: per intensity signal key, the energy weighed by that signal since the
    sampler started weighing it (``Sampler.weigh_by``).
    ``measured``: components whose meter reads a hardware energy counter now (``Meter.exact``:
    RAPL, NVML's total energy); every other component is modelled (the machine model, force_*
    figures) or integrated from sampled power, and views must say so.
    """

    sampler_id: int
    t_mono: float
    t_wall: float
    energy_j: Mapping[str, float]
    process_energy_j: Mapping[str, float]
    power_w: Mapping[str, float]
    cpu_util_s: float
    gpu_util_s: Mapping[str, float]
    ram_util_s: float
    ram_used_gb_s: float
    process_cpu_s: float
    machine_busy_s: float
    provisional: frozenset[str] = frozenset()
    weighed: Mapping[str, WeighedEnergy] = field(default_factory=lambda: EMPTY)
    measured: frozenset[str] = frozenset()

    @property
    def components(self) -> tuple[str, ...]:
        return tuple(self.energy_j)


@dataclass(frozen=True, slots=True)
class Window:
    """What happened between two readings of the same sampler, for a set of components."""

    start: Reading
    end: Reading
    components: tuple[str, ...]
    process_mode: bool = False

    def __post_init__(self) -> None:
        if self.start.sampler_id != self.end.sampler_id:
            raise ValueError("a window's two readings must come from the same sampler")

    @property
    def duration_s(self) -> float:
        return max(self.end.t_mono - self.start.t_mono, 0.0)

    @property
    def provisional(self) -> bool:
        return bool((self.start.provisional | self.end.provisional) & set(self.components))

    def energy_j(self) -> dict[str, float]:
        """Joules per component in the window (machine or process share, by mode)."""
        result = {}
        for component in self.components:
            machine = self.end.energy_j[component] - self.start.energy_j.get(component, 0.0)
            machine = max(machine, 0.0)
            if not self.process_mode:
                result[component] = machine
                continue
            share = _process_share(self.start, self.end, component)
            result[component] = machine * share
        return result

    def process_shares(self) -> dict[str, float]:
        """The process tree's fraction of each component in process mode; empty in machine mode."""
        if not self.process_mode:
            return {}
        return {component: _process_share(self.start, self.end, component) for component in self.components}

    def energy_by_kind_j(self) -> dict[str, float]:
        """Joules summed into CodeCarbon's three kinds: cpu, gpu, ram."""
        totals = {"cpu": 0.0, "gpu": 0.0, "ram": 0.0}
        for component, joules in self.energy_j().items():
            totals[kind_of(component)] += joules
        return totals

    def average_intensity_g_per_kwh(self, signal_key: str, pending_g_per_kwh: float) -> dict[str, float] | None:
        """Per component, the energy-weighted intensity (g/kWh) of a time-varying signal over the
        window; energy used while the signal had no value counts at ``pending_g_per_kwh``.

        Like energy, it is a difference of two readings' totals. None when either reading
        predates the signal. A component that used no energy gets ``pending_g_per_kwh``.
        """
        start = self.start.weighed.get(signal_key)
        end = self.end.weighed.get(signal_key)
        if start is None or end is None:
            return None
        result = {}
        for component in self.components:
            pending_j = end.pending_j[component] - start.pending_j.get(component, 0.0)
            known_j = end.known_j[component] - start.known_j.get(component, 0.0)
            weighed_j_g = end.known_j_g[component] - start.known_j_g.get(component, 0.0)
            energy_j = known_j + pending_j
            result[component] = (
                (weighed_j_g + pending_j * pending_g_per_kwh) / energy_j if energy_j > 0 else pending_g_per_kwh
            )
        return result

    def _average(self, start: float, end: float) -> float:
        duration = self.duration_s
        return (end - start) / duration if duration > 0 else 0.0

    def _average_fraction(self, start: float, end: float) -> float:
        """The average of a fraction's integral, kept in [0, 1]: the integral and the clock
        are summed separately, so their rounding can put a full load at 1.0000000000000004."""
        return min(max(self._average(start, end), 0.0), 1.0)

    @property
    def cpu_utilisation(self) -> float:
        return self._average_fraction(self.start.cpu_util_s, self.end.cpu_util_s)

    @property
    def ram_utilisation(self) -> float:
        return self._average_fraction(self.start.ram_util_s, self.end.ram_util_s)

    @property
    def ram_used_gb(self) -> float:
        return self._average(self.start.ram_used_gb_s, self.end.ram_used_gb_s)

    @property
    def gpu_utilisation(self) -> float:
        if not self.end.gpu_util_s:  # no GPU: no list made (once per record)
            return 0.0
        gpus = [c for c in self.components if c in self.end.gpu_util_s]
        if not gpus:
            return 0.0
        return sum(
            self._average_fraction(self.start.gpu_util_s.get(c, 0.0), self.end.gpu_util_s[c]) for c in gpus
        ) / len(gpus)

    @property
    def process_cpu_s(self) -> float:
        return self.end.process_cpu_s - self.start.process_cpu_s


def _process_share(start: Reading, end: Reading, component: str) -> float:
    """The process tree's fraction of a component's energy between two readings.

    Components with a per-interval attribution (RAM by resident memory, GPUs by context) use
    it; CPU uses the tree's CPU seconds over the machine's busy CPU seconds in the window.
    """
    if component in end.process_energy_j:
        numerator = end.process_energy_j[component] - start.process_energy_j.get(component, 0.0)
        denominator = end.energy_j[component] - start.energy_j.get(component, 0.0)
    else:
        numerator = end.process_cpu_s - start.process_cpu_s
        denominator = end.machine_busy_s - start.machine_busy_s
        if denominator <= 0:  # the machine's 10 ms tick counters have not moved yet
            return 1.0 if numerator > 0 else 0.0
    if denominator <= 0:
        return 0.0
    return min(max(numerator / denominator, 0.0), 1.0)


def kind_of(component: str) -> str:
    """'gpu:1' -> 'gpu'."""
    return component.split(":", 1)[0]


V = TypeVar("V")


def frozen(mapping: Mapping[str, V] | Iterable[tuple[str, V]]) -> Mapping[str, V]:
    return MappingProxyType(dict(mapping))
