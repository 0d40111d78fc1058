"""Memory: 100,000 tracker windows, and a simulated 24 h of 1 Hz sampling. Target: < 10 MB RSS growth."""

from __future__ import annotations

import gc

from common import rss_mb, row

from carbon_magic.core.config import resolve_config
from carbon_magic.core.machine import machine_facts
from carbon_magic.core.meters import HardwareSpec, discover
from carbon_magic.core.sampler import Sampler
from carbon_magic.core.tracker import Tracker
from carbon_magic.runtime import current_runtime


class SimulatedClock:
    """Monotonic seconds that advance by one 'second' per call: a day in 86,400 reads."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def windows(count: int) -> float:
    config = resolve_config({"save_to_file": False, "offline": True, "force_carbon_intensity_g_co2e_kwh": 400.0})
    runtime = current_runtime()
    tracker = Tracker(config, samplers=runtime.samplers, location=runtime.location)
    for _ in range(1000):  # warm-up: caches, allocator pools
        tracker.start()
        tracker.stop()
    gc.collect()
    before = rss_mb()
    for _ in range(count):
        tracker.start()
        tracker.stop()
    gc.collect()
    return rss_mb() - before


def simulated_day() -> float:
    spec = HardwareSpec(powercap_root="/nonexistent")
    clock = SimulatedClock()
    sampler = Sampler(discover(spec, machine_facts(), clock.now), machine_facts(), clock=clock)
    for _ in range(1000):
        sampler.read(tick=True)
    gc.collect()
    before = rss_mb()
    for _ in range(86_400):
        sampler.read(tick=True)
    gc.collect()
    return rss_mb() - before


def main() -> dict:
    print("Memory growth")
    grown_windows = windows(100_000)
    row("100,000 tracker windows opened and closed", f"{grown_windows:.2f} MB", "< 10 MB", grown_windows < 10)
    grown_day = simulated_day()
    row("simulated 24 h of 1 Hz sampling (86,400 full reads)", f"{grown_day:.2f} MB", "< 10 MB", grown_day < 10)
    return {"windows_mb": grown_windows, "day_mb": grown_day}


if __name__ == "__main__":
    main()
