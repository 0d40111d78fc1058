"""What every GPU meter is, whatever the vendor: its ``GpuInfo`` and the ``GpuMeter`` type.

The sampler and trackers know GPUs by this type (``isinstance(meter, GpuMeter)``), never by
the component's name. Also ``select_gpus``: which GPUs a tracker counts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from .base import Meter


@dataclass(frozen=True)
class GpuInfo:
    """One GPU. ``index`` numbers the ledger component (``gpu:<index>``) across vendors;
    ``vendor_index`` is its place in its own library's list (NVML's, amdsmi's), which the
    vendor's ``*_VISIBLE_DEVICES`` variables count in (the same as ``index`` where one vendor's
    GPUs come first or alone)."""

    index: int
    name: str
    uuid: str
    has_counter: bool
    memory_total_gb: float
    vendor: str = "NVIDIA"
    vendor_index: int | None = None

    @property
    def component(self) -> str:
        return f"gpu:{self.index}"


class GpuLibraryUnavailable(Exception):
    """A vendor's GPU library cannot be used (not installed, no driver, no GPU); the message
    says which. ``installed``: whether the library itself is there (then its failure is worth
    saying even where another vendor's GPUs are measured)."""

    def __init__(self, message: str, installed: bool = True):
        super().__init__(message)
        self.installed = installed


class GpuMeter(Meter):
    """One GPU (ledger component ``gpu:<index>``): its energy settles after the fact (slow
    counters; a meter whose counter is fast says it does not), its utilisation and the process
    tree's use of it are slow figures to refresh."""

    settles = True
    refreshes = True
    info: GpuInfo


# The environment variables that hide a vendor's GPUs from its runtime, in the order the runtime
# applies them. Each stage lists alternatives (the first one set counts): its entries are
# positions in the list the previous stage left (all of the vendor's GPUs at first) or UUID
# prefixes. ROCm applies ROCR_VISIBLE_DEVICES, then HIP_VISIBLE_DEVICES (or, when that is
# unset, CUDA_VISIBLE_DEVICES, which HIP honours) within what ROCr left.
VISIBLE_DEVICES: Mapping[str, tuple[tuple[str, ...], ...]] = {
    "NVIDIA": (("CUDA_VISIBLE_DEVICES",),),
    "AMD": (("ROCR_VISIBLE_DEVICES",), ("HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES")),
}


def _ids(text: str) -> list[int | str]:
    return [int(x) if x.strip().isdigit() else x.strip() for x in text.split(",") if x.strip()]


def _uuid_matches(gpu: GpuInfo, wanted: str) -> bool:
    """A prefix of the GPU's UUID; ``GPU-`` in front is optional for UUIDs without it (AMD's)."""
    uuid, wanted = gpu.uuid.lower(), wanted.lower()
    return uuid.startswith(wanted) or (not uuid.startswith("gpu-") and uuid.startswith(wanted.removeprefix("gpu-")))


def _pick(wanted_ids: Sequence[int | str], gpus: Sequence[GpuInfo], number: Callable[[int, GpuInfo], int],
          source: str) -> list[GpuInfo]:
    """The GPUs ``wanted_ids`` names among ``gpus`` (integers: ``number(position, gpu)``)."""
    chosen: list[GpuInfo] = []
    for wanted in wanted_ids:
        if isinstance(wanted, int):
            match = [g for position, g in enumerate(gpus) if number(position, g) == wanted]
        else:
            match = [g for g in gpus if _uuid_matches(g, wanted)]
        if not match:
            available = "; ".join(f"{number(p, g)} ({g.uuid}, {g.name})" for p, g in enumerate(gpus)) or "none"
            raise ValueError(f"{source}: no GPU matches {wanted!r}. GPUs here: {available}.")
        chosen.extend(g for g in match if g not in chosen)
    return chosen


def select_gpus(
    gpu_ids: Sequence[int | str] | None, gpus: Sequence[GpuInfo], environ: Mapping[str, str] | None = None
) -> tuple[list[GpuInfo], str]:
    """The GPUs a tracker counts: ``gpu_ids``, else each vendor's visible-devices variables
    (``VISIBLE_DEVICES``), else all.

    In ``gpu_ids`` integers are the components' indexes (``gpu:<index>``); text is a prefix of
    a GPU's UUID (``GPU-...``, ``MIG-...``, AMD's). Returns the chosen GPUs and where the choice
    came from; an id that matches no GPU is a ValueError listing the GPUs there are.
    """
    if gpu_ids is not None:
        return _pick(gpu_ids, gpus, lambda _position, gpu: gpu.index, "gpu_ids"), "gpu_ids"
    if environ is None:
        environ = os.environ
    chosen: list[GpuInfo] = []
    sources: list[str] = []
    for vendor, stages in VISIBLE_DEVICES.items():
        visible = [g for g in gpus if g.vendor == vendor]
        for names in stages:
            name = next((n for n in names if n in environ), None)
            if name is not None and visible:
                visible = _pick(_ids(environ[name]), visible, lambda position, _gpu: position, name)
                sources.append(name)
        chosen += visible
    chosen += [g for g in gpus if g.vendor not in VISIBLE_DEVICES]
    return chosen, ", ".join(dict.fromkeys(sources)) or "all GPUs"
