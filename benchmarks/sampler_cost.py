"""Sampler CPU cost while idle: CPU seconds of the process / wall seconds, with and without it.

    python benchmarks/sampler_cost.py [SECONDS]                  # the targets (default 60 s each)
    python benchmarks/sampler_cost.py 10 --against ../main --rounds 4
                                             # interleaved A/B of this tree against another checkout

Each configuration runs in a fresh subprocess that sleeps for the measured period, so
nothing else in the process uses CPU. Besides the whole process's CPU, the sampler thread's own
CPU time is read from its thread clock (``time.pthread_getcpuclockid``): it is what the sampler
costs, whatever else the machine runs, so an A/B on a busy machine compares it per tick
(medians of ``--rounds`` runs per tree, the trees alternating).
Targets: <= 0.05 % of one core at 1 Hz, <= 0.5 % at 10 Hz.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from common import REPO, row

CHILD = r"""
import json, sys, threading, time
sys.path.insert(0, {repo!r})
from carbon_magic.runtime import current_runtime
interval, seconds = {interval!r}, {seconds!r}
thread_cpu, ticks = (lambda: 0.0), (lambda: 0)
if interval:
    sampler = current_runtime().samplers.get()
    lease = sampler.request_interval(interval)
    time.sleep(1.0)  # let it settle into its rhythm
    thread = next(t for t in threading.enumerate() if t.name == "carbon_magic-sampler")
    ticks = lambda: sampler.ticks
    thread_cpu = lambda: sampler.thread_cpu_s  # as of its last tick, where threads have no clock
    if hasattr(time, "pthread_getcpuclockid"):
        clock = time.pthread_getcpuclockid(thread.ident)
        thread_cpu = lambda: time.clock_gettime(clock)
cpu0, wall0, thread0, ticks0 = time.process_time(), time.monotonic(), thread_cpu(), ticks()  # ns clocks
time.sleep(seconds)
cpu1, wall1, thread1, ticks1 = time.process_time(), time.monotonic(), thread_cpu(), ticks()
print(json.dumps({{"cpu_s": cpu1 - cpu0, "wall_s": wall1 - wall0, "thread_cpu_s": thread1 - thread0, "ticks": ticks1 - ticks0}}))
"""
RATES_HZ = ((1, 0.05), (10, 0.5))


def measure(interval: float | None, seconds: float, repo: Path = REPO) -> dict:
    code = CHILD.format(repo=str(repo), interval=interval, seconds=seconds)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def per_tick_us(result: dict) -> float:
    return result["thread_cpu_s"] / max(result["ticks"], 1) * 1e6


def main(seconds: float = 60.0) -> dict:
    print(f"Sampler CPU cost while idle ({seconds:.0f} s per configuration)")
    baseline = measure(None, seconds)
    base_pct = baseline["cpu_s"] / baseline["wall_s"] * 100
    results = {"baseline_pct": base_pct}
    for hz, target_pct in RATES_HZ:
        result = measure(1.0 / hz, seconds)
        pct = result["cpu_s"] / result["wall_s"] * 100
        overhead = pct - base_pct
        results[f"{hz}hz_pct"] = overhead
        results[f"{hz}hz_thread_us_per_tick"] = per_tick_us(result)
        row(f"sampler at {hz} Hz ({result['ticks']} ticks), % of one core", f"{overhead:.4f} %", f"<= {target_pct} %", overhead <= target_pct)
        print(f"    its thread: {per_tick_us(result):.0f} µs of CPU per tick (wake-up included)")
    print(f"  (process without sampler: {base_pct:.4f} % of one core)")
    return results


def compare(seconds: float, against: Path, rounds: int) -> dict:
    """Interleaved A/B: the sampler thread's CPU per tick, this tree against ``against``."""
    trees = {"this tree": REPO, str(against): against.resolve()}
    print(f"Sampler thread CPU per tick, {rounds} rounds of {seconds:.0f} s per tree and rate, trees alternating")
    results = {}
    for hz, _ in RATES_HZ:
        runs: dict[str, list[float]] = {name: [] for name in trees}
        for index in range(rounds):
            for name, repo in (trees.items() if index % 2 == 0 else reversed(trees.items())):
                runs[name].append(per_tick_us(measure(1.0 / hz, seconds, repo)))
        medians = {name: statistics.median(values) for name, values in runs.items()}
        results[f"{hz}hz"] = medians
        for name, values in runs.items():
            print(f"  {hz:>2} Hz  {name:<24} {medians[name]:6.0f} µs per tick (runs {min(values):.0f} .. {max(values):.0f})")
        this, other = medians["this tree"], medians[str(against)]
        print(f"  {hz:>2} Hz  this tree / {against}: {this / other:.2f}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seconds", nargs="?", type=float, default=60.0, help="wall seconds measured per run")
    parser.add_argument("--against", type=Path, help="another checkout of carbon_magic: interleaved A/B per tick")
    parser.add_argument("--rounds", type=int, default=4, help="runs per tree and rate with --against")
    args = parser.parse_args()
    if args.against:
        compare(args.seconds, args.against, args.rounds)
    else:
        main(args.seconds)
