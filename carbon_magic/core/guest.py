"""Is this machine a guest (a virtual machine or a container), and what are its limits?

Read from files only, each below a ``root`` (``/`` on a real machine; a fake tree in tests):

- a virtual machine: the ``hypervisor`` CPU flag in ``proc/cpuinfo`` (set by every x86
  hypervisor), or a DMI vendor / product (``sys/class/dmi/id/sys_vendor``, ``product_name``)
  of a known hypervisor or cloud (ARM guests have no CPU flag);
- a container's limits: cgroup v2 ``sys/fs/cgroup/cpu.max`` (quota / period in vCPUs; ``max``
  is no limit) and ``memory.max`` (bytes; ``max`` is no limit).

Cloud metadata servers are not asked here (the location service knows the provider).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

# DMI vendor or product words of hypervisors and clouds (lower case, matched as substrings).
VM_DMI_WORDS = ("qemu", "kvm", "vmware", "virtualbox", "innotek", "xen", "virtual machine", "amazon ec2",
                "google compute engine", "openstack", "parallels", "bochs", "hvm domu", "cloud hypervisor")
BYTES_PER_GB = 1e9


@dataclass(frozen=True)
class GuestFacts:
    """What this machine says about being a guest.

    ``hypervisor``: True when the CPU flag says so; ``dmi``: the DMI vendor and product text
    ("" if unreadable); ``cpu_limit``: a container's CPU limit in vCPUs (None: no limit);
    ``memory_limit_gb``: its memory limit (None: no limit).
    """

    hypervisor: bool = False
    dmi: str = ""
    cpu_limit: float | None = None
    memory_limit_gb: float | None = None

    @property
    def virtual_machine(self) -> bool:
        return self.hypervisor or any(word in self.dmi.lower() for word in VM_DMI_WORDS)

    @property
    def is_guest(self) -> bool:
        return self.virtual_machine or self.cpu_limit is not None or self.memory_limit_gb is not None

    def describe(self) -> str:
        """In words, what made this machine a guest ("" if it is not one)."""
        parts = []
        if self.virtual_machine:
            signs = (["hypervisor CPU flag"] if self.hypervisor else []) + ([f"DMI '{self.dmi}'"] if self.dmi else [])
            parts.append(f"virtual machine ({', '.join(signs)})")
        if self.cpu_limit is not None:
            parts.append(f"container CPU limit {self.cpu_limit:g} vCPUs (cgroup cpu.max)")
        if self.memory_limit_gb is not None:
            parts.append(f"container memory limit {self.memory_limit_gb:.1f} GB (cgroup memory.max)")
        return "; ".join(parts)


def _read(root: str, *path: str) -> str:
    try:
        with open(os.path.join(root, *path), encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


def hypervisor_flag(root: str) -> bool:
    """True if ``proc/cpuinfo``'s ``flags`` hold ``hypervisor``."""
    return any("hypervisor" in line.split(":", 1)[1].split()
               for line in _read(root, "proc", "cpuinfo").splitlines()
               if re.match(r"flags\s*:", line))


def dmi_text(root: str) -> str:
    """The DMI system vendor and product name, joined by a space ("" if unreadable)."""
    parts = (_read(root, "sys", "class", "dmi", "id", name).strip() for name in ("sys_vendor", "product_name"))
    return " ".join(part for part in parts if part)


def cgroup_cpu_limit(root: str) -> float | None:
    """A cgroup v2 CPU limit in vCPUs (quota / period), None without one or if unreadable."""
    fields = _read(root, "sys", "fs", "cgroup", "cpu.max").split()
    if len(fields) != 2 or fields[0] == "max":
        return None
    try:
        quota, period = float(fields[0]), float(fields[1])
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def cgroup_memory_limit_gb(root: str) -> float | None:
    """A cgroup v2 memory limit in GB, None without one or if unreadable."""
    text = _read(root, "sys", "fs", "cgroup", "memory.max").strip()
    if not text.isdigit() or int(text) == 0:
        return None
    return int(text) / BYTES_PER_GB


def detect_guest(root: str = "/") -> GuestFacts:
    """This machine's guest facts, read below ``root``."""
    return GuestFacts(hypervisor=hypervisor_flag(root), dmi=dmi_text(root),
                      cpu_limit=cgroup_cpu_limit(root), memory_limit_gb=cgroup_memory_limit_gb(root))
