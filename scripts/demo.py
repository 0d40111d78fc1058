"""A small CPU workload measured by carbon_magic's tracker, offline. Run by `make demo`."""

from __future__ import annotations

import time
from pathlib import Path

from carbon_magic import OfflineEmissionsTracker

OUTPUT = Path("demo-output")


def busy(seconds: float) -> int:
    """Pure-Python work for about ``seconds``."""
    deadline = time.perf_counter() + seconds
    count = 0
    while time.perf_counter() < deadline:
        count += sum(i * i for i in range(1000))
    return count


def main() -> None:
    OUTPUT.mkdir(exist_ok=True)
    tracker = OfflineEmissionsTracker(project_name="demo", country_iso_code="FRA", output_dir=str(OUTPUT))
    parts = []
    with tracker:
        for name, seconds in (("short", 0.2), ("medium", 1.0), ("long", 2.0)):
            tracker.start_task(name)
            busy(seconds)
            parts.append((name, tracker.stop_task(name)))
    parts.append(("total", tracker.final_emissions_data))
    print(f"{'part':<8} {'seconds':>8} {'Wh':>10} {'g CO2':>10}")
    for name, data in parts:
        print(f"{name:<8} {data.duration:8.2f} {data.energy_consumed * 1000:10.4f} {data.emissions * 1000:10.4f}")
    print(f"intensity {data.intensity_g_per_kwh:.1f} g/kWh ({data.intensity_source})")
    print(f"CSV: {OUTPUT / 'emissions.csv'}")


if __name__ == "__main__":
    main()
