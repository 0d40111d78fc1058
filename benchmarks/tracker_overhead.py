"""Cost of a tracker start+stop pair (no outputs), after the first; target median <= 100 us."""

from __future__ import annotations

import time

from common import median_us, row

from carbon_magic.core.config import resolve_config
from carbon_magic.core.tracker import Tracker
from carbon_magic.runtime import current_runtime


def main(pairs: int = 5000) -> dict:
    config = resolve_config({"save_to_file": False, "offline": True, "force_carbon_intensity_g_co2e_kwh": 400.0})
    runtime = current_runtime()
    tracker = Tracker(config, samplers=runtime.samplers, location=runtime.location)
    t0 = time.perf_counter()
    tracker.start()
    tracker.stop()
    first_s = time.perf_counter() - t0
    samples = []
    for _ in range(pairs):
        t0 = time.perf_counter()
        tracker.start()
        tracker.stop()
        samples.append(time.perf_counter() - t0)
    median = median_us(samples)
    print("Tracker start+stop pair")
    row("first pair (sampler already created)", f"{first_s * 1e6:.0f} us", "-", True)
    row(f"median of {pairs} pairs after the first", f"{median:.1f} us", "<= 100 us", median <= 100)
    return {"first_us": first_s * 1e6, "median_us": median}


if __name__ == "__main__":
    main()
