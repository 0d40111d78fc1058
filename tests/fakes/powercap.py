"""A fake Linux powercap tree whose RAPL counters a separate process advances.

The writer runs in its own process (no GIL shared with the code under test) and rewrites
each ``energy_uj`` atomically every ``update_s`` from a known power profile, wrapping at
``max_energy_range_uj`` as real RAPL does. ``profile.energy_j(t0, t1)`` is the truth.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path
from typing import Any


def make_tree(
    root: Path,
    packages: int = 1,
    dram: bool = False,
    psys: bool = False,
    max_range_uj: int = 262_143_328_850,
    start_uj: int = 0,
) -> dict[str, Path]:
    """Create the folders the kernel would, as /sys/class/powercap does (flat entries)."""
    domains: dict[str, Path] = {}

    def domain(folder: str, name: str) -> None:
        path = root / folder
        path.mkdir(parents=True, exist_ok=True)
        (path / "name").write_text(name + "\n")
        (path / "max_energy_range_uj").write_text(f"{max_range_uj}\n")
        (path / "energy_uj").write_text(f"{start_uj:020d}\n")
        domains[name if name != "package" else folder] = path

    (root / "intel-rapl").mkdir(parents=True, exist_ok=True)
    for socket in range(packages):
        domain(f"intel-rapl:{socket}", f"package-{socket}")
        domain(f"intel-rapl:{socket}:0", "core")
        domain(f"intel-rapl:{socket}:1", "uncore")
        if dram:
            domain(f"intel-rapl:{socket}:2", "dram")
    if psys:
        domain(f"intel-rapl:{packages}", "psys")
    return domains


def _writer(files: dict[str, tuple[str, int, Any]], update_s: float, stop: Any, ready: Any) -> None:
    """Advance each counter from its profile on a fixed time grid, as RAPL's ~1 kHz updates.

    Each value is written in place, zero-padded to a fixed width, with one ``pwrite``: a
    reader sees the old value or the new one, never a mix, and never an empty file.
    """
    t_start = time.monotonic()
    handles = {}
    for name, (path, max_range, profile) in files.items():
        offset = int(Path(path).read_text())
        fd = os.open(path, os.O_WRONLY)
        handles[name] = (fd, offset, max_range, profile)
    ready.set()
    tick = 0
    while not stop.is_set():
        tick += 1
        t_grid = t_start + tick * update_s
        delay = t_grid - time.monotonic()
        if delay > 0.0002:
            time.sleep(delay - 0.0002)
        while time.monotonic() < t_grid:
            pass
        for fd, offset, max_range, profile in handles.values():
            energy_uj = offset + int(profile.energy_j(t_start, t_grid) * 1e6)
            os.pwrite(fd, b"%020d\n" % (energy_uj % (max_range + 1)), 0)
    for fd, *_ in handles.values():
        os.close(fd)


class RaplWriter:
    """Context manager running the writer process for some domains of a tree."""

    def __init__(self, domains: dict[str, tuple[Path, Any]], update_s: float = 0.001):
        self._files = {}
        for name, (path, profile) in domains.items():
            max_range = int((path / "max_energy_range_uj").read_text())
            self._files[name] = (str(path / "energy_uj"), max_range, profile)
        self._update_s = update_s
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._ready = context.Event()
        self._process = context.Process(
            target=_writer, args=(self._files, update_s, self._stop, self._ready), daemon=True
        )

    def __enter__(self) -> "RaplWriter":
        self._process.start()
        if not self._ready.wait(30):
            raise RuntimeError("the fake RAPL writer did not start")
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._process.join(5)
        if self._process.is_alive():
            self._process.kill()
