"""tracking_mode='process': this process and its children, not the rest of the machine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from carbon_magic import EmissionsTracker

BURN = "import time\nend = time.time() + {seconds}\nwhile time.time() < end: pass\n"
MEASURED = {"powercap_root": "/nonexistent", "force_cpu_power": 100.0, "force_ram_power": 10.0,
            "force_carbon_intensity_g_co2e_kwh": 400.0, "save_to_file": False, "measure_power_secs": 0.1}


def track(work) -> tuple[float, float]:
    """CPU energy of one window as (process mode, machine mode), measured side by side."""
    process = EmissionsTracker(tracking_mode="process", **MEASURED)
    machine = EmissionsTracker(tracking_mode="machine", **MEASURED)
    machine.start()
    process.start()
    work()
    process.stop()
    machine.stop()
    return process.final_emissions_data.cpu_energy, machine.final_emissions_data.cpu_energy


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
        process, machine = track(lambda: time.sleep(1.0))
    finally:
        os.kill(stranger, signal.SIGKILL)
    assert machine > 0
    assert process < machine * 0.1


def test_our_children_are_ours():
    def run_child():
        subprocess.run([sys.executable, "-c", BURN.format(seconds=1.0)], check=True)

    with_child, machine = track(run_child)
    without_child, _ = track(lambda: time.sleep(1.0))
    # The child kept one core busy for the whole window: its CPU time counts as ours, however
    # busy the rest of the machine is (other processes only lower our share of it).
    assert without_child * 5 < with_child <= machine


def test_process_ram_is_a_share_of_the_machine_ram():
    tracker = EmissionsTracker(tracking_mode="process", **MEASURED)
    tracker.start()
    time.sleep(1.3)
    tracker.stop()
    data = tracker.final_emissions_data
    machine_ram_kwh = 10.0 * data.duration / 3.6e6
    assert 0 < data.ram_energy < machine_ram_kwh * 0.5
    assert data.tracking_mode == "process"
