"""Apple silicon's energy counters as ledger components: the binding's interface and the meters.

A binding (``apple_ioreport``: the IOReport "Energy Model" counters, no sudo needed;
``apple_powermetrics``: powermetrics' samples, as root or with passwordless sudo) answers
``channels()`` (the SoC parts it measures, each with the channels summed into it) and
``sample()`` (cumulative joules per part since it was opened). Parts: ``cpu`` (all CPU
clusters), ``gpu``, ``ane`` (the Neural Engine) and ``dram``.

Ledger components: ``cpu`` <- cpu, ``ram`` <- dram, ``gpu:0`` <- gpu (a GpuMeter: the chip's
own GPU) and ``cpu:ane`` <- ane. The ANE is a component of its own, so that status shows its
power and how it is measured, of kind ``cpu`` (``ledger.kind_of``): records add it to
``cpu_energy`` (CodeCarbon's 38 columns have no ANE column; the ANE sits on the SoC beside the
CPU cores and runs work the CPU hands it). A part the chip does not report is left to the
machine model (RAM) or is not a component (GPU, ANE).

One ``SocEnergy`` per binding serves every part's meter: one ``sample()`` per instant, for
whichever meter asks first. When the binding fails at run time every part's meter fails:
CPU and RAM switch to the machine model (their ``fallback``, said in status); the GPU and
ANE raise on each read (counted in ``core.problems``) and count again once it answers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable, Mapping

from ..load import LoadSample
from .base import Meter
from .gpu import GpuInfo, GpuMeter

PARTS = ("cpu", "gpu", "ane", "dram")
COMPONENT_OF_PART = {"cpu": "cpu", "gpu": "gpu:0", "ane": "cpu:ane", "dram": "ram"}
# joules per unit of the energy channels' unit labels
JOULES_PER_UNIT = {"mJ": 1e-3, "uJ": 1e-6, "\u00b5J": 1e-6, "nJ": 1e-9}
GPU_UUID = "APPLE-SOC-GPU"


class SocUnavailable(Exception):
    """No usable Apple silicon energy source; the message says why (said once in status)."""


def _top_level(name: str, block: str) -> bool:
    """``block``, ``block<n>`` or ``block<n>_<m>``: a block's own channel (``ANE0_1``), not a
    part of it (``ANE0_SRAM``)."""
    if not name.startswith(block):
        return False
    rest = name[len(block):]
    return rest == "" or all(piece.isdigit() for piece in rest.split("_"))


def soc_part(channel: str) -> str | None:
    """The part an "Energy Model" channel totals, or None for the channels inside a part
    (clusters, cores, SRAM) that must not be added to it. ``CPU Energy`` (``DIE_<n>_CPU
    Energy`` per die of an Ultra), ``GPU Energy``, ``ANE`` / ``ANE<n>`` / ``ANE<n>_<m>``,
    ``DRAM`` / ``DRAM<n>`` / ``DRAM<n>_<m>``."""
    if channel.endswith("CPU Energy"):
        return "cpu"
    if channel == "GPU Energy":
        return "gpu"
    for part, block in (("ane", "ANE"), ("dram", "DRAM")):
        if _top_level(channel, block):
            return part
    return None


class AppleSocBinding(ABC):
    """The OS side of an Apple silicon energy source (see the module docstring)."""

    source: str  # the method text's words: "IOReport Energy Model counters"

    @abstractmethod
    def channels(self) -> Mapping[str, tuple[str, ...]]:
        """The parts measured here, each with the names of the channels summed into it."""

    @abstractmethod
    def sample(self) -> Mapping[str, float]:
        """Cumulative joules per part (``channels()``'s keys) since the binding was opened."""


class SocEnergy:
    """A binding's joules per part, sampled once per instant for every meter; zero at creation."""

    def __init__(self, binding: AppleSocBinding):
        self.binding = binding
        self._origin_j = dict(binding.sample())
        self._at: float | None = None
        self._joules: Mapping[str, float] = self._origin_j
        self._error: Exception | None = None

    def joules(self, part: str, now: float) -> float:
        """Cumulative joules of ``part`` up to ``now``; raises what the binding raised at ``now``."""
        if now != self._at:
            self._at = now
            try:
                self._joules, self._error = self.binding.sample(), None
            except Exception as error:
                self._error = error
        if self._error is not None:
            raise SocUnavailable(f"{self.binding.source} failed: {type(self._error).__name__}: {self._error}")
        return self._joules.get(part, 0.0) - self._origin_j.get(part, 0.0)


class SocPartMeter(Meter):
    """One SoC part's counter as a ledger component; ``fallback``: the machine model's meter."""

    exact = True

    def __init__(self, soc: SocEnergy, part: str, fallback_factory: Callable[[], Meter | None] | None = None):
        self.component = COMPONENT_OF_PART[part]
        self._soc = soc
        self._part = part
        self._fallback_factory = fallback_factory
        channels = ", ".join(soc.binding.channels()[part])
        self.method = f"measured: {soc.binding.source} ({channels})"
        self._last: tuple[float, float] | None = None
        self._power_w = 0.0

    def read(self, now: float, load: LoadSample) -> float:
        total_j = self._soc.joules(self._part, now)
        if self._last is not None and now > self._last[0]:
            self._power_w = max(total_j - self._last[1], 0.0) / (now - self._last[0])
        self._last = (now, total_j)
        return total_j

    def power_w(self) -> float:
        return self._power_w

    def process_fraction(self, load: LoadSample) -> float | None:
        """DRAM as the RAM model: shared by the process tree's resident memory; the others by
        CPU time (None)."""
        return load.rss_share if self._part == "dram" else None

    def fallback(self) -> Meter | None:
        return self._fallback_factory() if self._fallback_factory else None


class SocGpuMeter(SocPartMeter, GpuMeter):
    """The chip's GPU (``gpu:0``): read at once like the other parts (nothing to settle), no
    utilisation or process contexts to refresh."""

    settles = False
    refreshes = False

    def __init__(self, soc: SocEnergy, chip: str):
        super().__init__(soc, "gpu")
        self.info = GpuInfo(index=0, name=f"{chip or 'Apple silicon'} GPU", uuid=GPU_UUID, has_counter=True,
                            memory_total_gb=0.0)
