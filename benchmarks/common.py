"""Small helpers shared by the benchmark scripts (plain scripts, figures not pass/fail)."""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


# Every benchmark's kernel or shell: no network (a fixed country), no RAPL, no telemetry question.
OFFLINE_ENV = {
    "CODECARBON_OFFLINE": "true",
    "CODECARBON_COUNTRY_ISO_CODE": "FRA",
    "CODECARBON_POWERCAP_ROOT": "/nonexistent",
    "CODECARBON_TELEMETRY": "disabled",
}


def byte_compile_package() -> None:
    """Write carbon_magic's bytecode caches, as pip does when it installs a package: this
    environment sets PYTHONDONTWRITEBYTECODE, so fresh processes of a checkout would otherwise
    time the compiler (CodeCarbon's environment, installed by pip, has its caches)."""
    import compileall

    compileall.compile_dir(str(REPO / "carbon_magic"), quiet=1)


def rss_mb() -> float:
    """Resident memory of this process in MB (from /proc; psutil elsewhere)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:
        import psutil

        return psutil.Process().memory_info().rss / 1e6


def median_us(samples_s: list[float]) -> float:
    return statistics.median(samples_s) * 1e6


def process_cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


def row(name: str, value: str, target: str, ok: bool) -> None:
    print(f"  {name:<58} {value:>16}   target {target:<14} {verdict(ok)}")


def timed(fn, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return samples
