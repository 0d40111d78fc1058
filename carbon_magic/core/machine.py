"""Static facts about this machine: CPU model, counts, sockets, memory, OS. Read once, cached."""

from __future__ import annotations

import functools
import os
import platform
import re
from dataclasses import dataclass


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

    @property
    def ram_total_gb(self) -> float:
        return self.ram_total_bytes / 1e9

    @property
    def is_arm(self) -> bool:
        return self.cpu_architecture.lower() in ("arm64", "aarch64") or self.cpu_architecture.lower().startswith("arm")


def _cpuinfo() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


def _cpu_model(cpuinfo: str) -> str:
    match = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    if match:
        return match.group(1).strip()
    return platform.processor() or ""


def _sockets(cpuinfo: str) -> int:
    ids = set(re.findall(r"^physical id\s*:\s*(\d+)$", cpuinfo, re.MULTILINE))
    return max(len(ids), 1)


@functools.lru_cache(maxsize=1)
def machine_facts() -> MachineFacts:
    import psutil

    cpuinfo = _cpuinfo()
    threads = os.cpu_count() or 1
    return MachineFacts(
        cpu_model=_cpu_model(cpuinfo),
        cpu_count=threads,
        cpu_physical_count=psutil.cpu_count(logical=False) or threads,
        cpu_sockets=_sockets(cpuinfo),
        cpu_architecture=platform.machine(),
        ram_total_bytes=psutil.virtual_memory().total,
        os=platform.platform(),
        python_version=platform.python_version(),
    )
