"""Cost of outputs on the caller's thread, with the CodeCarbon API output aimed at a local
server that answers after 2 s, against no outputs, measured in the same run (rounds alternate).

Target (issue 7): the per-cell overhead of ``%%carbon`` (tracked cell minus the same cell
untracked, in a real InteractiveShell) with the API output stays within 10 % of the overhead
with no outputs. Also shown: the bare tracker start+stop(wait=False) pair the magic runs
(where the output's enqueueing is the largest share), every output at once (CSV, API,
endpoint, logger, custom), and how long the bounded exit flush takes with the API's
backlog still queued.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import statistics
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from tempfile import TemporaryDirectory

from common import median_us, row

SLOW_ANSWER_S = 2.0
MEASURED = {"powercap_root": "/nonexistent", "force_cpu_power": 40.0, "force_ram_power": 10.0,
            "force_carbon_intensity_g_co2e_kwh": 500.0, "save_to_file": False, "log_level": "error"}


def serve_slowly(port_queue) -> None:
    """An API on 127.0.0.1 that answers every request after SLOW_ANSWER_S (own process)."""

    class Slow(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(SLOW_ANSWER_S)
            body = json.dumps({"id": "bench-run"}).encode()
            self.send_response(201)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


def pair_times(tracker, pairs: int) -> list[float]:
    samples = []
    for _ in range(pairs):
        t0 = time.perf_counter()
        tracker.start()
        tracker.stop(wait=False)
        samples.append(time.perf_counter() - t0)
    return samples


def cell_overheads(url: str, rounds: int, cells: int) -> tuple[float, float]:
    """Median added time (us) of a quiet ``%%carbon`` cell over the same cell untracked, with
    no outputs and with the API output (switched by %config between alternating rounds)."""
    from magic_overhead import CELL, run_timed, shell_with_extension

    shell = shell_with_extension()
    for line in ("save_to_file = False", f"api_endpoint = {url!r}", "experiment_id = 'bench'"):
        shell.run_line_magic("config", f"CarbonMagic.{line}")
    forms = {"untracked": CELL, "tracked": f"%%carbon --quiet\n{CELL}"}
    added: dict[bool, list[float]] = {False: [], True: []}
    for index in range(rounds + 2):  # two warm-up rounds, one of each
        api = index % 2 == 1
        shell.run_line_magic("config", f"CarbonMagic.save_to_api = {api}")
        times = {name: [] for name in forms}
        for _ in range(cells):
            for name, code in forms.items():
                times[name].append(run_timed(shell, code)[0])  # wall-clock seconds
        if index >= 2:
            added[api].append(median_us(times["tracked"]) - median_us(times["untracked"]))
    shell.run_line_magic("config", "CarbonMagic.save_to_api = False")
    return statistics.median(added[False]), statistics.median(added[True])


def main(rounds: int = 40, pairs: int = 250) -> dict:
    os.chdir(tempfile.mkdtemp(prefix="carbon_bench_"))  # .codecarbon.config of the caller's folder ignored
    context = multiprocessing.get_context("spawn")
    port_queue = context.Queue()
    server = context.Process(target=serve_slowly, args=(port_queue,), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{port_queue.get(timeout=30)}"

    from carbon_magic import EmissionsTracker
    from carbon_magic.core.problems import problems
    from carbon_magic.outputs import BaseOutput, LoggerOutput
    from carbon_magic.core.lanes import EXIT_WAIT_S
    from carbon_magic.runtime import current_runtime

    class Custom(BaseOutput):
        def out(self, total, delta):
            self.last = total

    quiet = logging.getLogger("bench.outputs")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    with TemporaryDirectory() as folder:
        api = {"save_to_api": True, "api_endpoint": url, "experiment_id": "bench"}
        trackers = {
            "none": EmissionsTracker(**MEASURED),
            "api": EmissionsTracker(**api, **MEASURED),
            "all": EmissionsTracker(**{**MEASURED, **api, "save_to_file": True, "output_dir": folder,
                                       "emissions_endpoint": url + "/totals", "save_to_logger": True,
                                       "logging_logger": LoggerOutput(quiet), "output_handlers": [Custom()]}),
        }
        for tracker in trackers.values():
            pair_times(tracker, 50)  # warm-up: threads started, caches filled
        samples: dict[str, list[float]] = {name: [] for name in trackers}
        round_medians: dict[str, list[float]] = {name: [] for name in trackers}
        for index in range(rounds):  # the target pair, alternating, next to each other
            for name in ("none", "api") if index % 2 == 0 else ("api", "none"):
                block = pair_times(trackers[name], pairs)
                samples[name].extend(block)
                round_medians[name].append(statistics.median(block))
        # Every output afterwards (its CSV, logger and custom work would spill into the next block).
        samples["all"] = pair_times(trackers["all"], rounds * pairs // 2)
        cell_none_us, cell_api_us = cell_overheads(url, rounds=20, cells=200)
        t0 = time.perf_counter()
        flushed = current_runtime().lanes.flush_at_exit(EXIT_WAIT_S)
        exit_s = time.perf_counter() - t0
    server.terminate()

    medians = {name: median_us(values) for name, values in samples.items()}
    # Paired: each round's API block against the no-output block run next to it (same load).
    ratio = statistics.median(a / b for a, b in zip(round_medians["api"], round_medians["none"]))
    cell_ratio = cell_api_us / cell_none_us
    print(f"Outputs on the caller's thread (API answering after {SLOW_ANSWER_S:.0f} s)")
    row("%%carbon --quiet, added per cell: no outputs", f"{cell_none_us:.0f} us", "-", True)
    row("%%carbon --quiet, added per cell: API output", f"{cell_api_us:.0f} us", "-", True)
    row("per-cell overhead, API output / no outputs", f"{cell_ratio:.3f}", "<= 1.10", cell_ratio <= 1.10)
    print(f"  the tracker start+stop(wait=False) pair alone, {rounds} alternating rounds x {pairs} pairs:")
    row("  no outputs: median pair", f"{medians['none']:.1f} us", "-", True)
    row("  API output: median pair", f"{medians['api']:.1f} us", "-", True)
    row("  API output / no outputs (median of per-round ratios)", f"{ratio:.3f}", "-", True)
    row("every output (csv, api, endpoint, logger, custom): median", f"{medians['all']:.1f} us", "-", True)
    p99 = {name: statistics.quantiles(values, n=100)[98] * 1e6 for name, values in samples.items()}
    row("p99 pair: none / api / every output", f"{p99['none']:.0f}/{p99['api']:.0f}/{p99['all']:.0f} us", "-", True)
    bound_s = EXIT_WAIT_S * 1.5
    row("exit flush with the API backlog queued", f"{exit_s:.2f} s", f"<= {bound_s:.1f} s", exit_s <= bound_s + 0.5)
    dropped = sum(p.count for p in problems.all() if p.error_type == "BacklogDropped")
    print(f"  (backlog: {dropped} queued API calls dropped by the lane bound, counted; exit flush complete: {flushed})")
    return {"cell_none_us": cell_none_us, "cell_api_us": cell_api_us, "cell_ratio": cell_ratio,
            "none_us": medians["none"], "api_us": medians["api"], "all_us": medians["all"], "ratio": ratio,
            "exit_s": exit_s}


if __name__ == "__main__":
    main()
