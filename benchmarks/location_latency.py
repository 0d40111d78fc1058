"""Online location costs a tracker nothing: endpoints that answer after 5 s vs at once.

Two sets of local HTTP servers on 127.0.0.1, in a child process (so their own work does not
compete for this process's GIL), stand in for IP geolocation, the three cloud metadata
endpoints and Electricity Maps (token set): one answers at once, the other after 5 s (with a
10 s timeout, so requests really wait). In the same run, interleaved:

- cold: a fresh location service (as in a new kernel), then creating a tracker (which starts
  the background resolution) and running a tracked window (start, a little work, stop);
  rounds are 50 ms apart so that each one's background work is over before the next; an
  offline tracker (no background work at all) is timed alongside for reference;
- warm: start+stop pairs (each builds a record) of a tracker whose location is resolved
  (fast endpoints) and of one whose location is still pending (slow), in alternating chunks;
- current(): the location service's read on a cell's path.

Trackers stop with ``stop(wait=False)``, as a cell's do: a script's ``stop()`` waits for a
location still pending on purpose (at most ``location_timeout_secs`` + 0.5 s).

Target: slow / fast <= 1.1 for cold and warm (medians).
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import tempfile
import time

from common import median_us, row

from carbon_magic.core.config import resolve_config
from carbon_magic.core.tracker import Tracker
from carbon_magic.core.sampler import SamplerRegistry
from carbon_magic.runtime import reset_runtime
from tests.servers import LocalServer, Reply

DELAY_S = 5.0
ROUND_GAP_S = 0.05
GEOJS = {"country_code3": "FRA", "region": "Ile-de-France", "latitude": "48.85", "longitude": "2.35"}
EM = {"zone": "FR", "carbonIntensity": 50, "datetime": "2025-03-01T10:00:00.000Z"}
ROUTES = {
    ("GET", "/geo"): Reply(body=GEOJS),
    ("GET", "/em"): Reply(body=EM),
    ("PUT", "/latest/api/token"): Reply(404),
    ("GET", "/latest/dynamic/instance-identity/document"): Reply(404),
    ("GET", "/metadata/instance/compute"): Reply(404),
    ("GET", "/computeMetadata/v1/instance/zone"): Reply(404),
}


def serve(connection) -> None:
    """Child process: run the fast and the slow servers until told to stop."""
    servers = [LocalServer({route: Reply(r.status, r.body, r.headers, delay_s) for route, r in ROUTES.items()})
               for delay_s in (0.0, DELAY_S)]
    connection.send([s.url for s in servers])
    connection.recv()
    for running in servers:
        running.close()


def config_for(url: str, offline: bool = False):
    return resolve_config({
        "geolocation_endpoint": url + "/geo", "cloud_metadata_url": url, "electricitymaps_endpoint": url + "/em",
        "electricitymaps_api_token": None if offline else "benchmark", "location_timeout_secs": 2 * DELAY_S,
        "offline": offline,
        "save_to_file": False, "powercap_root": "/nonexistent", "force_cpu_power": 40.0, "force_ram_power": 10.0,
    })


def work() -> int:
    return sum(range(2000))


def cold(config, samplers: SamplerRegistry) -> float:
    """Seconds to create a tracker on a fresh location service (the sampler made already) and
    run one tracked window."""
    location = reset_runtime().location
    t0 = time.perf_counter()
    tracker = Tracker(config, samplers=samplers, location=location)
    tracker.start()
    work()
    tracker.stop(wait=False)
    return time.perf_counter() - t0


def pairs_of(tracker, pairs: int) -> list[float]:
    """Seconds per start+stop pair (each builds a record, reading the location service)."""
    samples = []
    for _ in range(pairs):
        t0 = time.perf_counter()
        tracker.start()
        tracker.stop(wait=False)
        samples.append(time.perf_counter() - t0)
    return samples


def main(rounds: int = 60, chunks: int = 40, pairs: int = 50) -> dict:
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="carbon_magic-bench-")  # no disk cache hit
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(target=serve, args=(child,), daemon=True)
    process.start()
    fast_url, slow_url = parent.recv()
    samplers = SamplerRegistry()  # one sampler for every round, whatever the runtime's location
    try:
        fast, slow = config_for(fast_url), config_for(slow_url)
        offline = config_for(fast_url, offline=True)
        Tracker(offline, samplers=samplers, location=reset_runtime().location)  # creates the sampler
        location = reset_runtime().location
        trackers = {"fast": Tracker(fast, samplers=samplers, location=location),
                    "slow": Tracker(slow, samplers=samplers, location=location)}
        time.sleep(0.3)  # the fast location is resolved, the slow one waits for its answers
        warm_s = {"fast": [], "slow": []}
        for _ in range(chunks):
            for name in ("slow", "fast"):
                warm_s[name] += pairs_of(trackers[name], pairs)
        slow_pending = location.current(slow)[0].country_iso_code is None
        fast_resolved = location.current(fast)[0].country_iso_code == "FRA"
        configs = {"fast": fast, "slow": slow, "offline": offline}
        cold_s = {name: [] for name in configs}
        for i in range(rounds):
            for name in (("fast", "slow", "offline") if i % 2 else ("offline", "slow", "fast")):
                cold_s[name].append(cold(configs[name], samplers))
                time.sleep(ROUND_GAP_S)
        location = reset_runtime().location
        location.start_background_resolution(slow)
        current_s = []
        for _ in range(20000):
            t0 = time.perf_counter()
            location.current(slow)
            current_s.append(time.perf_counter() - t0)
        reset_runtime()
    finally:
        samplers.close()
        parent.send("stop")
        process.join(5)

    cold_fast, cold_slow = median_us(cold_s["fast"]), median_us(cold_s["slow"])
    warm_fast, warm_slow = median_us(warm_s["fast"]), median_us(warm_s["slow"])
    cold_ratio, warm_ratio = cold_slow / cold_fast, warm_slow / warm_fast
    print(f"Location latency: endpoints answering at once vs after {DELAY_S:g} s (same run)")
    row(f"cold: new tracker + window, fast endpoints (median of {rounds})", f"{cold_fast:.0f} us", "-", True)
    row(f"cold: new tracker + window, slow endpoints (median of {rounds})", f"{cold_slow:.0f} us", "-", True)
    row("cold ratio slow / fast", f"{cold_ratio:.3f}", "<= 1.1", cold_ratio <= 1.1)
    row(f"cold: offline tracker + window, no background (median of {rounds})",
        f"{median_us(cold_s['offline']):.0f} us", "-", True)
    row("cold p90 fast / slow", f"{statistics.quantiles(cold_s['fast'], n=10)[-1] * 1e6:.0f} / "
        f"{statistics.quantiles(cold_s['slow'], n=10)[-1] * 1e6:.0f} us", "-", True)
    row(f"warm: start+stop pair, location resolved (median of {chunks * pairs})", f"{warm_fast:.1f} us", "-", True)
    row(f"warm: start+stop pair, location pending (median of {chunks * pairs})", f"{warm_slow:.1f} us", "-", True)
    row("warm ratio pending / resolved", f"{warm_ratio:.3f}", "<= 1.1", warm_ratio <= 1.1)
    row("during the warm pairs: fast resolved, slow pending", f"{fast_resolved}, {slow_pending}", "True, True",
        fast_resolved and slow_pending)
    row("location.current() while pending (median of 20000)", f"{median_us(current_s):.2f} us", "-", True)
    return {"cold_fast_us": cold_fast, "cold_slow_us": cold_slow, "cold_ratio": cold_ratio,
            "warm_fast_us": warm_fast, "warm_slow_us": warm_slow, "warm_ratio": warm_ratio}


if __name__ == "__main__":
    main()
