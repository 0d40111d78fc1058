"""Window accuracy on a fake RAPL tree with a known power profile, at measure_power_secs=15.

A writer process advances the counters every 1 ms (as RAPL does) from a square-wave profile;
the truth of a window is the profile's integral between the tracker's own boundary times.
Targets: within 0.5 % for 200 ms, 2 s and 20 s windows; within one counter update's worth of
energy for a 20 ms window (sampled tools at a 15 s interval miss such windows entirely).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import row

from carbon_magic.core.config import resolve_config
from carbon_magic.core.tracker import Tracker
from carbon_magic.runtime import current_runtime
from tests.fakes.powercap import RaplWriter, make_tree
from tests.fakes.profiles import Square

UPDATE_S = 0.001


def measure(tracker: Tracker, window_s: float, profile: Square) -> tuple[float, float]:
    tracker.start()
    start = tracker._run.start
    time.sleep(window_s)
    tracker.stop()
    end_t = start.t_mono + tracker.final_emissions_data.duration
    measured_j = tracker.final_emissions_data.cpu_energy * 3.6e6
    return measured_j, profile.energy_j(start.t_mono, end_t)


def main(long_windows: bool = True) -> dict:
    print("Accuracy on a fake RAPL tree (counter updates every 1 ms), measure_power_secs=15")
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        domains = make_tree(Path(folder))
        profile = Square(high_w=95.0, low_w=25.0, half_period_s=0.37, origin=time.monotonic())
        with RaplWriter({"p": (domains["package-0"], profile)}, update_s=UPDATE_S):
            config = resolve_config({
                "powercap_root": folder, "measure_power_secs": 15, "save_to_file": False,
                "offline": True, "force_carbon_intensity_g_co2e_kwh": 400.0,
            })
            runtime = current_runtime()
            tracker = Tracker(config, samplers=runtime.samplers, location=runtime.location)
            plan = [(0.02, 30), (0.2, 15), (2.0, 5)] + ([(20.0, 2)] if long_windows else [])
            for window_s, repeats in plan:
                errors_j, relative = [], []
                for _ in range(repeats):
                    measured, truth = measure(tracker, window_s, profile)
                    errors_j.append(abs(measured - truth))
                    relative.append(abs(measured - truth) / truth)
                median_rel = statistics.median(relative)
                results[window_s] = {"median_rel": median_rel, "max_rel": max(relative), "median_j": statistics.median(errors_j)}
                label = f"{window_s * 1000:.0f} ms window" if window_s < 1 else f"{window_s:.0f} s window"
                if window_s < 0.1:
                    one_update_j = profile.high_w * UPDATE_S
                    median_j = statistics.median(errors_j)
                    row(f"{label}: median |error| ({repeats} windows)", f"{median_j * 1000:.1f} mJ", f"<= {one_update_j * 1000:.0f} mJ", median_j <= one_update_j)
                else:
                    row(f"{label}: median |error| ({repeats} windows, max {max(relative) * 100:.3f} %)", f"{median_rel * 100:.3f} %", "<= 0.5 %", median_rel <= 0.005)
    return results


if __name__ == "__main__":
    main(long_windows="--quick" not in sys.argv)
