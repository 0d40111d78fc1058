"""CodeCarbon's own power model for given machines, run with CodeCarbon's interpreter.

    python codecarbon_power_model.py MACHINES_JSON OUT_JSON

MACHINES_JSON: {"loads": [0.0, 0.1, ...], "machines": [{"cpu_model", "sockets", "threads",
"ram_gb"}, ...]}. OUT_JSON: {"tool_version", "watts": [[W per load] per machine],
"tdp_found": [bool per machine]}.

Each machine goes through CodeCarbon's own code for a machine without RAPL, with the
machine's facts in place of what CodeCarbon detects: the TDP is CodeCarbon's table match of
the CPU name (``TDP._get_cpu_power_from_registry``), else its 4 W per thread
(``DEFAULT_POWER_PER_CORE`` x threads, as ``TDP._main`` does), times the sockets (its
``cpu_physical_count``, as ``ResourceTracker.set_CPU_tracking`` does); the CPU power is
``CPU._get_power_from_cpu_load`` in machine tracking mode with the load level in place of
``SystemCPULoadMeter``'s reading; the RAM power is ``RAM._calculate_ram_power`` (x86).
"""

from __future__ import annotations

import json
import logging
import sys
from importlib import metadata


class FixedLoad:
    """Stands in for CodeCarbon's SystemCPULoadMeter: the machine CPU percent of the level."""

    def __init__(self, percent: float):
        self._percent = percent

    def percent(self) -> float:
        return self._percent


def main(machines_path: str, out_path: str) -> None:
    logging.disable(logging.WARNING)  # "we don't know your CPU" once per unknown model
    from codecarbon.core import cpu as cpu_module
    from codecarbon.external.hardware import CPU, MODE_CPU_LOAD
    from codecarbon.external.ram import RAM

    with open(machines_path, encoding="utf-8") as handle:
        spec = json.load(handle)
    registry = cpu_module.TDP.__new__(cpu_module.TDP)  # its lookup, without detecting this machine
    ram = RAM(tracking_mode="machine")
    ram.is_arm_cpu = False  # every SPEC server is x86
    watts, found = [], []
    for machine in spec["machines"]:
        tdp_w = registry._get_cpu_power_from_registry(machine["cpu_model"])
        found.append(tdp_w is not None)
        if tdp_w is None:
            tdp_w = machine["threads"] * cpu_module.DEFAULT_POWER_PER_CORE
        cpu = CPU(output_dir=".", mode=MODE_CPU_LOAD, model=machine["cpu_model"], tdp=tdp_w * machine["sockets"],
                  tracking_mode="machine")
        ram_w = ram._calculate_ram_power(machine["ram_gb"])
        row = []
        for load in spec["loads"]:
            cpu._cpu_load_meter = FixedLoad(load * 100)
            row.append(cpu._get_power_from_cpu_load().W + ram_w)
        watts.append(row)
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump({"tool_version": metadata.version("codecarbon"), "watts": watts, "tdp_found": found}, handle)


if __name__ == "__main__":
    main(*sys.argv[1:])
