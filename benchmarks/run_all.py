"""Run every benchmark and print its figures (`make bench`). Pass --quick for a short run."""

from __future__ import annotations

import sys

import accuracy_rapl
import location_latency
import memory
import sampler_cost
import telemetry_payload
import tracker_overhead


def main() -> None:
    quick = "--quick" in sys.argv
    tracker_overhead.main()
    print()
    memory.main()
    print()
    accuracy_rapl.main(long_windows=not quick)
    print()
    sampler_cost.main(10.0 if quick else 60.0)
    print()
    location_latency.main()
    print()
    telemetry_payload.main()


if __name__ == "__main__":
    main()
