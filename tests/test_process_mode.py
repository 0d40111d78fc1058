"""tracking_mode='process': this process and its children, not the rest of the machine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from carbon_magic import EmissionsTracker

BURN = "import time\nend = time.time() + {seconds}\nwhile time.time() < end: pass\n"
# Burns a fixed amount of its own CPU time, however long a busy machine takes to give it that.
BURN_CPU = "import time\nwhile time.process_time() < {seconds}: pass\n"
MEASURED = {"powercap_root": "/nonexistent", "force_cpu_power": 100.0, "force_ram_power": 10.0,
            "force_carbon_intensity_g_co2e_kwh": 400.0, "save_to_file": False, "measure_power_secs": 0.1}


def track(work) -> tuple[float, float, float]:
    """One window measured side by side: CPU energy in process mode and in machine mode, and
    the CPU seconds the process tree used in it."""
    process = EmissionsTracker(tracking_mode="process", **MEASURED)
    machine = EmissionsTracker(tracking_mode="machine", **MEASURED)
    machine.start()
    process.start()
    first = process.sampler.read(refresh_tree=True)
    work()
    last = process.sampler.read(refresh_tree=True)
    process.stop()
    machine.stop()
    tree_cpu_s = last.process_cpu_s - first.process_cpu_s
    return process.final_emissions_data.cpu_energy, machine.final_emissions_data.cpu_energy, tree_cpu_s


def start_stranger(seconds: float) -> int:
    """A CPU burner that is not our descendant (double fork: its parent exits at once)."""
    code = BURN.format(seconds=seconds).replace("\n", "; ").replace("; while", "\nwhile")
    launcher = subprocess.run(
        ["sh", "-c", f'{sys.executable} -c "{code}" >/dev/null 2>&1 & echo $!'],
        capture_output=True, text=True, check=True,
    )
    return int(launcher.stdout.strip())


def test_a_stranger_burning_cpu_is_not_ours():
    stranger = start_stranger(3)
    try:
        time.sleep(0.3)
        process, machine, _ = track(lambda: time.sleep(1.0))
    finally:
        os.kill(stranger, signal.SIGKILL)
    assert machine > 0
    assert process < machine * 0.1


def test_our_children_are_ours():
    def run_child():
        subprocess.run([sys.executable, "-c", BURN_CPU.format(seconds=1.0)], check=True)

    with_child, machine, child_cpu_s = track(run_child)
    without_child, _, idle_cpu_s = track(lambda: time.sleep(1.0))
    # The child used 1 s of CPU inside the window (on a busy machine, over a longer window):
    # its CPU seconds count as the tree's.
    assert child_cpu_s > 0.8
    assert idle_cpu_s < 0.3
    # Energy follows: on an idle machine the sleeping tree still gets a share of the idle power
    # (its sampler is most of the machine's little busy time), so only the order is certain.
    assert without_child < with_child <= machine


def test_process_ram_is_a_share_of_the_machine_ram():
    tracker = EmissionsTracker(tracking_mode="process", **MEASURED)
    tracker.start()
    time.sleep(1.3)
    tracker.stop()
    data = tracker.final_emissions_data
    machine_ram_kwh = 10.0 * data.duration / 3.6e6
    assert 0 < data.ram_energy < machine_ram_kwh * 0.5
    assert data.tracking_mode == "process"
