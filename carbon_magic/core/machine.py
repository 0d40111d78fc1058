"""Static facts about this machine: CPU model, counts, sockets, memory, OS. Read once, cached."""

from __future__ import annotations

import functools
import os
import platform
from dataclasses import dataclass

from .cpu_identity import CpuIdentity, read_cpu_identity


@dataclass(frozen=True)
class MachineFacts:
    cpu_model: str
    cpu_count: int
    cpu_physical_count: int
    cpu_sockets: int
    cpu_architecture: str
    ram_total_bytes: int
    os: str
    python_version: str
    cpu_identity: CpuIdentity | None = None  # where the model was read, core kinds (None: given, not read)

    @property
    def ram_total_gb(self) -> float:
        return self.ram_total_bytes / 1e9

    @property
    def is_arm(self) -> bool:
        return self.cpu_architecture.lower() in ("arm64", "aarch64") or self.cpu_architecture.lower().startswith("arm")


@functools.lru_cache(maxsize=1)
def machine_facts() -> MachineFacts:
    import psutil

    cpu = read_cpu_identity()
    threads = os.cpu_count() or 1
    return MachineFacts(
        cpu_model=cpu.model,
        cpu_count=threads,
        cpu_physical_count=psutil.cpu_count(logical=False) or threads,
        cpu_sockets=cpu.sockets,
        cpu_architecture=platform.machine(),
        ram_total_bytes=psutil.virtual_memory().total,
        os=platform.platform(),
        python_version=platform.python_version(),
        cpu_identity=cpu,
    )
