"""Per-cell cost of tracking through a real kernel, as a notebook user pays it.

A python3 kernel (ipykernel, started by jupyter_client) runs trivial cells (``x = 1``); each
cell is timed from the client's execute_request to the kernel's idle status for it, so the
time includes everything a front end waits for: the kernel's own handling, the summary's
display message, its serialisation and the trip over ZeroMQ. Forms, each a block of cells
per round, rounds interleaved (the forms rotate), so that every form sees the same load:

- untracked (the extension loaded, ``%carbon off``): the baseline of the same run;
- ``%carbon on --quiet`` and ``%carbon on`` (every cell tracked; the second shows a summary);
- ``%%carbon --quiet`` and ``%%carbon`` on the cell.

Reported: the median time per cell of each form, and each tracked form's median minus the
untracked median (the time added per cell), with the spread of that difference over rounds.
Targets (issue 16): ``%carbon on --quiet`` adds <= 0.5 ms; the summary (``%carbon on`` minus
``%carbon on --quiet``) adds <= 0.5 ms more.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from common import REPO, row

CELL = "x = 1"
# form -> (the cell that sets the mode before the block, the cell timed)
FORMS = {
    "untracked": ("%carbon off", CELL),
    "%carbon on --quiet": ("%carbon on --quiet", CELL),
    "%carbon on": ("%carbon on", CELL),
    "%%carbon --quiet": ("%carbon off", f"%%carbon --quiet\n{CELL}"),
    "%%carbon": ("%carbon off", f"%%carbon\n{CELL}"),
}
TARGET_US = 500.0


def start_kernel(workdir: str):
    from jupyter_client.manager import start_new_kernel

    env = dict(os.environ, CODECARBON_COUNTRY_ISO_CODE="FRA", PYTHONPATH=str(REPO))
    env.pop("JPY_SESSION_NAME", None)  # as nbclient and jupyter_client run it: static summaries
    return start_new_kernel(kernel_name="python3", cwd=workdir, env=env)


def run_cell(client, code: str) -> float:
    """Seconds from sending ``code`` to the kernel's idle status for it (its outputs read)."""
    t0 = time.perf_counter()
    message_id = client.execute(code, store_history=True)
    while True:
        message = client.get_iopub_msg(timeout=60)
        if (message["parent_header"].get("msg_id") == message_id and message["msg_type"] == "status"
                and message["content"]["execution_state"] == "idle"):
            break
    elapsed = time.perf_counter() - t0
    client.get_shell_msg(timeout=60)  # its execute_reply
    return elapsed


def main(cells: int = 300, rounds: int = 4, warmup: int = 50) -> dict:
    workdir = tempfile.mkdtemp(prefix="carbon_kernel_bench_")
    manager, client = start_kernel(workdir)
    try:
        run_cell(client, "%load_ext carbon_magic")
        samples: dict[str, list[list[float]]] = {name: [] for name in FORMS}
        names = list(FORMS)
        for name in names:  # warm-up: imports, the first trackers, the output worker
            setup, code = FORMS[name]
            run_cell(client, setup)
            for _ in range(warmup):
                run_cell(client, code)
        for index in range(rounds):
            order = names[index % len(names):] + names[:index % len(names)]
            for name in order:
                setup, code = FORMS[name]
                run_cell(client, setup)
                samples[name].append([run_cell(client, code) for _ in range(cells)])
        run_cell(client, "%carbon off")
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return report(samples, cells, rounds)


def report(samples: dict[str, list[list[float]]], cells: int, rounds: int) -> dict:
    median_us = {name: statistics.median(t for block in blocks for t in block) * 1e6 for name, blocks in samples.items()}
    round_us = {name: [statistics.median(block) * 1e6 for block in blocks] for name, blocks in samples.items()}
    base = median_us["untracked"]
    added = {name: median_us[name] - base for name in FORMS if name != "untracked"}
    spread = {name: [r - b for r, b in zip(round_us[name], round_us["untracked"])] for name in added}
    summary = median_us["%carbon on"] - median_us["%carbon on --quiet"]
    print(f"Through a real kernel: {cells} trivial cells ({CELL!r}) x {rounds} interleaved rounds per form, "
          "client round trip (execute_request to idle)")
    row("untracked cell, median round trip", f"{base:.0f} us", "-", True)
    for name, value in added.items():
        low, high = min(spread[name]), max(spread[name])
        target = "<= 500 us" if name == "%carbon on --quiet" else "-"
        row(f"{name}: added per cell (rounds {low:.0f}..{high:.0f})", f"{value:.0f} us", target,
            value <= TARGET_US or target == "-")
    row("the summary's own cost (%carbon on minus --quiet)", f"{summary:.0f} us", "<= 500 us", summary <= TARGET_US)
    return {"untracked_us": base, "added_us": added, "summary_us": summary, "rounds_added_us": spread}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cells", type=int, default=300, help="cells per form and round (default 300)")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds (default 4)")
    arguments = parser.parse_args()
    main(arguments.cells, arguments.rounds)
