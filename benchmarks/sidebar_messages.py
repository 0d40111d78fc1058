"""The sidebar's comm traffic over a long-lived kernel: how often, and how big.

A real python3 kernel (offline) loads carbon_magic with ``%carbon on`` and one sidebar comm
attached (played by tests/sidebar_client.py, as the labextension does). For SECONDS it runs a
mix of cells: hundreds of instant ones with long first lines, cells that fail, and 3 s busy
cells (live figures), so that every bounded list in the state fills up and the sparkline
reaches its full length. Targets: at most one message a second on the comm (the shortest
gap between two messages by the kernel's clock, and the average rate), every message under
5,000 bytes, and no growth between the first and the last minute (baseline: the same run's
first minute).

    python benchmarks/sidebar_messages.py [seconds]      (default 150)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

from common import OFFLINE_ENV, REPO, row

sys.path.insert(0, str(REPO))
from tests.sidebar_client import SidebarClient  # noqa: E402

SECONDS = 150.0
MAX_BYTES = 5_000
LONG_LINE = "value_with_a_rather_long_name_{i} = [x ** 2 for x in range(10)]  # " + "comment " * 20
BUSY = "import time\n_t0 = time.time()\nwhile time.time() - _t0 < 3:\n    sum(range(10_000))"


def main(seconds: float = SECONDS) -> dict:
    from jupyter_client.manager import start_new_kernel

    os.environ.update(OFFLINE_ENV)
    manager, client = start_new_kernel(kernel_name="python3", cwd=tempfile.mkdtemp(prefix="carbon_sidebar_"))
    sidebar = SidebarClient(client)
    try:
        sidebar.output("%load_ext carbon_magic\n%carbon on --quiet")
        comm_id = sidebar.open_comm()
        sidebar.wait_comm(comm_id)
        started = time.monotonic()
        cells = 0
        while time.monotonic() - started < seconds:
            kind = cells % 50
            if kind == 0:
                sidebar.execute(BUSY)
            elif kind == 1:
                sidebar.execute("raise ValueError('a failing cell')")
            else:
                sidebar.execute(LONG_LINE.format(i=cells))
            cells += 1
        sidebar.wait_quiet(2.0)
        messages = sidebar.comm_messages(comm_id)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)

    elapsed = messages[-1].at - messages[0].at
    sent_at = [m.data["kernel"]["time"] for m in messages]  # the kernel's clock when it made each one
    gaps = [later - earlier for earlier, later in zip(sent_at, sent_at[1:])]
    received_gaps = [later.at - earlier.at for earlier, later in zip(messages, messages[1:])]
    sizes = [m.size_bytes for m in messages]
    first = [m.size_bytes for m in messages if m.at - messages[0].at < 60]
    last = [m.size_bytes for m in messages if messages[-1].at - m.at < 60]
    final = messages[-1].data["kernel"]
    figures = {
        "cells": cells, "messages": len(messages), "seconds": elapsed,
        "rate_per_s": (len(messages) - 1) / elapsed, "min_gap_s": min(gaps), "min_received_gap_s": min(received_gaps),
        "max_bytes": max(sizes), "first_minute_max_bytes": max(first), "last_minute_max_bytes": max(last),
        "spark_points": len(final["spark"]["power_w"]), "cells_listed": len(final["cells"]),
    }
    print(f"  {cells} cells in {elapsed:.0f} s with %carbon on; one sidebar comm; "
          f"{len(messages)} messages; final state lists {figures['cells_listed']} cells, "
          f"{figures['spark_points']} sparkline points")
    row("messages per second on the comm (average)", f"{figures['rate_per_s']:.3f}", "<= 1", figures["rate_per_s"] <= 1.0)
    row("shortest gap between two messages, kernel clock (s)", f"{figures['min_gap_s']:.3f}", ">= 0.99",
        figures["min_gap_s"] >= 0.99)
    print(f"  (as received by the busy client, IOPub jitter included: shortest gap {figures['min_received_gap_s']:.3f} s)")
    row("largest message (bytes of JSON)", f"{figures['max_bytes']}", f"< {MAX_BYTES}", figures["max_bytes"] < MAX_BYTES)
    growth = figures["last_minute_max_bytes"] / figures["first_minute_max_bytes"]
    row("largest message, last minute / first minute", f"{growth:.2f}x", "bounded", figures["last_minute_max_bytes"] < MAX_BYTES)
    return figures


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else SECONDS)
