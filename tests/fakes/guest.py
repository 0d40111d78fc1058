"""A fake root tree with the files ``core.guest`` reads: cpuinfo flags, DMI, cgroup v2 limits."""

from __future__ import annotations

from pathlib import Path


def make_guest_tree(root: Path, *, hypervisor: bool = False, sys_vendor: str | None = None,
                    product_name: str | None = None, cpu_max: str | None = None,
                    memory_max: str | None = None) -> Path:
    """Write the files a kernel would (only those given; a bare tree is a physical machine)."""
    flags = "fpu vme de pse tsc msr pae mce sse sse2 ht syscall nx lm" + (" hypervisor" if hypervisor else "")
    (root / "proc").mkdir(parents=True, exist_ok=True)
    (root / "proc" / "cpuinfo").write_text(
        "".join(f"processor\t: {n}\nmodel name\t: AMD EPYC\nflags\t\t: {flags}\n\n" for n in range(2)))
    dmi = root / "sys" / "class" / "dmi" / "id"
    for name, value in (("sys_vendor", sys_vendor), ("product_name", product_name)):
        if value is not None:
            dmi.mkdir(parents=True, exist_ok=True)
            (dmi / name).write_text(value + "\n")
    cgroup = root / "sys" / "fs" / "cgroup"
    for name, value in (("cpu.max", cpu_max), ("memory.max", memory_max)):
        if value is not None:
            cgroup.mkdir(parents=True, exist_ok=True)
            (cgroup / name).write_text(value + "\n")
    return root
