"""The live panel's cost in a real kernel: CPU time at 1 Hz, and the size of its update messages.

A real ipykernel is started as JupyterLab starts one (``JPY_SESSION_NAME`` set); this script
plays the front end: it answers the panel's widget probe, as a widget manager does, and reads
every IOPub message. Offline, in a temporary folder.

1. CPU: cells that sleep ``CELL_S`` seconds under ``%%carbon`` (panel at 1 Hz) and under
   ``%%carbon --no-panel``, interleaved, same run. The kernel's CPU time (user + system, from
   psutil) over each cell; the panel's cost is the difference, as a share of one core.
   Target: <= 1 % of one core.
2. Size: one long cell with updates every 0.1 s (``LONG_UPDATES`` updates: as many as a cell
   of that many seconds at 1 Hz). Every widget update message (``comm_msg``), by when it came.
   Target: each < 5 KB, however long the cell runs (the chart's series is decimated).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time

from common import OFFLINE_ENV, row

CELL_S = 12.0
PAIRS = 3
LONG_UPDATES = 600
UPDATE_LIMIT_BYTES = 5_000
CPU_TARGET_PERCENT = 1.0


class FrontEnd:
    """A kernel client that answers the widget probe and collects IOPub messages."""

    def __init__(self, workdir: str):
        import psutil
        from jupyter_client.manager import start_new_kernel

        os.environ.update(OFFLINE_ENV)
        os.environ["JPY_SESSION_NAME"] = os.path.join(workdir, "panel_cost.ipynb")
        self.manager, self.client = start_new_kernel(kernel_name="python3", cwd=workdir)
        self.kernel = psutil.Process(self.manager.provisioner.process.pid)

    def cpu_s(self) -> float:
        times = self.kernel.cpu_times()
        return times.user + times.system

    def execute(self, code: str) -> tuple[list[dict], float, float]:
        """Run ``code``; (IOPub messages until idle, wall seconds, kernel CPU seconds)."""
        cpu, wall = self.cpu_s(), time.perf_counter()
        msg_id = self.client.execute(code)
        messages = []
        while True:
            message = self.client.get_iopub_msg(timeout=600)
            message["received_at"] = time.perf_counter() - wall
            messages.append(message)
            if (message["msg_type"] == "status" and message["content"]["execution_state"] == "idle"
                    and message["parent_header"].get("msg_id") == msg_id):
                return messages, time.perf_counter() - wall, self.cpu_s() - cpu

    def answer_probe(self, messages: list[dict], deadline_s: float = 120.0) -> None:
        """Wait for the probe widget (the kernel opens it while idle after loading) and answer it."""
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            for message in messages:
                state = message["content"].get("data", {}).get("state", {}) if message["msg_type"] == "comm_open" else {}
                if state.get("_anywidget_id", "").endswith("FrontEndProbe"):
                    content = {"comm_id": message["content"]["comm_id"],
                               "data": {"method": "custom", "content": {"event": "front-end", "theme": "light"}}}
                    self.client.session.send(self.client.shell_channel.socket, "comm_msg", content)
                    return
            messages.append(self.client.get_iopub_msg(timeout=deadline_s))
        raise RuntimeError("the panel's probe widget never came")

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def update_sizes(messages: list[dict]) -> list[tuple[float, int]]:
    """(seconds into the cell, bytes of content) of every widget update message."""
    return [(m["received_at"], len(json.dumps(m["content"]))) for m in messages if m["msg_type"] == "comm_msg"]


def main(cell_s: float = CELL_S, pairs: int = PAIRS, long_updates: int = LONG_UPDATES) -> dict:
    front_end = FrontEnd(tempfile.mkdtemp(prefix="carbon_panel_bench_"))
    try:
        loading, _, _ = front_end.execute("%load_ext carbon_magic")
        front_end.answer_probe(loading)
        status, _, _ = front_end.execute("%carbon status")
        text = " ".join(m["content"].get("data", {}).get("text/plain", "") for m in status)
        if "front end renders them" not in text:
            raise RuntimeError(f"the kernel does not use widgets:\n{text}")
        front_end.execute("%%carbon --quiet\nimport time; time.sleep(1.5)")  # warm: the first panel's set-up

        cost = {"panel": [], "no panel": []}
        updates = []
        for _ in range(pairs):
            for name, option in (("no panel", "--no-panel"), ("panel", "")):
                messages, wall, cpu = front_end.execute(f"%%carbon {option}\ntime.sleep({cell_s})")
                cost[name].append(cpu / wall)
                if name == "panel":
                    updates.append(len(update_sizes(messages)))
        base = statistics.median(cost["no panel"]) * 100
        with_panel = statistics.median(cost["panel"]) * 100
        added = with_panel - base
        print(f"Live panel, real kernel; {pairs} pairs of {cell_s:.0f} s sleeping cells, interleaved")
        row("kernel CPU without the panel (--no-panel), % of one core", f"{base:.3f} %", "-", True)
        row("kernel CPU with the panel at 1 Hz, % of one core", f"{with_panel:.3f} %", "-", True)
        row(f"widget update messages per panel cell (median of {pairs})", f"{statistics.median(updates):.0f}", "-", True)
        row("added by the panel at 1 Hz, % of one core", f"{added:.3f} %", f"<= {CPU_TARGET_PERCENT:g} %",
            added <= CPU_TARGET_PERCENT)

        seconds = long_updates * 0.1
        messages, _, _ = front_end.execute(f"%%carbon --panel-update-secs 0.1\ntime.sleep({seconds})")
        sizes = update_sizes(messages)
        panel_updates = sum(1 for m in messages if m["msg_type"] == "comm_msg" and "value" in m["content"]["data"].get("state", {}))
        early = max((size for at, size in sizes if at < seconds * 0.1), default=0)
        late = max((size for at, size in sizes if at > seconds * 0.9), default=0)
        largest = max(size for _, size in sizes)
        print(f"One {seconds:.0f} s cell updated every 0.1 s: {panel_updates} panel updates, as many as a "
              f"{panel_updates} s cell gets at 1 Hz ({len(sizes)} widget messages: numbers and chart)")
        row("largest update message, first 10 % of the cell", f"{early} B", "-", True)
        row("largest update message, last 10 % of the cell", f"{late} B", "-", True)
        row("largest update message of the cell", f"{largest} B", f"< {UPDATE_LIMIT_BYTES} B",
            largest < UPDATE_LIMIT_BYTES)
        return {"base_percent": base, "panel_percent": with_panel, "added_percent": added,
                "largest_update_bytes": largest, "early_bytes": early, "late_bytes": late, "updates": panel_updates}
    finally:
        front_end.close()


if __name__ == "__main__":
    result = main(*(float(a) for a in sys.argv[1:2]))
    sys.exit(0 if result["added_percent"] <= CPU_TARGET_PERCENT and result["largest_update_bytes"] < UPDATE_LIMIT_BYTES
             else 1)
