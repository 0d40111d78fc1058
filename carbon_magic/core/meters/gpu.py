"""What every GPU meter is, whatever the vendor: its ``GpuInfo`` and the ``GpuMeter`` type.

The sampler and trackers know GPUs by this type (``isinstance(meter, GpuMeter)``), never by
the component's name. Also ``select_gpus``: which GPUs a tracker counts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Sequence

from .base import Meter


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    uuid: str
    has_counter: bool
    memory_total_gb: float

    @property
    def component(self) -> str:
        return f"gpu:{self.index}"


class GpuMeter(Meter):
    """One GPU (ledger component ``gpu:<index>``): its energy settles after the fact (slow
    counters), its utilisation and the process tree's contexts are slow figures to refresh."""

    settles = True
    refreshes = True
    info: GpuInfo


def select_gpus(
    gpu_ids: Sequence[int | str] | None, gpus: Sequence[GpuInfo], environ: Mapping[str, str] | None = None
) -> tuple[list[GpuInfo], str]:
    """The GPUs a tracker counts: ``gpu_ids``, else ``CUDA_VISIBLE_DEVICES``, else all.

    Integers are NVML indexes; text is a prefix of a GPU's UUID (``GPU-...``, ``MIG-...``).
    Returns the chosen GPUs and where the choice came from; an id that matches no GPU is a
    ValueError listing the GPUs there are.
    """
    if environ is None:
        environ = os.environ
    source = "gpu_ids"
    if gpu_ids is None:
        visible = environ.get("CUDA_VISIBLE_DEVICES")
        if visible is None:
            return list(gpus), "all GPUs"
        gpu_ids = [int(x) if x.strip().isdigit() else x.strip() for x in visible.split(",") if x.strip()]
        source = "CUDA_VISIBLE_DEVICES"
    chosen: list[GpuInfo] = []
    for wanted in gpu_ids:
        if isinstance(wanted, int):
            match = [g for g in gpus if g.index == wanted]
        else:
            match = [g for g in gpus if g.uuid.lower().startswith(wanted.lower())]
        if not match:
            available = "; ".join(f"{g.index} ({g.uuid}, {g.name})" for g in gpus) or "none"
            raise ValueError(f"{source}: no GPU matches {wanted!r}. GPUs here: {available}.")
        chosen.extend(g for g in match if g not in chosen)
    return chosen, source
