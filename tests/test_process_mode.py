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
# The location is given: without it the first tracker of a process resolves it on background
# threads (imports, HTTP), about 0.15 s of this process's CPU that process mode rightly counts
# as ours, and that made a sleeping window's share of a stranger-loaded machine reach 11 %.
MEASURED = {"powercap_root": "/nonexistent", "force_cpu_power": 100.0, "force_ram_power": 10.0,
            "force_carbon_intensity_g_co2e_kwh": 400.0, "country_iso_code": "FRA",
            "save_to_file": False, "measure_power_secs": 0.1}


def track(work) -> tuple[float, float, float, float]:
    """One window measured side by side: CPU energy in process mode and in machine mode, the
    CPU seconds the process tree used in it and the window's wall seconds."""
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
    data = process.final_emissions_data
    return data.cpu_energy, machine.final_emissions_data.cpu_energy, tree_cpu_s, data.duration


def machine_cpus() -> int:
    """The CPUs whose busy time /proc/stat counts (the denominator of the tree's share)."""
    with open("/proc/stat") as stat:
        return sum(1 for line in stat if line.startswith("cpu") and line[3].isdigit())


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
        process, machine, _, _ = track(lambda: time.sleep(1.0))
    finally:
        os.kill(stranger, signal.SIGKILL)
    assert machine > 0
    assert process < machine * 0.1


def test_our_children_are_ours():
    """Holds whatever else the machine runs (checked with two busy loops on 2 cores): the
    child burns 1 s of its own CPU time, and the bounds below hold for any load."""
    def run_child():
        subprocess.run([sys.executable, "-c", BURN_CPU.format(seconds=1.0)], check=True)

    with_child, machine, child_cpu_s, window_s = track(run_child)
    _, _, idle_cpu_s, _ = track(lambda: time.sleep(1.0))
    # The child's CPU second counts as the tree's; a sleeping tree uses next to none.
    assert child_cpu_s > 0.8
    assert idle_cpu_s < 0.3
    # The tree's share of the machine's CPU energy is its CPU seconds over the machine's busy
    # seconds, which are at most CPUs x window, however busy other processes keep the machine
    # (margin: the machine-mode window opens and closes a few ms around the process one).
    lowest_share = child_cpu_s / (machine_cpus() * window_s)
    assert machine * lowest_share * 0.8 <= with_child <= machine


def test_process_ram_is_a_share_of_the_machine_ram():
    tracker = EmissionsTracker(tracking_mode="process", **MEASURED)
    tracker.start()
    time.sleep(1.3)
    tracker.stop()
    data = tracker.final_emissions_data
    machine_ram_kwh = 10.0 * data.duration / 3.6e6
    assert 0 < data.ram_energy < machine_ram_kwh * 0.5
    assert data.tracking_mode == "process"
