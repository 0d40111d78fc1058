"""Static facts about this machine: CPU model, counts, sockets, memory, OS. Read once, cached."""

from __future__ import annotations

import functools
import os
import platform
import sys
from dataclasses import dataclass

from .cpu_identity import CpuIdentity, read_cpu_identity
from .load import memory_bytes


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
    cpu = read_cpu_identity()
    threads = os.cpu_count() or 1
    return MachineFacts(
        cpu_model=cpu.model,
        cpu_count=threads,
        cpu_physical_count=cpu.physical_cores or _psutil_physical_cores() or threads,
        cpu_sockets=cpu.sockets,
        cpu_architecture=platform.machine(),
        ram_total_bytes=memory_bytes()[0],
        os=os_description(),
        python_version=platform.python_version(),
        cpu_identity=cpu,
    )


def _psutil_physical_cores() -> int | None:
    import psutil

    return psutil.cpu_count(logical=False)


# What platform.platform() replaces in its parts (it makes a file name of them).
_FILE_NAME_OBSTACLES = str.maketrans({" ": "_", "/": "-", "\\": "-", ":": "-", ";": "-", '"': "-", "(": "-", ")": "-"})


def os_description() -> str:
    """``platform.platform()`` (CodeCarbon's "os" column: "Linux-6.8.0-45-generic-x86_64-with-glibc2.39").

    On Linux it is made here, because ``platform.platform()`` starts a ``uname -p`` subprocess
    (a fork and an exec, ~8 ms) for a processor name that it then drops: Linux's ``uname``
    answers "unknown", or repeats the machine ("x86_64").
    """
    if not sys.platform.startswith("linux"):
        return platform.platform()
    uname = os.uname()
    libc, version = platform.libc_ver()
    joined = "-".join(part.strip() for part in (uname.sysname, uname.release, uname.machine, "with", libc + version)
                      if part)
    cleaned = joined.translate(_FILE_NAME_OBSTACLES).replace("unknown", "")
    while "--" in cleaned:
        cleaned = cleaned.replace("--", "-")
    return cleaned.rstrip("-")
