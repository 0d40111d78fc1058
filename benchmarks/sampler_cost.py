"""Sampler CPU cost while idle: CPU seconds of the process / wall seconds, with and without it.

Each configuration runs in a fresh subprocess that sleeps for the measured period, so
nothing else in the process uses CPU. Targets: <= 0.05 % of one core at 1 Hz, <= 0.5 % at 10 Hz.
"""

from __future__ import annotations

import json
import subprocess
import sys

from common import REPO, row

CHILD = r"""
import json, sys, time
sys.path.insert(0, {repo!r})
from carbon_magic.runtime import current_runtime
interval, seconds = {interval!r}, {seconds!r}
lease = None
if interval:
    sampler = current_runtime().samplers.get()
    lease = sampler.request_interval(interval)
    time.sleep(1.0)  # let it settle into its rhythm
cpu0 = time.process_time(); wall0 = time.monotonic()  # ns clock (os.times() ticks at 10 ms)
time.sleep(seconds)
cpu1 = time.process_time(); wall1 = time.monotonic()
print(json.dumps({{"cpu_s": cpu1 - cpu0, "wall_s": wall1 - wall0, "ticks": sampler.ticks if interval else 0}}))
"""


def measure(interval: float | None, seconds: float) -> dict:
    code = CHILD.format(repo=str(REPO), interval=interval, seconds=seconds)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(seconds: float = 60.0) -> dict:
    print(f"Sampler CPU cost while idle ({seconds:.0f} s per configuration)")
    baseline = measure(None, seconds)
    base_pct = baseline["cpu_s"] / baseline["wall_s"] * 100
    results = {"baseline_pct": base_pct}
    for hz, target_pct in ((1, 0.05), (10, 0.5)):
        result = measure(1.0 / hz, seconds)
        pct = result["cpu_s"] / result["wall_s"] * 100
        overhead = pct - base_pct
        results[f"{hz}hz_pct"] = overhead
        row(f"sampler at {hz} Hz ({result['ticks']} ticks), % of one core", f"{overhead:.4f} %", f"<= {target_pct} %", overhead <= target_pct)
    print(f"  (process without sampler: {base_pct:.4f} % of one core)")
    return results


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 60.0)
