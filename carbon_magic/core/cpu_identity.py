"""Which CPU this is, read the way each OS tells it; nothing else.

- Linux: ``/proc/cpuinfo``'s "model name"; on ARM, which has none, its "CPU implementer" and
  "CPU part" ids named by the packaged table ``carbon_magic/data/arm_cpu_parts.csv`` (sources in
  ``data/SOURCES.md``); sockets from its "physical id" lines.
- macOS: ``sysctl machdep.cpu.brand_string`` ("Apple M2 Pro", "Intel(R) Core(TM) i9-9880H ..."),
  and on Apple silicon the performance and efficiency core counts
  (``hw.perflevel0.physicalcpu``, ``hw.perflevel1.physicalcpu``).
- Windows: the registry's ``HARDWARE\\DESCRIPTION\\System\\CentralProcessor\\0``
  ``ProcessorNameString``, else ``platform.processor()``.

An architecture ("x86_64", "arm", "i386") is never taken for a model: a CPU that no reader
names is "" (unknown), and says where it was looked for.
"""

from __future__ import annotations

import csv
import functools
import importlib
import platform
import re
import sys
from dataclasses import dataclass

from .package_data import data_text

ARM_PARTS_FILE = "arm_cpu_parts.csv"
CPUINFO_PATH = "/proc/cpuinfo"
WINDOWS_CPU_KEY = r"HARDWARE\DESCRIPTION\System\CentralProcessor\0"
MACOS_KEYS = ("machdep.cpu.brand_string", "hw.perflevel0.physicalcpu", "hw.perflevel1.physicalcpu")
SYSCTL_TIMEOUT_S = 30.0  # answers at once on a Mac; discovery runs off the cell thread anyway


@dataclass(frozen=True)
class CpuIdentity:
    """``model`` the CPU's name ("" if unknown), ``source`` where it was read (or looked for);
    ``performance_cores``/``efficiency_cores`` are 0 where the OS does not tell them apart;
    ``physical_cores`` is 0 where the reader does not count them (psutil does)."""

    model: str
    source: str
    sockets: int = 1
    performance_cores: int = 0
    efficiency_cores: int = 0
    physical_cores: int = 0

    @property
    def description(self) -> str:
        """E.g. "Apple M2 Pro, 8 performance + 4 efficiency cores (sysctl machdep.cpu.brand_string)"."""
        cores = (f", {self.performance_cores} performance + {self.efficiency_cores} efficiency cores"
                 if self.performance_cores else "")
        return f"{self.model or 'model unknown'}{cores} ({self.source})"


def read_cpu_identity() -> CpuIdentity:
    """This machine's CPU, by the reader of the OS it runs on."""
    if sys.platform == "win32":
        return _windows()
    if sys.platform == "darwin":
        return _macos()
    return _linux()


def _linux() -> CpuIdentity:
    try:
        with open(CPUINFO_PATH, encoding="utf-8", errors="replace") as handle:
            cpuinfo = handle.read()
    except OSError as error:
        return CpuIdentity("", f"{CPUINFO_PATH} unreadable: {error.strerror or error}")
    # Each processor's block says its "physical id" (socket) and "core id" (core in that socket);
    # ARM's says neither, and then psutil counts the cores (from sysfs).
    processors = [dict(re.findall(r"^(physical id|core id)\s*:\s*(\d+)$", block, re.MULTILINE))
                  for block in cpuinfo.split("\n\n")]
    cores = {(ids["physical id"], ids["core id"]) for ids in processors if len(ids) == 2}
    counted = {"sockets": max(len({ids["physical id"] for ids in processors if "physical id" in ids}), 1),
               "physical_cores": len(cores)}
    name = _cpuinfo_field(cpuinfo, "model name")
    if name:
        return CpuIdentity(name, f"{CPUINFO_PATH} model name", **counted)
    implementer, part = _cpuinfo_field(cpuinfo, "CPU implementer"), _cpuinfo_field(cpuinfo, "CPU part")
    if not (implementer and part):
        return CpuIdentity("", f"{CPUINFO_PATH} names no model", **counted)
    ids = f"{CPUINFO_PATH} CPU implementer {implementer} part {part}"
    name = arm_part_name(implementer, part)
    return CpuIdentity(name, ids if name else f"{ids}: not in {ARM_PARTS_FILE}", **counted)


def _cpuinfo_field(cpuinfo: str, field: str) -> str:
    match = re.search(rf"^{field}\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    return match.group(1).strip() if match else ""


def arm_part_name(implementer: str, part: str) -> str:
    """The core's name for /proc/cpuinfo's ids ("0x41", "0xd0c"); "" if the table lacks them."""
    try:
        key = (int(implementer, 16), int(part, 16))
    except ValueError:
        return ""
    return _arm_parts().get(key, "")


@functools.lru_cache(maxsize=1)
def _arm_parts() -> dict[tuple[int, int], str]:
    text = data_text(ARM_PARTS_FILE)
    return {(int(row["implementer"], 16), int(row["part"], 16)): row["name"] for row in csv.DictReader(text.splitlines())}


def _macos() -> CpuIdentity:
    import subprocess

    source = f"sysctl {MACOS_KEYS[0]}"
    try:  # an unknown key (perflevels on an Intel Mac) is reported on stderr; the others still print
        output = subprocess.run(["sysctl", *MACOS_KEYS], capture_output=True, text=True,
                                timeout=SYSCTL_TIMEOUT_S, check=False).stdout
    except (OSError, subprocess.SubprocessError) as error:
        return CpuIdentity("", f"{source} failed: {error}")
    values = dict(line.partition(":")[::2] for line in output.splitlines())
    values = {key.strip(): value.strip() for key, value in values.items()}

    def count(key: str) -> int:
        return int(values[key]) if values.get(key, "").isdigit() else 0

    return CpuIdentity(values.get(MACOS_KEYS[0], ""), source,
                       performance_cores=count(MACOS_KEYS[1]), efficiency_cores=count(MACOS_KEYS[2]))


def _windows() -> CpuIdentity:
    try:
        winreg = importlib.import_module("winreg")
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, WINDOWS_CPU_KEY) as key:
            name = str(winreg.QueryValueEx(key, "ProcessorNameString")[0]).strip()
    except (ImportError, OSError):
        name = ""
    if name:
        return CpuIdentity(name, "registry ProcessorNameString")
    return CpuIdentity(platform.processor().strip(), "platform.processor() (registry unreadable)")
